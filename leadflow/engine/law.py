"""The law on telephone solicitation as the compliance gate applies it (the tables
themselves, reviewed and cited, are `leadflow/playbook/state_law.yaml` and, from version 2,
`country_law.yaml`).

What the gate asks of it: which countries and states a party may be in (the country of the
number and of the region on record; the state on record and the state of a US number's area
code: the stricter rule wins), when on a given local day a channel may reach them (calling
hours, Sunday and legal-holiday bans, with observed days from the `holidays` library), and
which caps count which channels. An account's playbook may tighten any of it (`compliance`),
never loosen it.

Pure and offline. Which tables a lead follows is `EngineState.law`: 0, leads whose history
predates them (their playbook's own windows and caps only), or the tables' version.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache, lru_cache
from importlib import resources

import phonenumbers
from holidays.countries.united_states import US as UnitedStatesHolidays
from phonenumbers import geocoder

import leadflow.engine.localtime as localtime
import leadflow.engine.phones as phones
from leadflow.models import Channel
from leadflow.playbook.law import StateLaw, countries, country_of_region, table
from leadflow.playbook.schema import Window

AUTOMATED: tuple[Channel, ...] = ("sms", "mms")
"""leadflow's automated channel: a statute's rule for automated calls applies to its texts."""


def laws_for(version: int, state: str, channel: Channel) -> list[StateLaw]:
    """The state's rules a touch on the channel keeps to, on that table version (0: none)."""
    statute = table(version).states.get(state) if version >= 1 else None
    if statute is None:
        return []
    found = [statute] if channel in statute.covers else []
    if statute.automated is not None and channel in AUTOMATED:
        found.append(statute.automated)
    return found


def country_laws_for(version: int, country: str, channel: Channel) -> list[StateLaw]:
    """The country's rules a touch on the channel keeps to, on that table version."""
    statute = countries(version).get(country)
    return [statute] if statute is not None and channel in statute.covers else []


def countries_of(version: int, phone: str | None, region: str | None, zone: str) -> list[str]:
    """The countries whose law reaches a party: the number's (its phonenumbers region), and
    the region's on record (a province, or else a state); with neither, the time zone's."""
    table_ = countries(version)
    found: set[str] = set()
    if phone is not None and (number := phones.region(phone)) is not None:
        found |= {code for code, law in table_.items() if number in law.regions}
    if region is not None and (where := country_of_region(region, version)) is not None:
        found.add(where)
    if phone is None and region is None and (at := zone_country(zone)) is not None:
        found |= {code for code, law in table_.items() if at in law.regions}
    return sorted(found)


@cache
def _zone_countries() -> dict[str, str]:
    text = resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text("utf-8")
    rows = (line.split("\t") for line in text.splitlines() if not line.startswith("#"))
    return {row[2]: row[0] for row in rows if len(row) >= 3}


def zone_country(zone: str) -> str | None:
    """The country of a time zone (tzdata's zone.tab), as a phonenumbers region."""
    return _zone_countries().get(zone)


_SPELLED = {"Washington State": "WA", "Washington D.C.": "DC"}


def _us_number(phone: str) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(phone, "US")
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.region_code_for_number(number) == "US" else None


@lru_cache(maxsize=4096)
def in_us(phone: str) -> bool:
    """Whether a number is a US one, where the federal rules reach."""
    return _us_number(phone) is not None


@lru_cache(maxsize=4096)
def area_state(phone: str) -> str | None:
    """The US state of a number's area code (phonenumbers' geocoding data), if it has one."""
    number = _us_number(phone)
    if number is None:
        return None
    place = geocoder.description_for_number(number, "en")
    if place in _SPELLED:
        return _SPELLED[place]
    _, comma, code = place.rpartition(", ")
    if comma and len(code) == 2:
        return code
    return _state_codes().get(place)


@cache
def _state_codes() -> dict[str, str]:
    return dict(UnitedStatesHolidays.subdivisions_aliases)


@lru_cache(maxsize=2048)
def _holidays(state: str, year: int) -> dict[date, str]:
    subdivision = state if state in UnitedStatesHolidays.subdivisions else None
    found = UnitedStatesHolidays(  # type: ignore[no-untyped-call]
        subdiv=subdivision, years=year, observed=True
    )
    return dict(found.items())


def holiday(state: str, day: date) -> str | None:
    """The legal holiday (or the day it is observed) in the state on that day, by name."""
    return _holidays(state, day.year).get(day)


@dataclass(frozen=True)
class Bound:
    """One rule's window on a day: its hours, and the rule in words with its citation."""

    start: time
    end: time
    label: str  # "FL window 08:00-20:00"
    source: str = ""  # the citation, when a statute sets it

    def cited(self) -> str:
        return f"{self.label} ({self.source})" if self.source else self.label


@dataclass(frozen=True)
class Day:
    """The hours a day allows, and which rule sets each end of them."""

    opens: Bound  # the rule that opens latest
    closes: Bound  # the rule that closes earliest

    @property
    def start(self) -> time:
        return self.opens.start

    @property
    def end(self) -> time:
        return self.closes.end


@dataclass(frozen=True)
class Ban:
    why: str  # "Sunday: no calls or texts in AL (Ala. Admin. Code ...)"


@dataclass(frozen=True)
class DayRules:
    """What governs a touch on each local day: the laws of the states the party may be in
    (for the channels those laws cover), then the playbook's own windows."""

    windows: tuple[Bound, ...]
    laws: tuple[tuple[str, StateLaw], ...] = ()
    channel: Channel = "sms"

    def on(self, day: date) -> Day | Ban:
        bounds: list[Bound] = []
        what = _what(self.channel)
        for code, law in self.laws:
            if law.holidays == "closed":
                name = holiday(code, day)
                if name is not None:
                    return Ban(f"{name}: no {what} in {code} on legal holidays ({law.source})")
            hours = law.day(day.weekday())
            if hours == "closed":
                return Ban(f"{day:%A}: no {what} in {code} ({law.source})")
            if hours is not None:
                which = f"{day:%A} " if hours is not law.hours else ""
                label = f"{code} {which}window {span(hours)}"
                bounds.append(Bound(hours.start, hours.end, label, law.source))
        bounds += self.windows  # on a tie, the statute is named
        opens = max(bounds, key=lambda b: b.start)
        closes = min(bounds, key=lambda b: b.end)
        if opens.start >= closes.end:
            return Ban(f"no hours in common on {day:%A}: {opens.cited()}; {closes.cited()}")
        return Day(opens, closes)


def span(window: Window) -> str:
    """'08:00-20:00', and '00:00-24:00' for a window open all day."""
    end = "24:00" if window.end == time.max else f"{window.end:%H:%M}"
    return f"{window.start:%H:%M}-{end}"


def _what(channel: Channel) -> str:
    return "calls" if channel == "call" else "calls or texts"


class NoWindow(ValueError):
    """The rules leave no hour open (an account's window narrower than a state's hours)."""


MAX_STEPS = 400  # a week of holidays and Sundays in several zones is a few dozen


def opening(moment: datetime, zones: Iterable[str], rules: DayRules) -> datetime:
    """The first instant at or after `moment` that every zone's local day allows."""
    zones = list(zones)
    candidate = moment
    for _ in range(MAX_STEPS):
        moved = max(_next_in(candidate, zone, rules) for zone in zones)
        if moved == candidate:
            return candidate
        candidate = moved
    raise NoWindow(f"no moment allowed within {MAX_STEPS} steps of {moment} in {zones}")


def _next_in(moment: datetime, zone: str, rules: DayRules) -> datetime:
    local = localtime.to_local(moment, zone)
    day = local.date()
    rule = rules.on(day)
    if isinstance(rule, Day):
        if rule.start <= local.time() < rule.end:
            return moment
        if local.time() < rule.start:
            return localtime.at_local(day, rule.start, zone)
    for ahead in range(1, 15):
        later = rules.on(day + timedelta(days=ahead))
        if isinstance(later, Day):
            return localtime.at_local(day + timedelta(days=ahead), later.start, zone)
    raise NoWindow(
        f"no hours in common within two weeks of {day} in {zone}: "
        f"{blocker(localtime.at_local(day, time(12), zone), [zone], rules)}"
    )


def blocker(moment: datetime, zones: Iterable[str], rules: DayRules) -> str:
    """Why `moment` is not allowed, in words, with the rule's citation: the first zone's."""
    zones = list(zones)
    for zone in zones:
        local = localtime.to_local(moment, zone)
        rule = rules.on(local.date())
        if isinstance(rule, Ban):
            return f"{rule.why}, {zone}"
        if not rule.start <= local.time() < rule.end:
            side = rule.opens if local.time() < rule.start else rule.closes
            cited = f" ({side.source})" if side.source else ""
            return f"quiet hours: {side.label} {', '.join(zones)}{cited}"
    return ""
