"""What the client checks before anything reaches a lead: contacts in the one form the API
takes them, and requests that fit Temporal and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from pydantic_core import to_json

from leadflow.client.errors import ChangeRejected
from leadflow.engine import bounds
from leadflow.engine.commands import InvalidChange
from leadflow.models import NUL_REFUSED, nul_at

T = TypeVar("T")
MAX_REQUEST_BYTES = 256 * 1024  # one request to a lead, as JSON


def contacts(given: Mapping[str, T | None], check: Callable[[str, T], T]) -> dict[str, T | None]:
    """Every phone and email checked the one way the API checks them too."""
    try:
        return {
            name: None if value is None else check(name, value) for name, value in given.items()
        }
    except ValueError as exc:
        raise ChangeRejected(str(exc), "InvalidContact") from None


def refuse_unfit(request: object) -> None:
    """What reaches a lead must fit Temporal and PostgreSQL: at most MAX_REQUEST_BYTES (the
    API's body limit; Temporal refuses payloads over 2 MB and a lead carries what it is
    given into its next run), and no NUL in text (PostgreSQL refuses it, and a lead whose
    notes it refuses could not move on)."""
    data = to_json(request)
    size = len(data)
    if size > MAX_REQUEST_BYTES:
        raise ChangeRejected(
            f"the request is {size // 1024} KiB; a lead takes at most "
            f"{MAX_REQUEST_BYTES // 1024} KiB at once",
            "TooLarge",
        )
    # JSON escapes NUL as \u0000: only then is the request walked to say where it is.
    if b"\\u0000" in data and (where := nul_at(request)):
        raise ChangeRejected(f"{NUL_REFUSED}: at {where}", "InvalidText")
    made = getattr(request, "event", None)  # an update's event, or the signal's own
    try:
        bounds.event(made() if callable(made) else request)  # dates the lead could not hold
    except InvalidChange as exc:
        raise ChangeRejected(str(exc), exc.reason) from None
