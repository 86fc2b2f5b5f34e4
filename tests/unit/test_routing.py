"""Routing as playbook data and its decision: rules checked by `playbook check`, the first
rule a lead meets, round robin even and weighted, eligibility (away, hours in the user's
own zone, licences, caps), fallbacks in order, and the words each answer gives. A
property over a week of random arrivals, availabilities and caps: no rule is ever broken,
and the chain's order holds."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadflow.engine import localtime
from leadflow.engine.routing import Agent, Facts, Load, Rotation, Routed, route, why_not
from leadflow.playbook.check import problems
from leadflow.playbook.load import default_playbook
from leadflow.playbook.routing import Routing, chain
from leadflow.playbook.schema import Playbook, Window

MONDAY_NOON = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # 12:00 in New York
NINE_TO_FIVE = Window(start=time(9), end=time(17))


def _routing(*rules: dict[str, Any], owner: str | None = None) -> Routing:
    return Routing.model_validate({"rules": list(rules), "owner": owner})


def _isa(*ids: str, **more: Any) -> list[Agent]:
    return [Agent(id=i, designations=frozenset({"isa"}), **more) for i in ids]


def _spread(routing: Routing, agents: list[Agent], leads: int) -> Counter[str]:
    rotations: dict[str, Rotation] = {}
    given: Counter[str] = Counter()
    for _ in range(leads):
        routed = route(routing, Facts(), agents, MONDAY_NOON, {}, rotations)
        assert routed.agent is not None and routed.rule is not None
        if routed.rotation is not None:
            rotations[routed.rule] = routed.rotation
        given[routed.agent] += 1
    return given


def test_routing_is_checked_with_the_playbook_naming_each_problem() -> None:
    book = default_playbook("isa")
    data = book.model_dump(mode="json")
    data["routing"] = {
        "rules": [
            {"name": "florida", "when": {"regions": ["FL"]}, "designation": "isa",
             "fallback": ["spanish"]},
            {"name": "spanish", "when": {"languages": ["es"]}, "designation": "closer",
             "fallback": ["florida", "nowhere"]},
            {"name": "vip", "when": {"tags": ["vip"]}, "designation": "isa"},
        ]
    }  # fmt: skip
    found = dict(problems(Playbook.model_validate(data)))
    assert found["routing.rules[2].when"] == "the last rule is the catch-all: no criteria"
    assert found["routing.rules[1].designation"] == "unknown designation 'closer'"
    assert found["routing.rules[1].fallback[1]"] == "unknown rule 'nowhere'"
    assert found["routing"].startswith("fallbacks loop: florida -> spanish -> florida")
    data["routing"] = {"rules": [{"name": "all", "designation": "isa"}] * 2}
    found = dict(problems(Playbook.model_validate(data)))
    assert found["routing.rules[0].name"] == "rule 'all' is named twice"
    assert found["routing.rules[0].when"] == "a rule with no criteria takes every lead: put it last"
    data["routing"] = {"rules": [{"name": "everyone", "designation": "isa"}]}
    assert problems(Playbook.model_validate(data)) == []
    assert "routing" not in book.model_dump(mode="json")  # a playbook without: as before


def test_the_first_rule_a_lead_meets_decides_and_round_robin_is_even() -> None:
    routing = _routing(
        {"name": "spanish", "when": {"languages": ["es"]}, "designation": "isa",
         "group": ["ana"]},
        {"name": "team", "designation": "isa"},
    )  # fmt: skip
    agents = _isa("ana", "bo", "cy")
    spanish = route(routing, Facts(language="es"), agents, MONDAY_NOON, {}, {})
    assert (spanish.rule, spanish.agent) == ("spanish", "ana")
    assert spanish.why == "spanish: round robin, ana first"
    first = route(routing, Facts(), agents, MONDAY_NOON, {}, {})
    assert first.rotation is not None
    second = route(routing, Facts(), agents, MONDAY_NOON, {}, {"team": first.rotation})
    assert (first.agent, second.agent) == ("ana", "bo")
    assert second.why == "team: round robin, bo, next after ana"
    given = _spread(routing, agents, 1000)
    assert max(given.values()) - min(given.values()) <= 1


def test_weighted_round_robin_keeps_every_share_within_one_lead() -> None:
    routing = _routing({"name": "team", "designation": "isa", "weights": {"ana": 3, "bo": 2}})
    agents = _isa("ana", "bo", "cy")  # cy: one share
    rotations: dict[str, Rotation] = {}
    given: Counter[str] = Counter()
    for n in range(1, 1001):
        routed = route(routing, Facts(), agents, MONDAY_NOON, {}, rotations)
        assert routed.agent is not None and routed.rotation is not None
        rotations["team"] = routed.rotation
        given[routed.agent] += 1
        for who, share in (("ana", 3), ("bo", 2), ("cy", 1)):
            assert abs(given[who] - n * share / 6) < 1.0 + 1e-9, (n, given)
    assert "by weight (3 shares)" in route(routing, Facts(), agents, MONDAY_NOON, {}, {}).why


def test_who_may_not_take_a_lead_and_why() -> None:
    routing = _routing({"name": "team", "designation": "isa", "caps": {"per_day": 2, "open": 5}})
    rule = routing.rules[0]
    texas = Facts(region="TX")
    away = Agent("ana", frozenset({"isa"}), away=True)
    assert why_not(away, rule, texas, MONDAY_NOON, Load()) == "ana is away"
    west = Agent("ana", frozenset({"isa"}), time_zone="America/Los_Angeles", hours=NINE_TO_FIVE)
    assert why_not(west, rule, texas, MONDAY_NOON, Load()) is None  # 09:00 in Los Angeles
    early = MONDAY_NOON - timedelta(hours=1)
    said = why_not(west, rule, texas, early, Load())
    assert said == "ana works 09:00-17:00 America/Los_Angeles, it is 08:00"
    weekdays = Agent("ana", frozenset({"isa"}), days=frozenset(range(5)))
    sunday = MONDAY_NOON - timedelta(days=1)
    assert why_not(weekdays, rule, texas, sunday, Load()) == "ana does not work on Sundays"
    licensed = Agent("ana", frozenset({"isa"}), licensed=frozenset({"FL", "GA"}))
    assert why_not(licensed, rule, texas, MONDAY_NOON, Load()) == "ana holds no licence in TX"
    assert why_not(licensed, rule, Facts(region="FL"), MONDAY_NOON, Load()) is None
    free = Agent("ana", frozenset({"isa"}))
    assert why_not(free, rule, texas, MONDAY_NOON, Load(today=2)) == (
        "ana was given 2 today (cap 2)"
    )
    assert why_not(free, rule, texas, MONDAY_NOON, Load(open=5)) == "ana holds 5 open (cap 5)"


def test_a_lead_nobody_may_take_goes_along_the_chain_then_to_the_owner_or_waits() -> None:
    routing = _routing(
        {"name": "closers", "when": {"tags": ["hot"]}, "designation": "isa",
         "group": ["ana"], "fallback": ["backup"]},
        {"name": "backup", "when": {"tags": ["never"]}, "designation": "isa",
         "group": ["bo", "cy"], "fallback": ["last"]},
        {"name": "last", "designation": "isa", "group": ["dee"]},
        owner="olga",
    )  # fmt: skip
    hot = Facts(tags=frozenset({"hot"}))
    assert [r.name for r in chain(routing, routing.rules[0])] == ["closers", "backup", "last"]
    agents = [*_isa("ana", away=True), *_isa("bo", "cy"), *_isa("dee")]
    backup = route(routing, hot, agents, MONDAY_NOON, {}, {})
    assert (backup.rule, backup.agent) == ("backup", "bo")
    assert backup.why == (
        "backup: round robin, bo first after closers: nobody eligible (ana is away)"
    )
    everyone_away = [Agent(a.id, a.designations, away=True) for a in agents]
    owned = route(routing, hot, everyone_away, MONDAY_NOON, {}, {})
    assert owned.agent == "olga" and owned.rule is None
    assert owned.why.startswith("to the owner olga: closers: nobody eligible (ana is away);")
    assert owned.why.endswith("last: nobody eligible (dee is away)")
    alone = _routing({"name": "team", "designation": "isa"})
    waits = route(alone, hot, everyone_away[:1], MONDAY_NOON, {}, {})
    said = "waits for the first who may take it: team: nobody eligible (ana is away)"
    assert waits == Routed(None, said)
    assert route(routing, Facts(), agents, MONDAY_NOON, {}, {}).agent == "dee"  # catch-all


def test_round_robin_passes_over_who_may_not_take_it_and_says_so() -> None:
    routing = _routing({"name": "team", "designation": "isa"})
    agents = [*_isa("ana"), *_isa("bo", away=True), *_isa("cy")]
    routed = route(routing, Facts(), agents, MONDAY_NOON, {}, {"team": Rotation(last="ana")})
    assert routed.agent == "cy"
    assert routed.why == "team: round robin, cy, next after ana (bo is away)"


HOURS = st.one_of(
    st.none(),
    st.tuples(st.integers(0, 20), st.integers(1, 4)).map(
        lambda s: Window(start=time(s[0]), end=time(min(s[0] + s[1], 23)))
    ),
)
ZONES = st.sampled_from(["America/New_York", "America/Chicago", "America/Los_Angeles", "UTC"])
AGENTS = st.lists(
    st.builds(
        Agent,
        id=st.sampled_from(["ana", "bo", "cy", "dee", "eli", "fay"]),
        designations=st.just(frozenset({"isa"})),
        time_zone=ZONES,
        hours=HOURS,
        days=st.frozensets(st.integers(0, 6), min_size=1),
        away=st.booleans(),
        licensed=st.one_of(st.none(), st.frozensets(st.sampled_from(["FL", "TX", "CA"]))),
    ),
    min_size=1,
    max_size=6,
    unique_by=lambda a: a.id,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    agents=AGENTS,
    arrivals=st.lists(  # on a quarter-hour grid: shifts' edges come up often
        st.integers(0, 7 * 24 * 4 - 1).map(lambda q: q * 15), min_size=1, max_size=120
    ),
    regions=st.lists(st.sampled_from(["FL", "TX", "CA", None]), min_size=1),
    per_day=st.one_of(st.none(), st.integers(1, 5)),
    open_cap=st.one_of(st.none(), st.integers(1, 8)),
    closes=st.lists(st.booleans(), min_size=1),
    split=st.integers(0, 6),
)
def test_over_a_week_no_rule_is_broken_and_the_chain_keeps_its_order(
    agents: list[Agent],
    arrivals: list[int],
    regions: list[str | None],
    per_day: int | None,
    open_cap: int | None,
    closes: list[bool],
    split: int,
) -> None:
    ids = sorted(a.id for a in agents)
    caps = {"per_day": per_day, "open": open_cap}
    routing = _routing(
        {"name": "first", "when": {"sources": ["web"]}, "designation": "isa",
         "group": ids[:split] or ids[:1], "caps": caps, "fallback": ["rest"]},
        {"name": "rest", "when": {"sources": ["never"]}, "designation": "isa",
         "group": ids[split:] or ids[-1:], "caps": caps},
        {"name": "everyone", "designation": "isa", "caps": caps},
    )  # fmt: skip
    given_on: dict[tuple[str, object], int] = Counter()
    holding: Counter[str] = Counter()
    rotations: dict[str, Rotation] = {}
    start = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
    by_id = {a.id: a for a in agents}
    for n, minute in enumerate(sorted(arrivals)):
        now = start + timedelta(minutes=minute)
        facts = Facts(source="web", region=regions[n % len(regions)])
        loads = {
            a.id: Load(
                today=given_on[(a.id, localtime.to_local(now, a.time_zone).date())],
                open=holding[a.id],
            )
            for a in agents
        }
        routed = route(routing, facts, agents, now, loads, rotations)
        # The oracle: who may take it in each rule of the chain, in order, stated apart.
        for rule_name in ("first", "rest"):
            rule = routing.rule(rule_name)
            members = [by_id[i] for i in (rule.group or ids) if i in by_id]
            able = [a.id for a in members if _may(a, facts, now, loads[a.id], per_day, open_cap)]
            if able:
                assert routed.rule == rule_name and routed.agent in able, (routed, able)
                break
        else:
            assert routed.agent is None and routed.rule is None
            continue
        assert routed.agent is not None and routed.rotation is not None
        rotations[rule_name] = routed.rotation
        given_on[(routed.agent, localtime.to_local(now, by_id[routed.agent].time_zone).date())] += 1
        holding[routed.agent] += 1
        if closes[n % len(closes)]:
            holding[routed.agent] -= 1  # worked and closed before the next arrives


def _may(
    agent: Agent, facts: Facts, now: datetime, load: Load, per_day: int | None, open_cap: int | None
) -> bool:
    local = localtime.to_local(now, agent.time_zone)
    return (
        not agent.away
        and local.weekday() in agent.days
        and (agent.hours is None or agent.hours.start <= local.time() < agent.hours.end)
        and (agent.licensed is None or facts.region in agent.licensed)
        and (per_day is None or load.today < per_day)
        and (open_cap is None or load.open < open_cap)
    )
