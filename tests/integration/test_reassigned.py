"""Reassigned numbers at the moment of contact, on real PostgreSQL with the real Twilio SDK
and the fake's Reassigned Numbers Database: a text to a number disconnected since it was
known to be the party's is never sent and the lead stops reaching it; an agent is never
handed such a call; an answer is asked once and kept; a database that does not answer
holds a text and asks again, but not an agent's call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.exceptions import ApplicationError

from leadflow.api.app import create_app
from leadflow.client import LeadflowClient
from leadflow.engine.refs import LeadRef
from leadflow.store.accounts import ensure_account, new_api_key
from leadflow.store.dnc_tables import NumberCheck
from leadflow.store.tables import CallQueueEntry, OutboxMessage
from tests.factories import api_settings, eventually
from tests.integration.test_api import Served
from tests.integration.test_call_caps import _queued
from tests.integration.test_moment_of_contact import _row, _send, _text
from tests.integration.test_webhooks import PHONE as LEAD_PHONE
from tests.integration.test_webhooks import api, app  # noqa: F401  (fixtures)
from tests.scenario_support import queue, tasks
from tests.services import ProvidersUnderTest

pytestmark = pytest.mark.reassigned_numbers  # the sends ask the fake's database

SINCE = date(2026, 11, 2)
GONE = "+13055550140"  # Miami numbers of these tests' own
KEPT = "+13055550141"


async def _forget(db: AsyncEngine, *numbers: str) -> None:
    """The kept answers about these numbers go (they are national data, shared by tests)."""
    async with db.begin() as conn:
        await conn.execute(delete(NumberCheck).where(NumberCheck.number.in_(numbers)))


@pytest_asyncio.fixture
async def numbers(db: AsyncEngine, providers: ProvidersUnderTest) -> AsyncIterator[None]:
    """GONE was disconnected after SINCE; KEPT never was."""
    providers.state.disconnected[GONE[2:]] = "2026-11-20"
    await _forget(db, GONE, KEPT, LEAD_PHONE)
    yield
    await _forget(db, GONE, KEPT, LEAD_PHONE)


async def _checked_text(db: AsyncEngine, key: str, to: str) -> object:
    request = await _text(db, key)
    async with db.begin() as conn:
        await conn.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key == key)
            .values(to_address=to, reassigned_since=SINCE)
        )
    return request


async def test_a_text_to_a_number_reassigned_since_is_not_sent_and_the_answer_is_kept(
    db: AsyncEngine, providers: ProvidersUnderTest, numbers: None
) -> None:
    with pytest.raises(ApplicationError) as stopped:
        await _send(db, providers, await _checked_text(db, "r1", GONE))
    assert stopped.value.type == "Reassigned" and stopped.value.non_retryable
    assert "disconnected since 2026-11-02" in stopped.value.message
    assert "64.1200(m)" in stopped.value.message
    row = await _row(db, "r1")
    assert row.status == "failed" and row.error.startswith("Reassigned: ")
    assert providers.state.messages == []  # never reached Twilio
    asked = [{"number": GONE[2:], "date": "2026-11-02"}]
    assert providers.state.rnd_queries == asked
    # The answer is kept: another text to the number is stopped without asking again.
    with pytest.raises(ApplicationError):
        await _send(db, providers, await _checked_text(db, "r2", GONE))
    assert providers.state.rnd_queries == asked
    # A number never disconnected is texted, and asked about once a month at most.
    await _send(db, providers, await _checked_text(db, "r3", KEPT))
    await _send(db, providers, await _checked_text(db, "r4", KEPT))
    assert [m["to"] for m in providers.state.messages] == [KEPT, KEPT]
    assert providers.state.rnd_queries == [*asked, {"number": KEPT[2:], "date": "2026-11-02"}]
    # A message that carries no day (email, another country's number) asks nothing.
    await _send(db, providers, await _text(db, "r5"))
    assert len(providers.state.rnd_queries) == 2


async def test_a_database_that_does_not_answer_holds_the_text_and_it_asks_again(
    db: AsyncEngine, providers: ProvidersUnderTest, numbers: None
) -> None:
    providers.state.rnd_unavailable = 1
    request = await _checked_text(db, "u1", KEPT)
    with pytest.raises(ApplicationError) as held:
        await _send(db, providers, request)
    assert held.value.type == "RndUnavailable" and not held.value.non_retryable
    assert held.value.next_retry_delay == timedelta(minutes=1)
    assert "HTTP 503" in held.value.message and providers.state.messages == []
    await _send(db, providers, request)  # the activity's retry: answered, sent
    assert [m["to"] for m in providers.state.messages] == [KEPT]


@pytest_asyncio.fixture
async def checked_app(
    leads: LeadflowClient, db: AsyncEngine, providers: ProvidersUnderTest
) -> FastAPI:
    await ensure_account(db, "acme", "Acme", "isa")
    settings = api_settings(leads, rnd_url=providers.url, rnd_key=providers.state.rnd_key)
    return create_app(settings, client=leads.temporal, engine=db)


async def test_no_agent_is_handed_a_call_to_a_number_reported_reassigned(
    checked_app: FastAPI, db: AsyncEngine, providers: ProvidersUnderTest, numbers: None
) -> None:
    now = datetime.now(UTC)
    for lead, phone, priority in (("gone", GONE, 90), ("kept", KEPT, 10)):
        await _queued(db, lead, phone, caps=[], priority=priority, at=now)
        async with db.begin() as conn:
            await conn.execute(
                update(CallQueueEntry)
                .where(CallQueueEntry.lead_id == lead)
                .values(reassigned_since=SINCE)
            )
    async with Served(checked_app, await new_api_key(db, "acme")) as agents:
        first = await agents.post("/v1/queue/next", json={"agent": "ana"})
        assert first.status_code == 200 and first.json()["lead_id"] == "kept", first.text
        assert providers.state.rnd_queries == [
            {"number": GONE[2:], "date": "2026-11-02"},
            {"number": KEPT[2:], "date": "2026-11-02"},
        ]
        # The reassigned number's call stays passed over, without asking again.
        assert (await agents.post("/v1/queue/next", json={"agent": "bo"})).status_code == 204
        assert len(providers.state.rnd_queries) == 2
        # A database that does not answer does not hold an agent's call: it is handed out.
        await agents.post("/v1/queue/kept/release", json={"agent": "ana"})
        await _forget(db, KEPT)
        providers.state.rnd_unavailable = 5
        again = await agents.post("/v1/queue/next", json={"agent": "ana"})
        assert again.status_code == 200 and again.json()["lead_id"] == "kept", again.text


@pytest.fixture
def lead_number_gone(providers: ProvidersUnderTest, numbers: None) -> None:
    """The lead's number was disconnected after every day it could have been known to be
    theirs (before the `api` fixture brings the lead in)."""
    providers.state.disconnected[LEAD_PHONE[2:]] = "2099-12-31"


async def test_a_lead_whose_number_was_reassigned_stops_reaching_it_and_asks_for_another(
    providers: ProvidersUnderTest,
    db: AsyncEngine,
    lead_number_gone: None,
    api: httpx.AsyncClient,  # noqa: F811
) -> None:
    """Through the workflow: the new lead's first text finds its number reassigned since the
    inquiry; the lead stops reaching it, its call leaves the queue, and a task asks for
    the borrower's number."""
    lead = LeadRef(account_id="acme", lead_id="L1")

    async def stopped() -> bool:
        audit = (await api.get("/v1/leads/L1")).json()["audit"]
        return any("Reassigned Numbers Database" in (a["reason"] or "") for a in audit)

    assert await eventually(stopped)
    assert await queue(db, lead) is None
    [task] = [t for t in await tasks(db, lead) if t.subject.startswith("Find borrower's number")]
    assert "disconnected since" in task.notes
    assert [m for m in providers.state.messages if m["to"] == LEAD_PHONE] == []
