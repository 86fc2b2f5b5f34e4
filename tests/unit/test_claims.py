"""First to claim, the pond and "worked": routing's offers in the pure decision (offered to
the eligible at once, a window, the chain past the rules tried), who may take a standing
offer and why not, the working time a user has to act on a lead (the clock stands still
off shift), and the engine's side: an offer's window running out, a taker heard, a user
who does not work the lead losing it, and speed to lead recorded once."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from leadflow.engine.events import CallLogged, DesignationsChanged, LeadRouted, StatusChanged
from leadflow.engine.routing import (
    Agent,
    Facts,
    Load,
    Routed,
    may_claim,
    route,
    work_by,
    worked_seconds,
)
from leadflow.engine.state import Member
from leadflow.playbook.load import default_playbook
from leadflow.playbook.routing import Routing
from leadflow.playbook.schema import Playbook, Window
from tests.engine_driver import Lead

MONDAY_NOON = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # 12:00 in New York
NY = "America/New_York"


def _routing(*rules: dict[str, Any], owner: str | None = None) -> Routing:
    return Routing.model_validate({"rules": list(rules), "owner": owner})


def _isa(*ids: str, **more: Any) -> list[Agent]:
    return [Agent(id=i, designations=frozenset({"isa"}), **more) for i in ids]


CLAIM = {"name": "claim", "designation": "isa", "mode": "first_to_claim",
         "claim_window": "5m", "fallback": ["pond"]}  # fmt: skip
POND = {"name": "pond", "designation": "isa", "mode": "pond", "group": ["ana", "bo", "cy"]}


def test_a_claim_is_offered_to_everyone_eligible_and_the_pond_to_its_group() -> None:
    routing = _routing({**CLAIM, "when": {"sources": ["web"]}}, POND)
    agents = [*_isa("ana", "cy"), *_isa("bo", away=True)]
    offered = route(routing, Facts(source="web"), agents, MONDAY_NOON, {}, {})
    assert offered == Routed(
        "claim",
        "claim: offered to ana, cy for 5 min, first to claim",
        offered=("ana", "cy"),
        until=MONDAY_NOON + timedelta(minutes=5),
    )
    pond = route(routing, Facts(source="web"), agents, MONDAY_NOON, {}, {}, tried=["claim"])
    assert pond.rule == "pond" and pond.until is None and pond.agent is None
    assert pond.offered == ("ana", "bo", "cy")  # each may take it while eligible
    assert pond.why == "pond: in the pond, open to ana, bo, cy after claim: tried"
    nowhere = route(routing, Facts(), agents, MONDAY_NOON, {}, {}, tried=["pond"])
    assert nowhere.agent is None and not nowhere.offered
    assert nowhere.why == "waits for the first who may take it: pond: tried"


def test_modes_are_checked() -> None:
    for rule, said in (
        ({**CLAIM, "weights": {"ana": 2}}, "weights are for round_robin"),
        ({**CLAIM, "claim_window": "10s"}, "claim_window is between 1 minute and 1 day"),
        ({**CLAIM, "work_within": "0m"}, "work_within is at least 1 minute"),
        ({**CLAIM, "mode": "auction"}, "round_robin"),
    ):
        with pytest.raises(ValidationError, match=said):
            _routing(rule)
    book = default_playbook("isa").model_dump(mode="json")
    book["routing"] = {"rules": [{**POND, "fallback": ["pond"]}]}
    from leadflow.playbook.check import problems

    found = dict(problems(Playbook.model_validate(book)))
    assert found["routing.rules[0].fallback"] == "a pond stands until someone takes the lead"
    plain = _routing({"name": "team", "designation": "isa"}).model_dump(mode="json")
    assert plain["rules"][0] == {  # a round-robin rule's JSON as before modes
        "name": "team", "when": {"sources": [], "loan_purposes": [], "regions": [], "tags": [],
        "languages": [], "price_min": None, "price_max": None}, "designation": "isa",
        "group": [], "weights": {}, "caps": {"per_day": None, "open": None}, "fallback": [],
    }  # fmt: skip


def test_who_may_take_a_standing_offer_and_why_not() -> None:
    rule = _routing({**CLAIM, "caps": {"open": 2}}).rules[0]
    offer = Routed("claim", "", offered=("ana", "bo"), until=MONDAY_NOON + timedelta(minutes=5))
    [ana, bo, cy] = _isa("ana", "bo", "cy")
    assert may_claim(ana, rule, Facts(), MONDAY_NOON, Load(), offer) is None
    assert may_claim(cy, rule, Facts(), MONDAY_NOON, Load(), offer) == (
        "cy was not offered this lead"
    )
    late = MONDAY_NOON + timedelta(minutes=5)
    assert may_claim(ana, rule, Facts(), late, Load(), offer) == "the offer ran out at 17:05 UTC"
    assert may_claim(bo, rule, Facts(), MONDAY_NOON, Load(open=2), offer) == (
        "bo holds 2 open (cap 2)"
    )
    taken = Routed("claim", "", agent="ana", offered=("ana", "bo"))
    assert may_claim(bo, rule, Facts(), MONDAY_NOON, Load(), taken) == "ana took it first"
    assert may_claim(ana, rule, Facts(), MONDAY_NOON, Load(), taken) is None  # twice: still hers
    [away] = _isa("bo", away=True)
    assert may_claim(away, rule, Facts(), MONDAY_NOON, Load(), offer) == "bo is away"


def test_the_time_to_work_a_lead_counts_only_working_time() -> None:
    [ana] = _isa("ana", time_zone=NY, hours=Window(start=time(9), end=time(17)),
                 days=frozenset(range(5)))  # fmt: skip
    half_hour = timedelta(minutes=30)
    assert work_by(ana, MONDAY_NOON, half_hour) == MONDAY_NOON + half_hour
    friday_4_45pm = datetime(2026, 3, 6, 21, 45, tzinfo=UTC)
    monday_9_15am = datetime(2026, 3, 9, 13, 15, tzinfo=UTC)  # New York is on EDT by then
    assert work_by(ana, friday_4_45pm, half_hour) == monday_9_15am
    saturday = datetime(2026, 3, 7, 15, 0, tzinfo=UTC)
    assert work_by(ana, saturday, half_hour) == datetime(2026, 3, 9, 13, 30, tzinfo=UTC)
    [anytime] = _isa("bo")
    assert work_by(anytime, saturday, half_hour) == saturday + half_hour
    assert work_by(ana, MONDAY_NOON, timedelta(hours=10)) == datetime(
        2026, 3, 3, 19, 0, tzinfo=UTC
    )  # 5 h Monday, 5 h Tuesday from 09:00 (EST)


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
    ),
    minutes=st.integers(min_value=0, max_value=60 * 24 * 10),
    first=st.integers(min_value=0, max_value=22),
    days=st.frozensets(st.integers(min_value=0, max_value=6), min_size=1),
)
def test_speed_to_lead_in_working_hours_is_the_working_time_work_by_counts(
    start: datetime, minutes: int, first: int, days: frozenset[int]
) -> None:
    """In working hours, the time from a lead's arrival to a touch is what `work_by` would
    have given that user to act: the two count the same clock, across nights, weekends and
    the change to summer time."""
    hours = Window(start=time(first), end=time(first + 1, 30))
    [ana] = _isa("ana", time_zone=NY, hours=hours, days=days)
    within = timedelta(minutes=minutes)
    assert worked_seconds(ana, start, work_by(ana, start, within)) == minutes * 60
    [anytime] = _isa("bo")
    assert worked_seconds(anytime, start, start + within) is None  # no hours: the plain figure


def _routed_book(rule: dict[str, Any]) -> Playbook:
    data = default_playbook("isa").model_dump(mode="json")
    data["routing"] = {"rules": [rule]}
    return Playbook.model_validate(data)


def _unassigned(book: Playbook) -> Lead:
    lead = Lead.create(book, MONDAY_NOON, designations={}, created_at=MONDAY_NOON)
    return lead


def test_an_offer_that_runs_out_asks_again_past_its_rule_and_a_taker_is_heard() -> None:
    book = _routed_book({**CLAIM, "fallback": []})
    lead = _unassigned(book)
    [first] = lead.commands("route_lead")
    assert (first.attempt, first.reason, first.tried) == (1, "new", [])
    until = MONDAY_NOON + timedelta(minutes=5)
    lead.send(LeadRouted(attempt=1, rule="claim", why="offered", offered=["ana"], until=until))
    assert lead.state.routed == "offered" and lead.state.next_due == until
    lead.run_until(until)
    [_, again] = lead.commands("route_lead")
    assert (again.attempt, again.reason, again.tried) == (2, "claim_window", ["claim"])
    ana = Member(id="ana", name="Ana")
    lead.send(LeadRouted(attempt=1, rule="claim", designation="isa", agent=ana, why="late"))
    assert lead.state.designations.get("isa") is None  # an answer to a superseded attempt
    lead.send(LeadRouted(attempt=2, rule="claim", designation="isa", agent=ana, why="took it"))
    assert lead.state.designations["isa"] == ana and lead.state.routed_to == "ana"
    lead.send(LeadRouted(attempt=2, rule="claim", designation="isa", agent=ana, why="took it"))
    assert [a.reason for a in lead.audits("note")].count("took it") == 1  # heard twice: once


def test_a_user_who_does_not_work_the_lead_in_time_loses_it() -> None:
    book = _routed_book({"name": "team", "designation": "isa", "work_within": "30m"})
    lead = _unassigned(book)
    ana = Member(id="ana", name="Ana")
    by = MONDAY_NOON + timedelta(minutes=30)
    lead.send(LeadRouted(attempt=1, rule="team", designation="isa", agent=ana, why="rr",
                         work_by=by))  # fmt: skip
    lead.run_until(by)
    [_, again] = lead.commands("route_lead")
    assert (again.attempt, again.reason, again.tried) == (2, "unworked", ["team"])
    assert "ana took no action on the lead in time" in [a.reason for a in lead.audits("note")]
    bo = Member(id="bo", name="Bo")
    later = lead.now
    lead.send(LeadRouted(attempt=2, rule="team", designation="isa", agent=bo, why="rr",
                         work_by=later + timedelta(minutes=30)))  # fmt: skip
    lead.send(CallLogged(disposition="No Answer", actor="bo"), at=later + timedelta(minutes=10))
    lead.run_for(timedelta(hours=2))
    assert len(lead.commands("route_lead")) == 2  # bo worked it: it stays his


def test_speed_to_lead_is_the_first_human_action_recorded_once() -> None:
    lead = Lead.create("isa", MONDAY_NOON, created_at=MONDAY_NOON)
    lead.send(StatusChanged(milestone="Prospect", status="Engaged", actor="system"),
              at=MONDAY_NOON + timedelta(minutes=1))  # fmt: skip
    assert lead.commands("first_touch") == []  # the system is not a person
    lead.send(CallLogged(disposition="No Answer", actor="ana"),
              at=MONDAY_NOON + timedelta(minutes=3, seconds=12))  # fmt: skip
    lead.send(CallLogged(disposition="No Answer", actor="bo"), at=MONDAY_NOON + timedelta(hours=1))
    [touch] = lead.commands("first_touch")
    assert touch.by == "ana" and touch.at == MONDAY_NOON + timedelta(minutes=3, seconds=12)
    reasons = [a.reason for a in lead.audits("note")]
    assert "first human touch by ana, 3 min 12 s after it came in" in reasons
    older = Lead.create("isa", MONDAY_NOON)  # a lead from before it kept when it came in
    older.send(CallLogged(disposition="No Answer", actor="ana"), at=MONDAY_NOON)
    assert older.commands("first_touch") == []


def test_a_closed_status_or_a_hand_given_designation_closes_the_assignment() -> None:
    data = default_playbook("isa").model_dump(mode="json")
    data["routing"] = {
        "rules": [{"name": "team", "designation": "isa", "work_within": "30m"}],
        "closed_statuses": ["Do Not Call"],
    }
    book = Playbook.model_validate(data)
    ana = Member(id="ana", name="Ana")
    for change, why in (
        (StatusChanged(milestone="Prospect", status="Do Not Call", actor="ana"),
         "routing closed: the lead is Do Not Call"),
        (DesignationsChanged(assignments={"isa": Member(id="lena", name="Lena")}),
         "routing closed: isa given to lena by hand"),
    ):  # fmt: skip
        lead = _unassigned(book)
        lead.send(LeadRouted(attempt=1, rule="team", designation="isa", agent=ana, why="rr",
                             work_by=MONDAY_NOON + timedelta(minutes=30)))  # fmt: skip
        lead.send(change, at=MONDAY_NOON + timedelta(minutes=5))
        [closed] = lead.commands("close_routing")
        assert closed.why == why and lead.state.routed == "closed"
        lead.run_for(timedelta(hours=1))  # its time to be worked ended with it
        assert len(lead.commands("route_lead")) == 1
        lead.send(LeadRouted(attempt=1, rule="team", designation="isa", agent=ana, why="late"))
        assert lead.state.designations["isa"].id != "ana" or why.endswith("Do Not Call")
    data["routing"]["closed_statuses"] = ["Gone"]
    from leadflow.playbook.check import problems

    found = dict(problems(Playbook.model_validate(data)))
    assert found["routing.closed_statuses[0]"] == "unknown status 'Gone'"
    plain = _routing({"name": "team", "designation": "isa"}).model_dump(mode="json")
    assert "closed_statuses" not in plain  # a routing without: its JSON as before
