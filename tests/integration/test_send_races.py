"""The send path's loose ends: two retries racing to resend, a lookup that meets another
message's provider id, a decision rewriting a row never attempted, a database that is away."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.exceptions import ApplicationError

from leadflow.activities.payloads import SendRequest
from leadflow.activities.send import SendActivities
from leadflow.engine.commands import SendMessage
from leadflow.engine.state import Member
from leadflow.store import outbox
from leadflow.store.db import create_engine
from leadflow.store.tables import OutboxMessage
from tests.integration.test_send import REF, _outbox, _row, _send
from tests.services import ProvidersUnderTest


async def test_two_racing_retries_send_once(db: AsyncEngine, providers: ProvidersUnderTest) -> None:
    """Both find the message in doubt and nothing at the provider; only the one whose
    re-mark finds the row as it read it sends."""
    request = await _outbox(db)
    async with db.begin() as conn:
        await conn.execute(update(OutboxMessage).values(status="unknown", attempts=1))
    results = await asyncio.gather(
        _send(db, providers, request), _send(db, providers, request), return_exceptions=True
    )
    assert len(providers.state.messages) == 1
    refused = [r for r in results if isinstance(r, ApplicationError)]
    assert [r.type for r in refused] == ["EarlierAttemptInFlight"], results
    assert (await _row(db)).status == "sent"


async def test_a_lookup_never_adopts_another_messages_provider_id(
    db: AsyncEngine, providers: ProvidersUnderTest
) -> None:
    """k2 went out with the same words to the same number; k1's lookup must not take it."""
    await _send(db, providers, await _outbox(db, "k2"))
    other = (await _row(db, "k2")).provider_id
    request = await _outbox(db, "k1")
    async with db.begin() as conn:
        await conn.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key == "k1")
            .values(status="unknown", attempts=1, body="Hi Pat (k2)")
        )
    await _send(db, providers, request)
    assert len(providers.state.messages) == 2
    assert (await _row(db, "k1")).provider_id not in (None, other)


async def test_a_lookup_matches_the_sending_number(
    db: AsyncEngine, providers: ProvidersUnderTest
) -> None:
    """The same words to the same number from another sender are another message."""
    await _send(db, providers, await _outbox(db, "k2"))
    await _outbox(db, "k1")
    async with db.begin() as conn:
        await conn.execute(
            update(OutboxMessage).where(OutboxMessage.key == "k2").values(provider_id=None)
        )
        await conn.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key == "k1")
            .values(status="unknown", attempts=1, body="Hi Pat (k2)", from_number="+13125550999")
        )
    found = await asyncio.to_thread(
        SendActivities(db, providers.config)._find, await _row(db, "k1")
    )
    assert found == []


async def _decide(db: AsyncEngine, to: str) -> None:
    message = SendMessage(
        key="k1",
        channel="sms",
        party="borrower",
        to=to,
        sender=Member(id="isa-1", name="Ivy Isa", sms_from="+13125550177"),
        template="intro",
        body="Hi Pat",
    )
    write = outbox.messages_insert(REF, [(f"{REF.workflow_id}:k1", message)], datetime.now(UTC))
    async with db.begin() as conn:
        await conn.exec_driver_sql(write.sql, write.args)


async def test_a_row_never_attempted_takes_the_retried_decisions_address(db: AsyncEngine) -> None:
    await _outbox(db)  # the lead's row
    key = f"{REF.workflow_id}:k1"
    await _decide(db, "+13125550111")
    await _decide(db, "+13125550122")  # the task retried after the number changed
    assert (await _row(db, key)).to_address == "+13125550122"
    async with db.begin() as conn:
        await conn.execute(update(OutboxMessage).where(OutboxMessage.key == key).values(attempts=1))
    await _decide(db, "+13125550133")  # attempted: it keeps what it was sent to
    assert (await _row(db, key)).to_address == "+13125550122"


async def test_a_database_that_is_away_retries_on_its_own_short_schedule(
    providers: ProvidersUnderTest,
) -> None:
    away = create_engine("postgresql://nobody@127.0.0.1:9/none")
    try:
        with pytest.raises(ApplicationError) as error:
            await _send(away, providers, SendRequest(lead=REF, key="k1"))
    finally:
        await away.dispose()
    assert error.value.type == "DatabaseUnavailable" and not error.value.non_retryable
    assert error.value.next_retry_delay == timedelta(seconds=1)
