"""The call queue on real PostgreSQL: claims never collide, priorities stay ahead, leases
lapse."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.store.queue import claim_next, release
from leadflow.store.tables import CallQueueEntry, HistoryNote, Lead, LeadParty

NOW = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)


async def _queue(
    db: AsyncEngine, calls: list[tuple[str, int, datetime]], account: str = "acme"
) -> None:
    leads = [
        {
            "account_id": account,
            "lead_id": lead,
            "workflow_id": f"lead:{account}:{lead}",
            "milestone": "Prospect",
            "status": "New",
            "time_zone": "America/Chicago",
        }
        for lead, _, _ in calls
    ]
    rows = [
        {
            "account_id": account,
            "lead_id": lead,
            "key": f"k-{lead}",
            "label": "Redial",
            "priority": priority,
            "available_at": at,
            "notes": "",
        }
        for lead, priority, at in calls
    ]
    async with db.begin() as conn:
        await conn.execute(insert(Lead), leads)
        await conn.execute(insert(CallQueueEntry), rows)


async def _logged(db: AsyncEngine, lead_id: str) -> None:
    """What logging the call does to the queue: the lead leaves it (until it returns)."""
    async with db.begin() as conn:
        await conn.execute(delete(CallQueueEntry).where(CallQueueEntry.lead_id == lead_id))


async def test_agents_claiming_at_once_never_get_the_same_call(db: AsyncEngine) -> None:
    calls = [
        (f"L{i:03d}", random.Random(i).choice([50, 80, 100]), NOW - timedelta(minutes=i))
        for i in range(300)
    ]
    await _queue(db, calls)

    async def agent(name: str) -> list[str]:
        taken: list[str] = []
        while (call := await claim_next(db, "acme", name, now=NOW)) is not None:
            taken.append(call.lead_id)
        return taken

    claimed = await asyncio.gather(*(agent(f"agent-{i}") for i in range(8)))
    everything = [lead for taken in claimed for lead in taken]
    assert len(everything) == len(set(everything)) == 300  # none twice, none lost
    assert sum(1 for taken in claimed if taken) >= 2  # the work was really shared


async def test_a_backed_up_queue_keeps_higher_priorities_ahead(db: AsyncEngine) -> None:
    rng = random.Random(7)
    calls = [
        (
            f"L{i:03d}",
            rng.choice([50, 70, 80, 90, 100]),
            NOW - timedelta(minutes=rng.randint(0, 600)),
        )
        for i in range(400)
    ]
    await _queue(db, calls)
    # Two agents for an hour, three minutes a call: 40 calls of 400 get worked.
    worked = []
    for minute in range(0, 60, 3):
        for agent in ("ana", "ben"):
            call = await claim_next(db, "acme", agent, now=NOW + timedelta(minutes=minute))
            assert call is not None
            worked.append((call.priority, call.available_at))
            await _logged(db, call.lead_id)
    expected = sorted(((p, at) for _, p, at in calls), key=lambda c: (-c[0], c[1]))[:40]
    assert worked == expected
    # The lowest priorities slipped: none of them was reached.
    assert min(p for p, _ in worked) == 100


async def test_not_yet_available_calls_wait(db: AsyncEngine) -> None:
    await _queue(db, [("later", 100, NOW + timedelta(hours=1)), ("now", 50, NOW)])
    first = await claim_next(db, "acme", "ana", now=NOW)
    assert first is not None and first.lead_id == "now"
    assert await claim_next(db, "acme", "ana", now=NOW) is None
    assert (await claim_next(db, "acme", "ana", now=NOW + timedelta(hours=1))).lead_id == "later"


async def test_a_lapsed_claim_returns_the_call_and_release_gives_it_back(db: AsyncEngine) -> None:
    await _queue(db, [("L1", 80, NOW)])
    held = await claim_next(db, "acme", "ana", now=NOW, lease=timedelta(minutes=10))
    assert held is not None and held.claimed_until == NOW + timedelta(minutes=10)
    assert await claim_next(db, "acme", "ben", now=NOW + timedelta(minutes=5)) is None
    again = await claim_next(db, "acme", "ben", now=NOW + timedelta(minutes=11))
    assert again is not None and again.lead_id == "L1"
    assert not await release(db, "acme", "L1", "ana")  # ana's lease is gone
    assert await release(db, "acme", "L1", "ben")
    assert (await claim_next(db, "acme", "cy", now=NOW + timedelta(minutes=12))) is not None


async def test_the_claimed_call_comes_with_contacts_and_recent_notes(db: AsyncEngine) -> None:
    await _queue(db, [("L1", 100, NOW)])
    async with db.begin() as conn:
        await conn.execute(
            insert(LeadParty),
            [
                {
                    "account_id": "acme",
                    "lead_id": "L1",
                    "role": "borrower",
                    "name": "Pat Lee",
                    "phone": "+13125550111",
                    "email": "pat@example.com",
                    "sms_consent": True,
                }
            ],
        )
        await conn.execute(
            insert(HistoryNote),
            [
                {
                    "key": f"n{i}",
                    "account_id": "acme",
                    "lead_id": "L1",
                    "action": "Call",
                    "milestone": "Prospect",
                    "status": "Contact Attempted",
                    "note": f"try {i}",
                    "actor": "ana",
                    "occurred_at": NOW - timedelta(hours=10 - i),
                }
                for i in range(8)
            ],
        )
    call = await claim_next(db, "acme", "ben", now=NOW)
    assert call is not None
    assert [(c.role, c.phone) for c in call.contacts] == [("borrower", "+13125550111")]
    assert [n.note for n in call.recent_notes] == ["try 7", "try 6", "try 5", "try 4", "try 3"]


async def test_accounts_never_see_each_others_calls(db: AsyncEngine) -> None:
    await _queue(db, [("A1", 100, NOW)], account="alpha")
    await _queue(db, [("B1", 50, NOW)], account="beta")
    call = await claim_next(db, "beta", "ana", now=NOW)
    assert call is not None and call.lead_id == "B1"
    assert await claim_next(db, "beta", "ana", now=NOW) is None
    async with db.connect() as conn:
        owner = (
            await conn.execute(
                select(CallQueueEntry.claimed_by).where(CallQueueEntry.lead_id == "A1")
            )
        ).scalar_one()
    assert owner is None
