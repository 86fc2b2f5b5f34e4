"""How a lead's contact facts are checked, whichever way they come in (HTTP API, Python
client, `leadflow simulate`): phones become E.164, emails must be addresses, names must
show (`bounds`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator

from leadflow.engine import bounds
from leadflow.engine.state import Member, Party


def e164(value: str) -> str:
    """A phone number as dialled from the US if no country code is given; stored E.164."""
    try:
        number = phonenumbers.parse(value, "US")
    except phonenumbers.NumberParseException:
        raise ValueError(f"{value!r} is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"{value!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"{value!r} is not an email address: {exc}") from None


Phone = Annotated[str, AfterValidator(e164)]


def checked_party(role: str, party: Party) -> Party:
    """The party with its phone in E.164 and a name that shows; ValueError naming the role
    and field if not."""
    bounds.party(role, party)
    return party.model_copy(
        update={
            "phone": _field(role, "phone", party.phone, e164),
            "email": _field(role, "email", party.email, email),
        }
    )


def checked_member(designation: str, member: Member) -> Member:
    bounds.member(designation, member)
    return member.model_copy(
        update={
            "phone": _field(designation, "phone", member.phone, e164),
            "email": _field(designation, "email", member.email, email),
            "sms_from": _field(designation, "sms_from", member.sms_from, e164),
        }
    )


def _field(owner: str, name: str, value: str | None, check: Callable[[str], str]) -> str | None:
    if value is None:
        return None
    try:
        return check(value)
    except ValueError as exc:
        raise ValueError(f"{owner}.{name}: {exc}") from None
