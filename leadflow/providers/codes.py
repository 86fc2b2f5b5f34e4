"""Twilio's error codes and what each means for a lead: the one table the send activity,
the status webhook and the fake provider all read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Meaning = Literal["bad_number", "unsubscribed", "unreachable", "filtered", "not_sent"]


@dataclass(frozen=True)
class TwilioError:
    meaning: Meaning
    message: str  # Twilio's own wording, as its API answers it


TWILIO_ERRORS: dict[int, TwilioError] = {
    21211: TwilioError("bad_number", "The 'To' number is not a valid phone number."),
    21610: TwilioError("unsubscribed", "Attempt to send to unsubscribed recipient"),
    21614: TwilioError("bad_number", "'To' number is not a valid mobile number"),
    30003: TwilioError("unreachable", "Unreachable destination handset"),
    30005: TwilioError("bad_number", "Unknown destination handset"),
    30006: TwilioError("bad_number", "Landline or unreachable carrier"),
    30007: TwilioError("filtered", "Message filtered"),
    # Held back, then dropped: the lead's engine tries the touch again, in a window.
    30022: TwilioError("not_sent", "US A2P 10DLC - Rate Limits Exceeded"),
    30036: TwilioError("not_sent", "Validity Period Expired"),
}


def twilio_meaning(code: int | str | None) -> Meaning | None:
    """What a Twilio error code (an int from the SDK, a string from a webhook form) means."""
    if isinstance(code, str):
        code = int(code) if code.isdigit() else None
    found = TWILIO_ERRORS.get(code) if code is not None else None
    return found.meaning if found else None
