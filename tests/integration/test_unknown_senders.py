"""A text from a number none of the account's leads has, to a number the account holds,
becomes what the account's playbook says: a new lead run like any, or a lead held for a
person with a task asking who wrote (nothing else runs on it); either way the words are in
its thread. Without the setting it reaches nobody, as before. Through the signed Twilio
webhook, on real PostgreSQL with the leads' workflows under time skipping."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from leadflow.api.app import create_app
from leadflow.client import LeadflowClient
from leadflow.engine.refs import LeadRef
from leadflow.playbook.load import default_playbook
from leadflow.playbook.schema import UnknownSenders
from leadflow.store.accounts import ensure_account, new_api_key
from leadflow.store.playbooks import save_version
from leadflow.store.tables import CallQueueEntry, Lead, Task
from tests.factories import api_settings, eventually
from tests.integration.test_api import Served
from tests.integration.test_webhooks import MONDAY, OWN, PUBLIC, SHARED, TOKEN, hold, twilio
from tests.scenario_support import skip_to_next

STRANGER = "+13125550177"  # a Chicago number no lead has
LEAD_ID = "text-13125550177"


async def _app(leads: LeadflowClient, db: AsyncEngine, rule: UnknownSenders | None) -> FastAPI:
    await ensure_account(db, "acme", "Acme", "isa")
    await hold(db, "acme", OWN)
    book = default_playbook("isa")
    await save_version(db, "acme", book.model_copy(update={"version": 2, "unknown_senders": rule}))
    settings = api_settings(leads, twilio_auth_token=TOKEN, twilio_from=SHARED, public_url=PUBLIC)
    return create_app(settings, client=leads.temporal, engine=db)


@pytest_asyncio.fixture
async def served(
    request: pytest.FixtureRequest,
    leads: LeadflowClient,
    db: AsyncEngine,
    time_env: WorkflowEnvironment,
) -> AsyncIterator[httpx.AsyncClient]:
    await skip_to_next(time_env, MONDAY, dt.time(10))  # Monday 10:00 in Chicago
    app = await _app(leads, db, request.param)
    async with Served(app, await new_api_key(db, "acme")) as client:
        yield client


async def _thread_words(api: httpx.AsyncClient) -> list[str]:
    found = await api.get(f"/v1/leads/{LEAD_ID}/thread")
    return [e["body"] for e in found.json()["entries"]] if found.status_code == 200 else []


@pytest.mark.parametrize("served", [UnknownSenders(become="lead")], indirect=True)
async def test_an_unknown_sender_becomes_a_lead_run_like_any(
    served: httpx.AsyncClient, db: AsyncEngine, leads: LeadflowClient
) -> None:
    words = "Hi, is the house on Elm still for sale?"
    answered = await twilio(served, "/webhooks/twilio/sms", {"From": STRANGER, "Body": words})
    assert answered.status_code == 200
    described = await leads.describe(LeadRef(account_id="acme", lead_id=LEAD_ID))
    assert described.parties["borrower"].phone == STRANGER
    assert words in await eventually(lambda: _thread_words(served), timeout=10)
    async with db.connect() as conn:
        source = (await conn.execute(select(Lead.source).where(Lead.lead_id == LEAD_ID))).scalar()
        queued = (await conn.execute(select(CallQueueEntry.label))).scalars().all()
    assert source == "inbound text"
    assert queued == ["CallASAP"]  # the isa playbook's new lead: called at once
    # The sender's next text finds the same lead, and makes no other.
    again = await twilio(served, "/webhooks/twilio/sms", {"From": STRANGER, "Body": "Hello?"})
    assert again.status_code == 200
    assert "Hello?" in await eventually(lambda: _thread_words(served), timeout=10)
    async with db.connect() as conn:
        leads_now = (await conn.execute(select(Lead.lead_id))).scalars().all()
    assert leads_now == [LEAD_ID]


@pytest.mark.parametrize("served", [UnknownSenders(become="task", assignee="mo")], indirect=True)
async def test_an_unknown_sender_becomes_a_task_and_nothing_else_runs(
    served: httpx.AsyncClient, db: AsyncEngine
) -> None:
    words = "Who is this? You called me"
    answered = await twilio(served, "/webhooks/twilio/sms", {"From": STRANGER, "Body": words})
    assert answered.status_code == 200
    assert words in await eventually(lambda: _thread_words(served), timeout=10)
    async with db.connect() as conn:
        tasks = (await conn.execute(select(Task.subject, Task.assignee, Task.notes))).all()
        queued = (await conn.execute(select(CallQueueEntry.lead_id))).scalars().all()
    assert [tuple(t) for t in tasks] == [
        ("A text from an unknown number: who wrote it?", "mo", words)
    ]
    assert queued == []  # no call, no campaign: a person reads it first
    seen = await served.get(f"/v1/leads/{LEAD_ID}")
    assert not [a for a in seen.json()["agenda"] if a.get("kind") == "touch"], seen.text


@pytest.mark.parametrize("served", [None], indirect=True)
async def test_without_the_setting_an_unknown_sender_reaches_nobody(
    served: httpx.AsyncClient, db: AsyncEngine
) -> None:
    answered = await twilio(served, "/webhooks/twilio/sms", {"From": STRANGER, "Body": "Hi"})
    assert answered.status_code == 200
    async with db.connect() as conn:
        assert (await conn.execute(select(Lead.lead_id))).scalars().all() == []


@pytest.mark.parametrize("served", [UnknownSenders(become="lead")], indirect=True)
async def test_a_stop_from_an_unknown_number_makes_no_lead(
    served: httpx.AsyncClient, db: AsyncEngine
) -> None:
    answered = await twilio(served, "/webhooks/twilio/sms", {"From": STRANGER, "Body": "STOP"})
    assert answered.status_code == 200
    async with db.connect() as conn:
        assert (await conn.execute(select(Lead.lead_id))).scalars().all() == []
