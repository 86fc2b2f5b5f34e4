"""The call queue follows routing, on real PostgreSQL: an agent's claim takes the calls of
the leads routing gave them first, whatever their priority, and never the call of a lead
routing gave another user who is on duty; once that user is away or off shift, anyone may
take it. A call under a cap on its number is picked again by the same rules."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.engine.commands import CapCheck, QueueCall, RouteLead
from leadflow.engine.refs import LeadRef
from leadflow.playbook.routing import Routing
from leadflow.store import routing as store
from leadflow.store.accounts import ensure_account
from leadflow.store.db import run_together
from leadflow.store.queue import claim_next, entry_upsert, unhold, waiting
from leadflow.store.tables import Lead
from leadflow.store.users import save_user

NOON = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # Monday, 12:00 in New York, 09:00 in LA
TEAM = ["ana", "bo", "cy", "dee"]
FLORIDA = CapCheck(max=3, per=timedelta(days=1), counts=["call", "sms", "mms"], why="FL")


async def _routed(db: AsyncEngine, leads: list[str]) -> dict[str, str | None]:
    """The team, and the leads given to it in turn (ana, bo, cy, dee, then nobody: its
    rule's open cap of one)."""
    await ensure_account(db, "acme", "Acme", "isa")
    for user in TEAM:
        await save_user(db, "acme", user, user.title(), None, None, ["isa"])
    routing = Routing.model_validate(
        {"rules": [{"name": "team", "designation": "isa", "caps": {"open": 1}}]}
    )
    given = {}
    for lead in leads:
        routed = await store.assign(db, "acme", lead, RouteLead(attempt=1), routing, NOON)
        given[lead] = routed.agent
    return given


async def _queue(db: AsyncEngine, calls: dict[str, tuple[int, bool]]) -> None:
    """A due call for each lead at its priority, under Florida's cap or not, queued as the
    lead's workflow queues it."""
    leads = [
        {
            "account_id": "acme",
            "lead_id": lead,
            "workflow_id": f"lead:acme:{lead}",
            "milestone": "Prospect",
            "status": "New",
            "time_zone": "America/New_York",
        }
        for lead in calls
    ]
    async with db.begin() as conn:
        await conn.execute(insert(Lead), leads)
    for n, (lead, (priority, capped)) in enumerate(calls.items()):
        call = QueueCall(
            key=f"k-{lead}",
            label="Redial",
            priority=priority,
            available_at=NOON - timedelta(minutes=5),
            phone=f"+1305555{n:04d}",
            caps=[FLORIDA] if capped else [],
        )
        await run_together(db, [entry_upsert(LeadRef(account_id="acme", lead_id=lead), call, NOON)])


async def _claims(db: AsyncEngine, agent: str, at: datetime = NOON) -> list[str]:
    taken = []
    while (call := await claim_next(db, "acme", agent, now=at)) is not None:
        taken.append(call.lead_id)
    return taken


async def test_an_agent_takes_their_own_leads_calls_first_and_none_of_another_on_duty(
    db: AsyncEngine,
) -> None:
    given = await _routed(db, ["A", "B", "C", "D", "E"])
    assert given == {"A": "ana", "B": "bo", "C": "cy", "D": "dee", "E": None}
    # cy's shift starts at 10:00 in Los Angeles (09:00 there now); dee went away.
    await store.set_availability(
        db,
        "acme",
        "cy",
        time_zone="America/Los_Angeles",
        hours=(time(10), time(17)),
        days=range(5),
        away=False,
        licensed=None,
    )
    await store.set_away(db, "acme", "dee", True)
    # F was bo's too, under a cap like D: a call picked again under a cap passes over it.
    await _queue(
        db,
        {
            "A": (50, False),
            "B": (100, False),
            "C": (90, False),
            "D": (80, True),
            "E": (70, False),
        },
    )
    # ana's own lead first, though lowest; then cy's (off shift) and dee's (away) before
    # the unrouted one, by priority; never bo's, who is on duty.
    assert await _claims(db, "ana") == ["A", "C", "D", "E"]
    [left] = await waiting(db, "acme", agent="ana")
    assert left.lead_id == "B" and left.why == "bo holds its lead and is on duty"
    assert await _claims(db, "bo") == ["B"]


async def test_a_call_of_a_lead_held_by_a_user_who_goes_away_is_anyones(
    db: AsyncEngine,
) -> None:
    await _routed(db, ["A", "B"])  # ana, bo
    await _queue(db, {"A": (50, True), "B": (100, True)})
    assert await _claims(db, "cy") == []  # both holders are on duty
    # Once bo's shift is over, bo's call is anyone's, under its cap as before.
    await store.set_availability(
        db,
        "acme",
        "bo",
        time_zone="America/New_York",
        hours=(time(8), time(12)),
        days=range(5),
        away=False,
        licensed=None,
    )
    assert await _claims(db, "cy") == ["B"]
    assert await _claims(db, "ana") == ["A"]


async def test_the_call_follows_the_lead_as_routing_moves_it_and_is_freed_when_it_closes(
    db: AsyncEngine,
) -> None:
    await _routed(db, [])
    await _queue(db, {"A": (50, False)})  # queued before routing gave it to anyone
    routing = Routing.model_validate(
        {"rules": [{"name": "team", "designation": "isa", "group": ["bo", "cy"]}]}
    )
    await store.assign(db, "acme", "A", RouteLead(attempt=1), routing, NOON)  # bo
    assert await _claims(db, "ana") == []
    # bo gives it back: routing asks again and cy is given it; bo may no longer take it.
    again = RouteLead(attempt=2, reason="released", tried=["bo"])
    assert (await store.assign(db, "acme", "A", again, routing, NOON)).agent == "cy"
    assert await _claims(db, "bo") == []
    # The lead reaches a closed status: its routing closes and its call is anyone's.
    lead = LeadRef(account_id="acme", lead_id="A")
    await run_together(db, [store.close_write(lead, NOON), unhold(lead)])
    assert await _claims(db, "ana") == ["A"]
