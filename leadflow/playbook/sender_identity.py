"""Who is texting, as a playbook says it (`compliance.identity`): the business's name and
help contact, checked to fit a text, and its postal address for commercial email."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, SerializerFunctionWrapHandler, field_validator, model_serializer

from leadflow.models import Message
from leadflow.playbook.templates import GSM7_EXTENSION, sms_segments

IDENTITY_SEPTETS = 40  # each of an identity's name and contact, so a HELP reply fits a text
_CONTACT = re.compile(
    r"\+?[0-9][0-9 ().-]{5,}[0-9]"  # a phone number
    r"|[^@\s]+@[^@\s]+\.[^@\s]+"  # an email address
    r"|(https?://)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+(/\S*)?"  # a web address
)


class Identity(Message):
    """Who is texting, as carriers (CTIA) and Canada's CASL and Oregon's law want a lead
    told: the first text names the sender, and the HELP reply names the business and where
    to get help (`leadflow.playbook.identity`)."""

    name: str = Field(min_length=1)  # the business as its texts name it: "Acme Mortgage"
    contact: str = Field(min_length=1)  # where a lead gets help: a phone, email or web address
    # The business's valid physical postal address, on one line: every commercial email
    # carries it (CAN-SPAM, 15 U.S.C. 7704(a)(5)(A)(iii)), with the unsubscribe link.
    postal_address: str | None = Field(default=None, max_length=200)

    @field_validator("postal_address")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        value = " ".join(value.split()) if value is not None else None
        if value is not None and (len(value) < 10 or not any(ch.isdigit() for ch in value)):
            raise ValueError(
                f"{value!r} is not a postal address: write the street, city and postal code "
                "on one line (100 Main St, Springfield, IL 62701)"
            )
        return value

    @field_validator("name", "contact")
    @classmethod
    def _fits_a_text(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        if sms_segments(value)[1] != "GSM-7" or "\n" in value:
            raise ValueError(
                f"{value!r} has characters a plain text cannot carry; use letters, digits "
                "and common punctuation"
            )
        if len(value) + sum(ch in GSM7_EXTENSION for ch in value) > IDENTITY_SEPTETS:
            raise ValueError(
                f"at most {IDENTITY_SEPTETS} characters, so the HELP reply fits one text"
            )
        return value

    @field_validator("contact")
    @classmethod
    def _reachable(cls, value: str) -> str:
        if not _CONTACT.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a phone number (+1 312 555 0100), an email address "
                "(help@example.com) or a web address (example.com/help)"
            )
        return value

    @model_serializer(mode="wrap")
    def _as_before(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Without a postal address, the JSON as before it (`Compliance._as_before`)."""
        body: dict[str, Any] = handler(self)
        if self.postal_address is None:
            body.pop("postal_address", None)
        return body
