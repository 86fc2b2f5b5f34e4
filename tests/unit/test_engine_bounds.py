"""What a lead can hold: dates in range, names that show, zones the engine reads, at most
50 open follow-ups; and what the engine says of a date it cannot place."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from leadflow.engine import bounds, calls
from leadflow.engine.commands import InvalidChange
from leadflow.engine.contacts import checked_member, checked_party
from leadflow.engine.decide import decide
from leadflow.engine.events import (
    FollowUpScheduled,
    HorizonStated,
    KeyDatesChanged,
    LeadCreated,
)
from leadflow.engine.preview import project, sample_lead
from leadflow.engine.state import FollowUp, Member, Party
from leadflow.playbook.load import default_playbook
from tests.engine_driver import Lead

NOW = datetime(2026, 3, 2, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("playbook", "key_date", "day"),
    [
        ("insurance", "requote_date", date(1, 1, 1)),  # a rule 3 days before it
        ("mortgage", "funded_date", date(9999, 12, 31)),  # a rule a day after it
    ],
)
def test_a_key_date_at_the_calendars_end_is_refused_by_the_engine_not_overflowed(
    playbook: str, key_date: str, day: date
) -> None:
    lead = Lead.create(playbook, NOW)
    with pytest.raises(InvalidChange, match=f"key date {key_date} .* out of range") as caught:
        lead.send(KeyDatesChanged(dates={key_date: day}))
    assert caught.value.reason == "OutOfRange"


@pytest.mark.parametrize("day", [date(1, 1, 1), date(1899, 12, 31), date(2201, 1, 1)])
def test_a_date_outside_1900_to_2200_is_refused_at_the_door(day: date) -> None:
    with pytest.raises(InvalidChange, match="between 1900-01-01 and 2200-12-31"):
        bounds.key_dates({"closing_date": day})
    with pytest.raises(InvalidChange, match="horizon"):
        bounds.event(HorizonStated(horizon=day))
    far = datetime.combine(day, datetime.min.time(), UTC) if day.year > 1 else None
    if far is not None:
        follow_up = FollowUp(id="f", subject="Call", start_at=far)
        with pytest.raises(InvalidChange, match="follow-up start"):
            bounds.event(FollowUpScheduled(follow_up=follow_up))


def test_dates_in_range_pass() -> None:
    bounds.key_dates({"closing_date": date(1900, 1, 1), "funded_date": date(2200, 12, 31)})
    bounds.key_dates({"closing_date": None})


@pytest.mark.parametrize("name", ["   ", "", "\u200b", "\t\n", "\u3000"])
def test_a_party_or_member_name_that_shows_nothing_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match=r"borrower\.name .* no visible character"):
        checked_party("borrower", Party(name=name, phone="+13125550111"))
    with pytest.raises(ValueError, match=r"isa\.name .* no visible character"):
        checked_member("isa", Member(id="isa-1", name=name))


@pytest.mark.parametrize("name", ["Pat", "李", "Zoë O'Neil", "👍"])
def test_names_that_show_pass(name: str) -> None:
    assert checked_party("borrower", Party(name=name)).name == name


def test_a_party_zone_or_state_the_engine_cannot_read_is_refused() -> None:
    with pytest.raises(ValueError, match=r"borrower\.time_zone"):
        checked_party("borrower", Party(name="Pat", time_zone="Nowhere/Zone"))
    with pytest.raises(ValueError, match=r"borrower\.region"):
        checked_party("borrower", Party(name="Pat", region="Texas"))


def test_a_blank_partys_first_name_is_none() -> None:
    assert Party(name="   ").first_name is None
    assert Party(name=" Pat  Lee ").first_name == "Pat"


def _with_open_follow_ups(count: int) -> Lead:
    lead = Lead.create("isa", NOW)
    for i in range(count):
        start = NOW + timedelta(days=1 + i)
        lead.send(FollowUpScheduled(follow_up=FollowUp(id=f"f{i}", subject="Call", start_at=start)))
    return lead


def test_the_51st_open_follow_up_is_refused_not_the_oldest_dropped() -> None:
    lead = _with_open_follow_ups(calls.MAX_OPEN_FOLLOW_UPS)
    follow_up = FollowUp(id="one-more", subject="Call", start_at=NOW + timedelta(days=90))
    decision = decide(lead.book, lead.state, FollowUpScheduled(follow_up=follow_up), lead.now)
    with pytest.raises(InvalidChange, match="50 open follow-ups") as caught:
        calls.check_room(lead.state, decision.state)
    assert caught.value.reason == "TooManyFollowUps"


def test_the_50th_open_follow_up_and_a_rescheduled_one_fit() -> None:
    lead = _with_open_follow_ups(calls.MAX_OPEN_FOLLOW_UPS - 1)
    follow_up = FollowUp(id="last", subject="Call", start_at=NOW + timedelta(days=90))
    decision = decide(lead.book, lead.state, FollowUpScheduled(follow_up=follow_up), lead.now)
    calls.check_room(lead.state, decision.state)
    moved = FollowUp(id="f0", subject="Call", start_at=NOW + timedelta(days=91))
    again = decide(lead.book, decision.state, FollowUpScheduled(follow_up=moved), lead.now)
    calls.check_room(decision.state, again.state)


def test_a_projection_decides_at_most_its_wake_ups() -> None:
    book = default_playbook("isa")
    state = decide(book, sample_lead(book), LeadCreated(), NOW).state
    whole = project(book, state, NOW, 90)
    assert len({e.at for e in project(book, state, NOW, 90, wake_ups=3)}) <= 3
    assert len({e.at for e in whole}) > 3
