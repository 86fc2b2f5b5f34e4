"""Maine's rule at the moment of contact, on real PostgreSQL with the real Twilio SDK: a
sales text or call to a Maine number asks the Reassigned Numbers Database first, unless a
business relationship or written consent exempts it. Where the database is not configured
(no RND_URL), such a text is not sent and such a call waits in the queue, saying why; an
exempt one, or one to another state, goes as before."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.exceptions import ApplicationError

from leadflow.activities.payloads import SendRequest
from leadflow.activities.reassigned import required
from leadflow.store.accounts import new_api_key
from leadflow.store.tables import CallQueueEntry, OutboxMessage
from tests.integration.test_api import Served
from tests.integration.test_call_caps import _queued
from tests.integration.test_moment_of_contact import _row, _send, _text
from tests.integration.test_webhooks import app  # noqa: F401  (fixture)
from tests.services import ProvidersUnderTest

MAINE = "+12075550140"  # Portland, Maine
SINCE = date(2026, 11, 2)
RELATIONSHIP = "business relationship: inquiry on 2026-11-02, until 2027-02-02"


def test_maines_rule_reaches_its_numbers_unless_exempt() -> None:
    need = required(["national", "state:ME"], None)
    assert need is not None and "Maine requires" in need and "1499-B(6)" in need
    assert required(["national", "state:ME"], RELATIONSHIP) is None
    assert required(["national", "state:NH"], None) is None
    assert required(None, None) is None


async def _maine_text(db: AsyncEngine, key: str, exemption: str | None) -> SendRequest:
    request = await _text(db, key)
    async with db.begin() as conn:
        await conn.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key == key)
            .values(
                to_address=MAINE,
                do_not_call=["state:ME"],
                exemption=exemption,
                reassigned_since=SINCE,
            )
        )
    return request


async def test_without_the_database_a_maine_text_is_not_sent_unless_exempt(
    db: AsyncEngine, providers: ProvidersUnderTest
) -> None:
    with pytest.raises(ApplicationError) as stopped:
        await _send(db, providers, await _maine_text(db, "me1", None))
    assert stopped.value.type == "Listed" and stopped.value.non_retryable
    assert "Maine requires the Reassigned Numbers Database" in stopped.value.message
    assert "not configured (RND_URL)" in stopped.value.message
    row = await _row(db, "me1")
    assert row.status == "failed" and row.error.startswith("Listed: Maine requires")
    assert providers.state.messages == []  # never reached Twilio
    await _send(db, providers, await _maine_text(db, "me2", RELATIONSHIP))
    assert [m["to"] for m in providers.state.messages] == [MAINE]


async def test_without_the_database_a_maine_call_waits_and_says_why(
    app: FastAPI,  # noqa: F811  (fixture)
    db: AsyncEngine,
) -> None:
    now = datetime.now(UTC)
    await _queued(db, "maine", MAINE, caps=[], priority=90, at=now)
    await _queued(db, "ohio", "+16145550140", caps=[], priority=10, at=now)
    async with db.begin() as conn:
        await conn.execute(
            update(CallQueueEntry)
            .where(CallQueueEntry.lead_id.in_(["maine", "ohio"]))
            .values(do_not_call=["national"], reassigned_since=SINCE)
        )
        await conn.execute(
            update(CallQueueEntry)
            .where(CallQueueEntry.lead_id == "maine")
            .values(do_not_call=["national", "state:ME"])
        )
    async with Served(app, await new_api_key(db, "acme")) as agents:
        first = await agents.post("/v1/queue/next", json={"agent": "ana"})
        assert first.status_code == 200 and first.json()["lead_id"] == "ohio", first.text
        assert (await agents.post("/v1/queue/next", json={"agent": "bo"})).status_code == 204
    async with db.connect() as conn:
        query = select(CallQueueEntry.__table__).where(CallQueueEntry.lead_id == "maine")
        waiting = (await conn.execute(query)).one()
    assert waiting.claimed_by is None
    assert waiting.available_at >= now + timedelta(minutes=14)
    assert "Maine requires the Reassigned Numbers Database" in waiting.why
