"""A scenario file for `leadflow simulate`: a lead, its playbook and what happens to it,
day by day in the lead's time zone. Loading reports every problem as `FILE: PATH: what`."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import Field, StringConstraints, ValidationError, field_validator, model_validator

import leadflow.engine.localtime as localtime
from leadflow.engine.events import ReplyReceived
from leadflow.engine.state import Member, Party
from leadflow.models import Strict, TimeZone
from leadflow.playbook.durations import Duration
from leadflow.playbook.load import DuplicateKey, read_yaml
from leadflow.playbook.regions import Region
from leadflow.playbook.routing import Routing
from leadflow.workflows.messages import LeadProfile

_AT = re.compile(r"^day\s+(\d+)(?:\s+(\d{1,2}):(\d{2}))?$")
_START = re.compile(
    r"^next\s+(monday|tuesday|wednesday|thursday|friday|saturday|sunday|month\s+day\s+(\d{1,2}))"
    r"(?:\s+before\s+(spring|fall)\s+dst)?"
    r"\s+(\d{1,2}):(\d{2})$"
)
MAX_DAY = 3650  # "day N": the longest a scenario runs
YEARS = (1970, 2999)  # an ISO start a scenario may have
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def _start_problem(start: re.Match[str]) -> str | None:
    """What is wrong with a start `_START` matched, or None."""
    if start.group(2) and not 1 <= int(start.group(2)) <= 28:
        return f"day {start.group(2)}: choose 1 to 28 (every month has those)"
    return _clock_problem(start.group(4), start.group(5))


def _clock_problem(hour: str | None, minute: str | None) -> str | None:
    """What is wrong with HH:MM, or None."""
    if hour is None or minute is None or (int(hour) <= 23 and int(minute) <= 59):
        return None
    return f"{hour}:{minute} is not a time of day (00:00 to 23:59)"


def _day_problem(at: re.Match[str]) -> str | None:
    if int(at.group(1)) <= MAX_DAY:
        return None
    return f"day {at.group(1)} is past the longest a scenario runs (day {MAX_DAY})"


class CallEvent(Strict):
    disposition: str
    by: str = "scenario"  # who logged it: a team member's id works the lead they were given
    channel: Literal["call", "sms"] = "call"
    direction: Literal["outbound", "inbound"] = "outbound"
    comments: str = ""
    follow_up: str | None = None  # "day N HH:MM": the next call the agent sets
    lead_requested: bool = False


class FollowUpEvent(Strict):
    subject: str = "Call"
    start: str  # "day N HH:MM"
    duration: Duration = timedelta(minutes=15)
    notes: str = ""
    lead_requested: bool = False


class MilestoneEvent(Strict):
    milestone: str | None = None
    status: str | None = None
    note: str = ""
    follow_up: str | None = None


class ConsentEvent(Strict):
    """A party's consent, as `POST /v1/leads/{id}/consents` records it (the evidence stays
    out of a simulation: only what decides)."""

    party: str = "borrower"
    channels: list[Literal["sms", "mms", "email", "call"]] = Field(min_length=1)
    scope: Literal["marketing", "informational"] = "marketing"
    means: Literal["web_form", "certificate", "signature", "recorded_call", "reply", "other"] = (
        "web_form"
    )
    given: str | None = None  # "day N HH:MM"; default: the event's own time


class RelationshipEvent(Strict):
    """The business relationship's dates, each a date or "day N"."""

    inquired: date | str | None = None
    transacted: date | str | None = None

    @model_validator(mode="after")
    def _some(self) -> RelationshipEvent:
        if self.inquired is None and self.transacted is None:
            raise ValueError("give inquired, transacted or both")
        return self


class TeamMember(Strict):
    """A user routing may give the lead to, as `PUT /v1/users/{id}/availability` says them."""

    id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    name: str | None = None
    designations: list[str] = Field(min_length=1)
    time_zone: TimeZone = "UTC"
    hours: tuple[time, time] | None = None  # written "09:00-17:00", their time
    days: list[Annotated[int, Field(ge=0, le=6)]] = list(range(7))  # 0 is Monday
    away: bool = False
    licensed: list[Region] | None = None

    @field_validator("hours", mode="before")
    @classmethod
    def _hours(cls, value: object) -> object:
        if isinstance(value, str):
            start, _, end = value.partition("-")
            if not end or start.strip() >= end.strip():
                raise ValueError("write hours as 'HH:MM-HH:MM', the start before the end")
            return (start.strip(), end.strip())
        return value


class AvailabilityEvent(Strict):
    """A team member switching to away, or back."""

    user: str
    away: bool


class CampaignEvent(Strict):
    op: Literal["start", "switch", "pause", "resume", "cancel"]
    campaign: str
    switch_from: str | None = None


class ScriptedEvent(Strict):
    """One thing that happens to the lead, `at` "day N HH:MM" in the lead's time zone."""

    at: str
    milestone: MilestoneEvent | None = None
    call: CallEvent | None = None
    follow_up: FollowUpEvent | None = None
    reply: ReplyReceived | None = None
    opt_out: Literal["sms", "email", "call", "all"] | None = None
    opt_in: Literal["sms", "email", "call", "all"] | None = None
    key_dates: dict[str, date | str | None] | None = None  # a date, or "day N"
    parties: dict[str, Party | None] | None = None
    designations: dict[str, Member | None] | None = None
    campaign: CampaignEvent | None = None
    horizon: date | str | None = None  # when the lead means to buy or sell: a date or "day N"
    consent: ConsentEvent | None = None
    relationship: RelationshipEvent | None = None
    reassigned: str | None = None  # a party whose number the database reports reassigned
    accept: str | None = None  # a team member takes the lead's standing offer
    availability: AvailabilityEvent | None = None
    expect_rejected: bool = False

    @model_validator(mode="after")
    def _one(self) -> ScriptedEvent:
        given = [n for n in _KINDS if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(_KINDS)} (got {given or 'none'})")
        match = _AT.match(self.at.strip())
        if not match:
            raise ValueError(f"at {self.at!r}: write 'day N' or 'day N HH:MM'")
        if wrong := _clock_problem(match.group(2), match.group(3)) or _day_problem(match):
            raise ValueError(f"at {self.at!r}: {wrong}")
        return self

    @property
    def kind(self) -> str:
        return next(n for n in _KINDS if getattr(self, n) is not None)


_KINDS = (
    "milestone",
    "call",
    "follow_up",
    "reply",
    "opt_out",
    "opt_in",
    "key_dates",
    "parties",
    "designations",
    "campaign",
    "horizon",
    "consent",
    "relationship",
    "reassigned",
    "accept",
    "availability",
)


class Scenario(Strict):
    playbook: str  # a default playbook's name, or a path to a playbook file
    start: str = "next monday 10:00"
    days: int = Field(default=61, ge=1, le=3650)
    lead: LeadProfile = LeadProfile()
    consents: list[ConsentEvent] = []  # given with the lead, as its form sends them
    routing: Routing | None = None  # tried in place of the playbook's own
    team: list[TeamMember] = []  # whom the routing may give the lead to
    events: list[ScriptedEvent] = []


class ScenarioError(ValueError):
    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("\n".join(f"{source}: {path}: {message}" for path, message in problems))


def load_scenario(path: Path) -> Scenario:
    try:
        data = read_yaml(path.read_text(encoding="utf-8"))
    except DuplicateKey as exc:
        raise ScenarioError(str(path), [(f"line {exc.line}", str(exc))]) from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        said = " ".join(str(exc).split())
        raise ScenarioError(str(path), [("(file)", f"cannot read: {said}")]) from None
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        problems = [
            (
                ".".join(str(p) for p in e["loc"]) or "(top level)",
                str(e["msg"]).removeprefix("Value error, "),
            )
            for e in exc.errors()
        ]
        raise ScenarioError(str(path), problems) from None
    if start := _START.match(scenario.start.strip().lower()):
        if wrong := _start_problem(start):
            raise ScenarioError(str(path), [("start", f"{scenario.start!r}: {wrong}")])
    else:
        try:
            moment = datetime.fromisoformat(scenario.start)
        except ValueError:
            raise ScenarioError(
                str(path),
                [
                    (
                        "start",
                        "write 'next monday 10:00', 'next month day 28 10:00', "
                        "'next friday before spring dst 20:10' or an ISO time",
                    )
                ],
            ) from None
        if not YEARS[0] <= moment.year <= YEARS[1]:
            raise ScenarioError(
                str(path),
                [("start", f"{scenario.start!r}: choose a time from {YEARS[0]} to {YEARS[1]}")],
            )
    return scenario


def start_time(text: str, now: datetime, zone: str) -> datetime:
    match = _START.match(text.strip().lower())
    if match is None:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = localtime.at_local(moment.date(), moment.time(), zone)
        if moment < now:
            raise ScenarioError(
                "start",
                [("start", f"{text} is in the past; the simulation's clock can only move forward")],
            )
        return moment
    if wrong := _start_problem(match):
        raise ScenarioError("start", [("start", f"{text!r}: {wrong}")])
    clock = time(int(match.group(4)), int(match.group(5)))
    today = localtime.local_date(now, zone)
    if match.group(2):
        first = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
        return localtime.at_local(first.replace(day=int(match.group(2))), clock, zone)
    day = today + timedelta(days=1)
    if match.group(3):  # the weekday before the next clock change: the change comes after it
        change = _next_clock_change(
            today + timedelta(days=1), zone, spring=match.group(3) == "spring"
        )
        day = change - timedelta(days=1)
        while WEEKDAYS[day.weekday()] != match.group(1):
            day -= timedelta(days=1)
        if day <= today:
            return start_time(text, localtime.at_local(change, time(12), zone), zone)
        return localtime.at_local(day, clock, zone)
    while WEEKDAYS[day.weekday()] != match.group(1):
        day += timedelta(days=1)
    return localtime.at_local(day, clock, zone)


def _next_clock_change(after: date, zone: str, *, spring: bool) -> date:
    """The first day from `after` on which the zone's clocks go forward (or back)."""
    day = after
    for _ in range(3 * 366):
        before = localtime.to_local(localtime.at_local(day, time(0), zone), zone).utcoffset()
        then = localtime.to_local(localtime.at_local(day, time(23), zone), zone).utcoffset()
        if before is not None and then is not None and before != then and (then > before) == spring:
            return day
        day += timedelta(days=1)
    raise ScenarioError("start", [("start", f"{zone} does not change its clocks")])


def event_time(text: str, day0: date, start: datetime, zone: str) -> datetime:
    match = _AT.match(text.strip())
    if match is None:
        raise ScenarioError("at", [("at", f"{text!r}: write 'day N' or 'day N HH:MM'")])
    if wrong := _day_problem(match) or _clock_problem(match.group(2), match.group(3)):
        raise ScenarioError("at", [("at", f"{text!r}: {wrong}")])
    day = day0 + timedelta(days=int(match.group(1)))
    if match.group(2) is None:
        clock = localtime.to_local(start, zone).time()
    else:
        clock = time(int(match.group(2)), int(match.group(3)))
    return localtime.at_local(day, clock, zone)
