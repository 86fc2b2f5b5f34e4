"""The law at the moment of contact, on real PostgreSQL with the real Twilio SDK against the
fake: a text is never sent after its window, Twilio is told how long the window has left,
caps count every lead of the account with the person's number, and no agent is handed a
call after its window or for a number opted out of calls anywhere in the account."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from leadflow.activities.payloads import SendRequest
from leadflow.activities.send import SendActivities
from leadflow.activities.window import CLOSING, LONGEST_VALIDITY
from leadflow.engine.commands import CapCheck
from leadflow.store import queue
from leadflow.store.tables import CallQueueEntry, Lead, OptOut, OutboxMessage
from tests.services import ProvidersUnderTest

PHONE = "+13055550111"  # Miami: Florida's three a day to one person


async def _lead(db: AsyncEngine, lead_id: str) -> None:
    async with db.begin() as conn:
        found = (await conn.execute(select(Lead.lead_id).where(Lead.lead_id == lead_id))).first()
        if found is None:
            await conn.execute(
                insert(Lead).values(
                    account_id="acme",
                    lead_id=lead_id,
                    workflow_id=f"lead:acme:{lead_id}",
                    milestone="Prospect",
                    status="New",
                    time_zone="America/New_York",
                )
            )


async def _text(
    db: AsyncEngine,
    key: str,
    *,
    lead_id: str = "L1",
    send_by: datetime | None = None,
    caps: list[CapCheck] | None = None,
) -> SendRequest:
    """An outbox text as a decision on the second state-law table writes it."""
    await _lead(db, lead_id)
    async with db.begin() as conn:
        await conn.execute(
            insert(OutboxMessage).values(
                key=key,
                account_id="acme",
                lead_id=lead_id,
                channel="sms",
                party="borrower",
                to_address=PHONE,
                sender_id="isa-1",
                template="intro",
                body=f"Hi Pat ({key})",
                media=[],
                send_by=send_by,
                caps=[c.model_dump(mode="json") for c in caps] if caps else None,
            )
        )
    return SendRequest(key=key)


async def _row(db: AsyncEngine, key: str) -> Any:
    async with db.connect() as conn:
        query = select(OutboxMessage.__table__).where(OutboxMessage.key == key)
        return (await conn.execute(query)).one()


async def _send(db: AsyncEngine, providers: ProvidersUnderTest, request: SendRequest) -> Any:
    return await ActivityEnvironment().run(
        SendActivities(db, providers.config).send_message, request
    )


async def test_a_text_whose_window_has_closed_is_not_sent_and_comes_back_to_the_lead(
    db: AsyncEngine, providers: ProvidersUnderTest
) -> None:
    closes = datetime.now(UTC) + CLOSING / 2  # less than a minute of its window left
    request = await _text(db, "late", send_by=closes)
    with pytest.raises(ApplicationError) as ended:
        await _send(db, providers, request)
    assert ended.value.type == "WindowClosed" and ended.value.non_retryable
    assert providers.state.messages == []  # never reached Twilio
    row = await _row(db, "late")
    assert row.status == "expired" and row.error.startswith("WindowClosed: its window closed")
    # A retried attempt ends the same, without the provider.
    with pytest.raises(ApplicationError) as again:
        await _send(db, providers, request)
    assert again.value.type == "WindowClosed" and providers.state.messages == []


async def test_a_text_in_doubt_past_its_window_is_looked_up_not_resent(
    db: AsyncEngine, providers: ProvidersUnderTest
) -> None:
    """An earlier attempt may have reached Twilio: found there, it is sent (it went in its
    window); not found, it is not sent late."""
    for key, lookups_find_nothing in (("found", False), ("lost", True)):
        providers.state.lookups_find_nothing = lookups_find_nothing
        from leadflow.providers.fake import Failure

        providers.state.failures.append(Failure(to=PHONE, code=500, after_send=True))
        request = await _text(db, key, send_by=datetime.now(UTC) + timedelta(hours=1))
        with pytest.raises(ApplicationError):
            await _send(db, providers, request)
        assert (await _row(db, key)).status == "unknown"
        async with db.begin() as conn:  # the window closes while the message is in doubt
            closed = datetime.now(UTC) - timedelta(seconds=1)
            await conn.execute(
                update(OutboxMessage).where(OutboxMessage.key == key).values(send_by=closed)
            )
        if key == "found":
            result = await _send(db, providers, request)
            assert result.provider_id and (await _row(db, key)).status == "sent"
        else:
            with pytest.raises(ApplicationError) as ended:
                await _send(db, providers, request)
            assert ended.value.type == "WindowClosed"
    assert len(providers.state.messages) == 2  # each taken once by Twilio, never again


async def test_twilio_is_told_to_drop_the_text_when_its_window_ends(
    db: AsyncEngine, providers: ProvidersUnderTest
) -> None:
    soon = datetime.now(UTC) + timedelta(minutes=30)
    await _send(db, providers, await _text(db, "soon", send_by=soon))
    await _send(db, providers, await _text(db, "all-day", send_by=soon + timedelta(days=2)))
    await _send(db, providers, await _text(db, "before", send_by=None))
    validity = {m["body"]: m["validity_period"] for m in providers.state.messages}
    assert 29 * 60 <= int(validity["Hi Pat (soon)"]) <= 30 * 60
    assert int(validity["Hi Pat (all-day)"]) == LONGEST_VALIDITY
    assert validity["Hi Pat (before)"] is None  # a lead on an earlier table: as before


FLORIDA = CapCheck(
    max=3, per=timedelta(hours=24), counts=["call", "sms", "mms"], why="frequency cap: FL"
)


async def test_a_cap_counts_every_lead_of_the_account_with_the_same_number(
    db: AsyncEngine, providers: ProvidersUnderTest
) -> None:
    """Two leads with one phone are one person: three texts between them, then the fourth
    waits until the first is 24 hours old, or for the next window if that is later."""
    open_late = datetime.now(UTC) + timedelta(days=2)
    async with db.begin() as conn:  # another account texted the number three times today
        await conn.execute(
            insert(Lead).values(
                account_id="beta",
                lead_id="B1",
                workflow_id="lead:beta:B1",
                milestone="Prospect",
                status="New",
                time_zone="America/New_York",
            )
        )
        for n in range(3):
            await conn.execute(
                insert(OutboxMessage).values(
                    key=f"beta-{n}",
                    account_id="beta",
                    lead_id="B1",
                    channel="sms",
                    party="borrower",
                    to_address=PHONE,
                    sender_id="x",
                    template="x",
                    body="x",
                    media=[],
                    status="sent",
                    provider_id=f"SMbeta{n}",
                    attempted_at=datetime.now(UTC),
                )
            )
    for n, lead in enumerate(["L1", "L2", "L1"]):  # beta's count for nobody here
        await _send(db, providers, await _text(db, f"t{n}", lead_id=lead, caps=[FLORIDA]))
    fourth = await _text(db, "t3", lead_id="L2", send_by=open_late, caps=[FLORIDA])
    with pytest.raises(ApplicationError) as waits:
        await _send(db, providers, fourth)
    assert waits.value.type == "CapReached" and not waits.value.non_retryable
    first = (await _row(db, "t0")).attempted_at
    wait = waits.value.next_retry_delay
    assert wait is not None
    assert abs(datetime.now(UTC) + wait - (first + timedelta(hours=24))) < timedelta(seconds=5)
    assert (await _row(db, "t3")).status == "queued" and len(providers.state.messages) == 3
    # The same text whose window ends before the cap frees waits for the next window.
    tonight = datetime.now(UTC) + timedelta(hours=2)
    fifth = await _text(db, "t4", lead_id="L2", send_by=tonight, caps=[FLORIDA])
    with pytest.raises(ApplicationError) as closed:
        await _send(db, providers, fifth)
    assert closed.value.type == "WindowClosed" and (await _row(db, "t4")).status == "expired"
    assert len(providers.state.messages) == 3


_numbered = itertools.count(1000)
# A plan: texts from up to four leads to two numbers, sent in groups at once (races).
plans = st.lists(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 1)), min_size=1, max_size=4),
    min_size=1,
    max_size=4,
)


@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(plan=plans, most=st.integers(1, 3))
async def test_racing_texts_to_one_person_never_pass_a_cap_and_never_all_wait(
    db: AsyncEngine, providers: ProvidersUnderTest, plan: list[list[tuple[int, int]]], most: int
) -> None:
    """Whatever leads text whichever numbers, in whatever races: each number gets exactly
    as many texts as the cap allows of those asked (none more, and never fewer because the
    racing texts each waited on the other); the others wait (`CapReached`)."""
    run = uuid.uuid4().hex[:6]
    numbers = [f"+1305555{next(_numbered):04d}" for _ in range(2)]  # this example's own
    cap = CapCheck(max=most, per=timedelta(hours=24), counts=["sms"], why="frequency cap")
    asked = {number: 0 for number in numbers}
    outcomes: list[str] = []

    async def one(key: str, lead: int, number: str) -> None:
        request = await _text(db, key, lead_id=f"P{run}-{lead}", caps=[cap])
        async with db.begin() as conn:
            await conn.execute(
                update(OutboxMessage).where(OutboxMessage.key == key).values(to_address=number)
            )
        try:
            await _send(db, providers, request)
            outcomes.append("sent")
        except ApplicationError as exc:
            outcomes.append(exc.type or "?")

    for lead in range(4):
        await _lead(db, f"P{run}-{lead}")
    for g, group in enumerate(plan):
        for _, n in group:
            asked[numbers[n]] += 1
        await asyncio.gather(
            *(one(f"{run}-{g}-{i}", lead, numbers[n]) for i, (lead, n) in enumerate(group))
        )
    assert set(outcomes) <= {"sent", "CapReached"}
    for number, count in asked.items():
        sent = [m for m in providers.state.messages if m["to"] == number]
        assert len(sent) == min(most, count), (number, count, most)


NOW = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)


async def _call(
    db: AsyncEngine, lead_id: str, *, until: datetime | None, phone: str | None = PHONE
) -> None:
    await _lead(db, lead_id)
    async with db.begin() as conn:
        await conn.execute(
            insert(CallQueueEntry).values(
                account_id="acme",
                lead_id=lead_id,
                key=f"k-{lead_id}",
                label="Redial",
                priority=50,
                available_at=NOW - timedelta(hours=1),
                notes="",
                callable_until=until,
                phone=phone,
            )
        )


async def test_no_call_is_handed_out_after_its_window_or_to_an_opted_out_number(
    db: AsyncEngine,
) -> None:
    await _call(db, "closed", until=NOW - timedelta(minutes=1), phone="+13055550001")
    await _call(db, "opted-out", until=NOW + timedelta(hours=3), phone="+13055550002")
    await _call(db, "open", until=NOW + timedelta(hours=3), phone="+13055550003")
    async with db.begin() as conn:  # a Do Not Call on another lead of the account
        await conn.execute(
            insert(OptOut).values(
                account_id="acme",
                channel="call",
                address="+13055550002",
                source="Do Not Call",
                at=NOW,
            )
        )
    due = await queue.due(db, "acme", now=NOW)
    assert [c.lead_id for c in due] == ["open"]
    first = await queue.claim_next(db, "acme", "ana", now=NOW)
    assert first is not None and first.lead_id == "open"
    assert await queue.claim_next(db, "acme", "ana", now=NOW) is None
    # A call its lead moved on to the next window is handed out then.
    async with db.begin() as conn:
        await conn.execute(
            update(CallQueueEntry)
            .where(CallQueueEntry.lead_id == "closed")
            .values(
                available_at=NOW + timedelta(hours=16), callable_until=NOW + timedelta(hours=28)
            )
        )
    later = await queue.claim_next(db, "ana", "ana", now=NOW + timedelta(hours=17))
    assert later is None  # another account's agent sees none of it
    moved = await queue.claim_next(db, "acme", "ana", now=NOW + timedelta(hours=17))
    assert moved is not None and moved.lead_id == "closed"
