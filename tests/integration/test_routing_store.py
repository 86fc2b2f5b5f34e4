"""Routing against the team on real PostgreSQL: a thousand leads arriving together across
twenty users are each given once, in turn, never past a cap; the leads the caps leave over
wait, saying why; asked again (a retried activity), a lead gets the answer it got; a user
away, or outside their hours in their own zone, is passed over. Twenty users accepting one
offer at once: exactly one takes it, every other is told who did."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.engine.commands import RouteLead
from leadflow.playbook.routing import Routing
from leadflow.store import claims
from leadflow.store import routing as store
from leadflow.store.accounts import ensure_account
from leadflow.store.routing_tables import RoutingAssignment
from leadflow.store.users import save_user

NOON = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # Monday, 12:00 in New York
AGENTS = [f"agent-{i:02d}" for i in range(20)]
FIRST = RouteLead(attempt=1)


async def _team(db: AsyncEngine) -> None:
    await ensure_account(db, "acme", "Acme", "isa")
    for agent in AGENTS:
        await save_user(db, "acme", agent, agent.title(), None, None, ["isa"])


async def test_a_thousand_leads_at_once_are_each_given_once_in_turn_and_within_caps(
    db: AsyncEngine,
) -> None:
    await _team(db)
    routing = Routing.model_validate(
        {"rules": [{"name": "team", "designation": "isa", "caps": {"per_day": 45}}]}
    )
    leads = [f"L-{i:04d}" for i in range(1000)]

    async def arrive(lead: str) -> str | None:
        routed = await store.assign(db, "acme", lead, FIRST, routing, NOON)
        return routed.agent

    given = await asyncio.gather(*(arrive(lead) for lead in leads))
    counts = Counter(a for a in given if a is not None)
    assert sorted(counts) == AGENTS and set(counts.values()) == {45}  # 900 given, evenly
    assert given.count(None) == 100
    async with db.connect() as conn:
        rows = (
            await conn.execute(select(func.count()).select_from(RoutingAssignment))
        ).scalar_one()
    assert rows == 1000  # one row a lead: none given twice, none lost
    # Asked again, a lead reads its answer; nothing moves.
    again = await asyncio.gather(*(arrive(lead) for lead in leads[:50]))
    assert again == given[:50]
    waited = await store.assignments(db, "acme", leads[given.index(None)])
    assert waited[0].why.startswith("waits for the first who may take it: team: nobody eligible")
    assert "was given 45 today (cap 45)" in waited[0].why


async def test_who_is_away_or_off_shift_is_passed_over_and_the_turn_goes_on(
    db: AsyncEngine,
) -> None:
    await _team(db)
    routing = Routing.model_validate({"rules": [{"name": "team", "designation": "isa"}]})
    three = AGENTS[:3]
    for agent in AGENTS[3:]:
        await store.set_availability(
            db, "acme", agent, time_zone="UTC", hours=None, days=range(7), away=True, licensed=None
        )
    await store.set_availability(  # 09:00-17:00 in Los Angeles: it is 09:00 there at NOON
        db,
        "acme",
        three[1],
        time_zone="America/Los_Angeles",
        hours=(time(10), time(17)),
        days=range(5),
        away=False,
        licensed=None,
    )
    first = await store.assign(db, "acme", "A", FIRST, routing, NOON)
    second = await store.assign(db, "acme", "B", FIRST, routing, NOON)
    assert (first.agent, second.agent) == (three[0], three[2])
    assert second.why == (
        f"team: round robin, {three[2]}, next after {three[0]} "
        f"({three[1]} works 10:00-17:00 America/Los_Angeles, it is 09:00)"
    )
    [kept] = await store.assignments(db, "acme", "B")
    assert kept.agent == three[2] and kept.why == second.why


async def test_of_twenty_users_accepting_one_offer_at_once_exactly_one_takes_it(
    db: AsyncEngine,
) -> None:
    await _team(db)
    routing = Routing.model_validate(
        {"rules": [{"name": "claim", "designation": "isa", "mode": "first_to_claim"}]}
    )
    offered = await store.assign(db, "acme", "L", FIRST, routing, NOON)
    assert sorted(offered.offered) == AGENTS and offered.agent is None

    async def accept(user: str) -> str:
        try:
            taken = await claims.claim(db, "acme", "L", user, NOON + timedelta(minutes=1))
        except claims.ClaimRefused as exc:
            return str(exc)
        return f"taken by {taken.routed.agent}"

    answers = await asyncio.gather(*(accept(user) for user in AGENTS))
    [won] = [a for a in answers if a.startswith("taken by")]
    winner = won.removeprefix("taken by ")
    assert answers.count(f"{winner} took it first") == 19
    [row] = await store.history(db, "acme", "L")
    assert row["agent"] == winner and row["taken_at"] == NOON + timedelta(minutes=1)
    late = RouteLead(attempt=2, reason="claim_window", tried=["claim"])
    heard = await store.assign(db, "acme", "L", late, routing, NOON + timedelta(minutes=5))
    assert heard.agent == winner and heard.why == f"claim: {winner} took it first"
    assert [r["closed_at"] is None for r in await store.history(db, "acme", "L")] == [False, True]
