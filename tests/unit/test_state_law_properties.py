"""Random leads across a year, in random states, provinces and time zones, with a number from
the same place or another (a US or a Canadian one): no text lands outside any of its states'
windows, on a banned day, or past a cap; no call is queued outside its windows, Canada's
calling hours included when the number or the province on record is Canadian.

The checks read the table and the `holidays` library directly, not the gate's own code."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta

from holidays.countries.united_states import US as UnitedStatesHolidays
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from leadflow.engine import localtime, phones
from leadflow.engine.commands import QueueCall, SendMessage
from leadflow.engine.events import CallLogged
from leadflow.engine.law import area_state
from leadflow.engine.state import Party
from leadflow.playbook.law import FEDERAL, StateLaw, countries, table
from leadflow.playbook.load import default_playbook
from leadflow.playbook.schema import Window
from tests.engine_driver import Lead

EXAMPLES = int(os.environ.get("LEADFLOW_PROPERTY_EXAMPLES", "60"))
AREA = {  # an area code in each state of the table, and in a few without rows
    "AL": "205", "CT": "203", "FL": "305", "KY": "502", "LA": "504", "MA": "617",
    "MD": "410", "ME": "207", "MI": "313", "MN": "612", "MS": "601", "NM": "505",
    "NV": "702", "OK": "405", "PA": "215", "RI": "401", "SD": "605", "TX": "214",
    "UT": "801", "WA": "206", "IL": "312", "CA": "415", "NY": "212", "OR": "503",
    "VA": "804",
}  # fmt: skip
PROVINCES = {"ON": "416", "BC": "604", "QC": "514"}  # Canadian numbers: no state, Canada's law
ZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
         "America/Los_Angeles", "America/Toronto", "America/Vancouver"]  # fmt: skip
BOOK = default_playbook("isa")


def _rules(state: str, channel: str) -> list[StateLaw]:
    statute = table().states.get(state)
    if statute is None:
        return []
    found = [statute] if channel in statute.covers else []
    if statute.automated is not None and channel in ("sms", "mms"):
        found.append(statute.automated)
    return found


def _allowed(
    moment: datetime, zones: set[str], states: set[str], channel: str, canada: bool
) -> bool:
    crtc = countries()["CA"]
    for zone in zones:
        local = localtime.to_local(moment, zone)
        clock = local.time()
        if not FEDERAL.start <= clock < FEDERAL.end:
            return False
        hours = crtc.day(local.weekday()) if canada and channel in crtc.covers else None
        if isinstance(hours, Window) and not hours.start <= clock < hours.end:
            return False
        for state in states:
            for rule in _rules(state, channel):
                if rule.holidays == "closed":
                    days = UnitedStatesHolidays(subdiv=state, years=local.year, observed=True)
                    if local.date() in days:
                        return False
                hours = {5: rule.saturday, 6: rule.sunday}.get(local.weekday()) or rule.hours
                if hours == "closed":
                    return False
                if isinstance(hours, Window) and not hours.start <= clock < hours.end:
                    return False
    return True


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    region=st.sampled_from([None, *AREA, *PROVINCES]),
    number_state=st.sampled_from([*AREA, *PROVINCES]),
    zone=st.sampled_from(ZONES),
    start=st.datetimes(
        min_value=datetime(2027, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
    calls=st.lists(st.integers(min_value=0, max_value=20 * 24 * 60), max_size=6),
)
@example(None, "OR", "America/Los_Angeles", datetime(2027, 3, 1, 4, 30, tzinfo=UTC), [60, 90])
@example("ON", "ON", "America/Toronto", datetime(2027, 3, 6, 13, 0, tzinfo=UTC), [])
@example("FL", "BC", "America/New_York", datetime(2027, 3, 7, 23, 0, tzinfo=UTC), [30])
def test_no_touch_breaks_a_state_rule(
    region: str | None, number_state: str, zone: str, start: datetime, calls: list[int]
) -> None:
    canadian = number_state in PROVINCES
    phone = f"+1{PROVINCES[number_state] if canadian else AREA[number_state]}5551000"
    assert area_state(phone) == (None if canadian else number_state)
    parties = {
        role: Party(name="Pat Example", phone=phone, email=f"{role}@example.com", sms_consent=True)
        for role in BOOK.parties
    }
    lead = Lead.create(BOOK, start, time_zone=zone, region=region, parties=parties)
    made: list[datetime] = []  # calls agents logged: they count towards the caps
    for minutes in sorted(calls):
        moment = start + timedelta(minutes=minutes)
        lead.send(CallLogged(disposition="No Answer"), at=moment)
        made.append(lead.now)
    lead.run_until(start + timedelta(days=21))

    states = {s for s in (region, number_state) if s and s not in PROVINCES}
    canada = canadian or region in PROVINCES
    zones = {zone, *phones.zones_for(phone)}
    texts: list[datetime] = []
    for sent in lead.log:
        command = sent.command
        if isinstance(command, SendMessage) and command.channel in ("sms", "mms"):
            assert _allowed(sent.at, zones, states, command.channel, canada), (sent.at, command.key)
            texts.append(sent.at)
        if isinstance(command, QueueCall):
            assert _allowed(command.available_at, zones, states, "call", canada), command
    for state in states:
        for rule in _rules(state, "sms"):
            for cap in rule.caps:
                for i, text in enumerate(texts):
                    before = [t for t in texts[:i] if t > text - cap.per]
                    if "call" in cap.counts:
                        before += [m for m in made if text - cap.per < m < text]
                    assert len(before) + 1 <= cap.max, (state, text, before)


def test_the_property_reaches_every_kind_of_rule() -> None:
    """The states drawn above include an hours rule, a Sunday ban, a holiday ban, a cap and
    an automated rule: the property is not vacuous."""
    kinds = set()
    for code in AREA:
        statute = table().states.get(code)
        if statute is None:
            continue
        kinds |= {"hours"} if statute.hours else set()
        kinds |= {"sunday"} if statute.sunday == "closed" else set()
        kinds |= {"holidays"} if statute.holidays else set()
        kinds |= {"caps"} if statute.caps else set()
        kinds |= {"automated"} if statute.automated else set()
    assert kinds == {"hours", "sunday", "holidays", "caps", "automated"}
    assert table().states["OR"].caps and set(PROVINCES) <= set(countries()["CA"].subdivisions)
    assert countries()["CA"].day(5) != countries()["CA"].day(0)  # weekends have their own
    assert date(2027, 7, 5) in UnitedStatesHolidays(subdiv="UT", years=2027, observed=True)
