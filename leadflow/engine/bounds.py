"""The dates and names a lead can hold, checked at every door a fact comes in by: the API's
schemas, the Python client, the workflow's update validators.

A date far from today is a typo, and near the ends of the calendar the engine's own
arithmetic (a date rule's offset, a zone's shift from UTC) falls outside what Python can
represent; a name of spaces alone has no first name to greet. The engine's events and state
do not refuse them in their shapes: recorded histories replay through those shapes, and a
fact a lead once took must still read back.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, date, datetime, time

import leadflow.engine.localtime as localtime
from leadflow.engine.commands import InvalidChange
from leadflow.engine.decide import LeadFacts
from leadflow.engine.events import (
    CallLogged,
    FollowUpScheduled,
    HorizonStated,
    KeyDatesChanged,
    StatusChanged,
)
from leadflow.engine.state import FollowUp, Member, Party

EARLIEST = date(1900, 1, 1)
LATEST = date(2200, 12, 31)
_SPAN = f"between {EARLIEST.isoformat()} and {LATEST.isoformat()}"


def day(value: date, what: str) -> date:
    """The date, if a lead may hold it; InvalidChange (a ValueError) naming `what` if not."""
    if not EARLIEST <= value <= LATEST:
        raise InvalidChange(
            f"{what} {value.isoformat()} is out of range: give a date {_SPAN}", "OutOfRange"
        )
    return value


def moment(value: datetime, what: str) -> datetime:
    earliest = datetime.combine(EARLIEST, time.min, UTC)
    latest = datetime.combine(LATEST, time.max, UTC)
    if not earliest <= value <= latest:
        raise InvalidChange(
            f"{what} {value.isoformat()} is out of range: give a time {_SPAN}", "OutOfRange"
        )
    return value


def visible(value: str) -> bool:
    """Whether the text shows anything: a letter, digit, mark, symbol or punctuation, not
    only spaces, control or format characters (a zero-width space is not a name)."""
    return any(unicodedata.category(c)[0] not in "ZC" for c in value)


def name(value: str, what: str) -> str:
    if not visible(value):
        raise InvalidChange(
            f"{what} {value!r} has no visible character: give a name, or leave it out",
            "InvalidName",
        )
    return value


def party(role: str, given: Party) -> Party:
    """A party whose name shows and whose zone and state the engine can read (the API's
    schema checks zone and state itself; a client's Party is a plain model)."""
    if given.name is not None:
        name(given.name, f"{role}.name")
    if given.time_zone is not None and not localtime.known_zone(given.time_zone):
        raise InvalidChange(
            f"{role}.time_zone {given.time_zone!r} is not a time zone; use an IANA name such "
            "as America/Chicago",
            "InvalidTimeZone",
        )
    if given.region is not None and not re.fullmatch(r"[A-Z]{2}", given.region):
        raise InvalidChange(
            f"{role}.region {given.region!r} is not a two-letter state or province code",
            "InvalidRegion",
        )
    return given


def member(designation: str, given: Member) -> Member:
    name(given.name, f"{designation}.name")
    return given


def key_dates(dates: Mapping[str, date | None]) -> None:
    for key, value in dates.items():
        if value is not None:
            day(value, f"key date {key}")


def follow_up(given: FollowUp | None) -> None:
    if given is not None:
        moment(given.start_at, "follow-up start")


def facts(lead: LeadFacts) -> None:
    """A new lead's facts (an ensure request's), as each door checks them."""
    key_dates(lead.key_dates)
    if lead.horizon is not None:
        day(lead.horizon, "horizon")
    for role, given in lead.parties.items():
        party(role, given)
    for designation, who in lead.designations.items():
        member(designation, who)


def event(given: object) -> None:
    """The dates a change to a lead names, each in range; InvalidChange for the first not."""
    if isinstance(given, StatusChanged | CallLogged | FollowUpScheduled):
        follow_up(given.follow_up)
    elif isinstance(given, HorizonStated):
        day(given.horizon, "horizon")
    elif isinstance(given, KeyDatesChanged):
        key_dates(given.dates)
