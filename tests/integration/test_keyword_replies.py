"""STOP, START and HELP through the Python client and the HTTP API, over a real worker."""

from __future__ import annotations

from datetime import date, time

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from leadflow.client import LeadflowClient
from leadflow.engine.events import ReplyReceived
from leadflow.store.accounts import new_api_key
from tests.factories import eventually, new_lead
from tests.integration.test_api import Served, app  # noqa: F401  (the API over a worker)
from tests.scenario_support import skip_to_next

MONDAY = date(2026, 3, 2)


async def test_stop_through_the_python_client(
    leads: LeadflowClient, time_env: WorkflowEnvironment
) -> None:
    await skip_to_next(time_env, 0, time(10))
    request = new_lead(playbook="isa")
    await leads.ensure_lead(request)
    await leads.reply_received(request.lead, ReplyReceived(channel="sms", body="STOP"))

    async def opted_out() -> list[str]:
        return (await leads.describe(request.lead)).opted_out

    assert await eventually(opted_out) == ["mms", "sms"]


async def test_stop_through_the_http_api(
    db: AsyncEngine,
    time_env: WorkflowEnvironment,
    app: FastAPI,  # noqa: F811
) -> None:
    await skip_to_next(time_env, 0, time(10))
    async with Served(app, await new_api_key(db, "beta")) as api:
        created = await api.put(
            "/v1/leads/K1",
            json={"parties": {"borrower": {"phone": "+13125550160", "sms_consent": True}}},
        )
        assert created.status_code == 201, created.text
        answer = await api.post("/v1/leads/K1/replies", json={"body": "stop"})
        assert answer.status_code == 202, answer.text
        unknown = await api.post("/v1/leads/K1/replies", json={"party": "cousin", "body": "hi"})
        assert unknown.status_code == 422 and "unknown party 'cousin'" in unknown.text

        async def audit() -> list[str]:
            view: httpx.Response = await api.get("/v1/leads/K1")
            return [a["reason"] for a in view.json()["audit"] if a["outcome"] == "note"]

        async def said_stop() -> bool:
            return "opted out of sms (reply stop)" in await audit()

        assert await eventually(said_stop)
