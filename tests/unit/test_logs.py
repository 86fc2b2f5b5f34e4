"""What the worker and the API write to their logs names no person's phone or email, even
when an SDK's error echoes the recipient."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from twilio.base.exceptions import TwilioRestException

from leadflow.logs import configure

PHONE, EMAIL = "+13125550142", "dana.demo@example.com"


@pytest.fixture
def logging_restored() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


def _send_fails() -> None:
    raise TwilioRestException(
        400,
        "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json",
        msg=f"Unable to create record: The 'To' number {PHONE} is not a valid phone number.",
        code=21211,
    )


@pytest.mark.parametrize("format", ["text", "json"])
def test_an_sdk_error_naming_the_recipient_is_logged_without_phone_or_email(
    format: str, capsys: pytest.CaptureFixture[str], logging_restored: None
) -> None:
    configure(format=format)
    log = logging.getLogger("leadflow.activities.send")
    try:
        try:
            _send_fails()
        except TwilioRestException as exc:
            raise RuntimeError(f"send to {EMAIL} failed: {exc}") from exc
    except RuntimeError:
        log.exception("text to %s (%s) failed", PHONE, EMAIL, stack_info=True)
    log.warning(f"bounce from {EMAIL.upper()} for +447911123456")
    written = capsys.readouterr().err
    assert "TwilioRestException: HTTP 400 error" in written  # the error is all there
    assert "is not a valid phone number" in written
    assert written.count("<phone>") >= 3 and written.count("<email>") >= 3
    for secret in (PHONE, PHONE.removeprefix("+"), EMAIL, EMAIL.upper(), "447911123456"):
        assert secret not in written, f"{secret} in the log"
    if format == "json":
        for line in written.splitlines():
            json.loads(line)  # still one JSON object a line
