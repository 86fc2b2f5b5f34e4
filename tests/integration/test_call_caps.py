"""Caps on a person count calls across the account: the claim hands out no call that would
pass a cap, counting the calls agents were handed on every lead with the number and the
texts tried to it; the send activity counts those calls beside the texts. Concurrent claims
to one number decide one after the other (the account's lock on the number), so together
they never pass a cap and never all give way."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.exceptions import ApplicationError

from leadflow.store import queue
from leadflow.store.tables import CallMade, CallQueueEntry, Lead, OutboxMessage
from tests.integration.test_moment_of_contact import FLORIDA, _send, _text
from tests.services import ProvidersUnderTest

NOW = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)  # 11:00 in Miami
PHONE, OTHER = "+13055550111", "+13055550122"


async def _queued(
    db: AsyncEngine,
    lead_id: str,
    phone: str,
    *,
    account: str = "acme",
    priority: int = 50,
    caps: list[dict[str, object]] | None = None,
    at: datetime = NOW,
) -> None:
    """A lead with a call due in the queue, under Florida's cap unless told otherwise."""
    async with db.begin() as conn:
        await conn.execute(
            insert(Lead).values(
                account_id=account,
                lead_id=lead_id,
                workflow_id=f"lead:{account}:{lead_id}",
                milestone="Prospect",
                status="New",
                time_zone="America/New_York",
            )
        )
        await conn.execute(
            insert(CallQueueEntry).values(
                account_id=account,
                lead_id=lead_id,
                key=f"k-{lead_id}",
                label="Redial",
                priority=priority,
                available_at=at - timedelta(hours=1),
                notes="",
                callable_until=at + timedelta(days=3),
                phone=phone,
                caps=caps if caps is not None else [FLORIDA.model_dump(mode="json")],
            )
        )


async def _text_tried(db: AsyncEngine, key: str, phone: str, at: datetime) -> None:
    async with db.begin() as conn:
        await conn.execute(
            insert(OutboxMessage).values(
                key=key,
                account_id="acme",
                lead_id="A",
                channel="sms",
                party="borrower",
                to_address=phone,
                sender_id="isa-1",
                template="intro",
                body="Hi",
                media=[],
                status="sent",
                provider_id=f"SM{key}",
                attempted_at=at,
            )
        )


async def _claims(db: AsyncEngine, at: datetime, agents: int = 6) -> list[str]:
    found = []
    for n in range(agents):
        call = await queue.claim_next(db, "acme", f"agent-{n}", now=at)
        if call is not None:
            found.append(call.lead_id)
    return found


async def test_no_call_is_handed_out_past_a_cap_counting_every_lead_with_the_number(
    db: AsyncEngine,
) -> None:
    """Florida's three a day to one person: a text tried and two calls handed out on other
    leads with the same number leave nothing for the fourth lead, which waits (off the due
    list) while a lead with another number is handed out; a call given back uncalled frees
    its place, and the day's end frees the rest."""
    for lead in ("A", "B", "C", "D"):
        await _queued(db, lead, PHONE, priority=100)
    await _queued(db, "E", OTHER, priority=10)
    await _text_tried(db, "t1", PHONE, NOW - timedelta(hours=2))
    first = await _claims(db, NOW)
    assert first[:2] == ["A", "B"] and first[2:] == ["E"]  # C and D would make four
    assert [c.lead_id for c in await queue.due(db, "acme", now=NOW)] == []
    held = [w for w in await queue.waiting(db, "acme", now=NOW, limit=10) if not w.claimed_by]
    assert [(w.lead_id, w.why.startswith("a cap on calls")) for w in held] == [
        ("C", True),
        ("D", True),
    ]
    assert await queue.release(db, "acme", "B", "agent-1")  # B was not called
    assert await _claims(db, NOW + timedelta(minutes=1)) == ["B"]
    async with db.connect() as conn:
        made = (await conn.execute(select(CallMade.lead_id).order_by(CallMade.id))).scalars()
        assert list(made) == ["A", "E", "B"]  # B's given-back claim left nothing behind
    async with db.begin() as conn:  # the calls were logged: their leads left the queue
        await conn.execute(
            delete(CallQueueEntry).where(CallQueueEntry.lead_id.in_(["A", "B", "E"]))
        )
    # A day after the text, one place frees; a day after the calls, the rest.
    next_day = NOW + timedelta(hours=22, minutes=1)
    assert await _claims(db, next_day) == ["C"]
    async with db.begin() as conn:
        await conn.execute(delete(CallQueueEntry).where(CallQueueEntry.lead_id == "C"))
    assert await _claims(db, NOW + timedelta(hours=24, minutes=2)) == ["D"]


async def test_another_accounts_calls_and_caps_that_do_not_count_calls_count_nothing(
    db: AsyncEngine,
) -> None:
    for lead in ("A", "B"):
        await _queued(db, lead, PHONE, account="beta")
    assert await queue.claim_next(db, "beta", "x", now=NOW) is not None
    texts_only = [FLORIDA.model_copy(update={"counts": ["sms"]}).model_dump(mode="json")]
    for lead in ("A", "B", "C", "D"):
        await _queued(db, lead, PHONE, caps=texts_only)
    assert sorted(await _claims(db, NOW)) == ["A", "B", "C", "D"]


async def test_a_text_counts_the_calls_agents_were_handed_on_other_leads(
    db: AsyncEngine, providers: ProvidersUnderTest
) -> None:
    """Two calls to the number handed out today, on other leads: one text may go under
    Florida's cap of three, the next waits for the first call to be a day old."""
    now = datetime.now(UTC)
    for lead in ("C1", "C2"):
        await _queued(db, lead, PHONE, at=now)
        assert (await queue.claim_next(db, "acme", "ana", now=now)) is not None
    await _send(db, providers, await _text(db, "t1", lead_id="L1", caps=[FLORIDA]))
    with pytest.raises(ApplicationError) as waits:
        later = datetime.now(UTC) + timedelta(days=2)
        await _send(
            db, providers, await _text(db, "t2", lead_id="L1", send_by=later, caps=[FLORIDA])
        )
    assert waits.value.type == "CapReached" and len(providers.state.messages) == 1
    wait = waits.value.next_retry_delay
    assert wait is not None
    assert abs(datetime.now(UTC) + wait - (now + timedelta(hours=24))) < timedelta(seconds=5)


_numbered = itertools.count(2000)
# A plan: each lead's number (one of two), and how many agents claim at once in each round.
plans = st.tuples(
    st.lists(st.integers(0, 1), min_size=1, max_size=8), st.integers(2, 6), st.integers(1, 3)
)


@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(plan=plans)
async def test_racing_claims_to_one_person_never_pass_a_cap_and_never_all_give_way(
    db: AsyncEngine, plan: tuple[list[int], int, int]
) -> None:
    """Whatever leads share whichever numbers, with agents claiming at once: each number is
    handed out exactly as often as its cap allows of the leads that have it (none more, and
    never fewer because racing claims each gave way to the other)."""
    numbers_of, agents, most = plan
    account = f"race{uuid.uuid4().hex[:8]}"
    numbers = [f"+1305555{next(_numbered):04d}" for _ in range(2)]
    cap = FLORIDA.model_copy(update={"max": most}).model_dump(mode="json")
    for lead, n in enumerate(numbers_of):
        await _queued(db, f"L{lead}", numbers[n], account=account, caps=[cap])

    async def claim(agent: int) -> bool:
        return await queue.claim_next(db, account, f"a{agent}", now=NOW) is not None

    while any(await asyncio.gather(*(claim(a) for a in range(agents)))):
        pass
    async with db.connect() as conn:
        rows = await conn.execute(
            select(CallMade.phone, func.count())
            .where(CallMade.account_id == account)
            .group_by(CallMade.phone)
        )
        handed = dict(rows.tuples().all())
    for n, number in enumerate(numbers):
        have = numbers_of.count(n)
        assert handed.get(number, 0) == min(most, have), (number, have, most, handed)
