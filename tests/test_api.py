"""The HTTP API over a real worker (time-skipping server) and real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from leadflow.api.app import create_app
from leadflow.starter.client import LeadflowClient
from leadflow.store.db import create_engine


@pytest_asyncio.fixture
async def api(leads: LeadflowClient, db: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(client=leads.temporal, engine=db, task_queue=leads.task_queue)
    async with _serve(app) as client:
        yield client


def _serve(app: FastAPI) -> _Served:
    return _Served(app)


class _Served:
    """Runs the app's lifespan around an httpx client bound to it in-process."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.lifespan = app.router.lifespan_context(app)

    async def __aenter__(self) -> httpx.AsyncClient:
        await self.lifespan.__aenter__()
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://leadflow"
        )
        return self.client

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()
        await self.lifespan.__aexit__(None, None, None)


@pytest.fixture
def lead_path() -> str:
    """Each test its own lead: the time-skipping server keeps workflows for the session."""
    return f"/v1/accounts/acme/leads/L-{uuid.uuid4().hex[:8]}"


async def test_health_reports_both_dependencies_up(api: httpx.AsyncClient) -> None:
    response = await api.get("/health")
    assert response.status_code == 200
    assert response.json() | {"version": None} == {
        "status": "ok",
        "temporal": "up",
        "database": "up",
        "version": None,
    }


async def test_health_is_503_when_the_database_is_down(time_env: WorkflowEnvironment) -> None:
    unreachable = create_engine("postgresql://nobody@127.0.0.1:9/none")
    app = create_app(client=time_env.client, engine=unreachable)
    async with _serve(app) as api:
        response = await api.get("/health")
    await unreachable.dispose()
    assert response.status_code == 503
    assert response.json()["database"] == "down"
    assert response.json()["temporal"] == "up"


async def test_put_creates_then_describes_the_lead(api: httpx.AsyncClient, lead_path: str) -> None:
    body = {"first_name": "Rae", "time_zone": "America/Denver", "playbook": "insurance"}
    created = await api.put(lead_path, json=body)
    again = await api.put(lead_path, json=body)

    assert created.status_code == 201 and created.json()["created"] is True
    assert again.status_code == 200 and again.json()["created"] is False
    lead = (await api.get(lead_path)).json()
    assert (lead["first_name"], lead["time_zone"], lead["status"]) == (
        "Rae",
        "America/Denver",
        "New",
    )


async def test_milestone_change_round_trip(api: httpx.AsyncClient, lead_path: str) -> None:
    await api.put(lead_path, json={"playbook": "insurance"})
    response = await api.post(
        f"{lead_path}/milestone",
        json={"milestone": "Quoted", "status": "Requote", "request_id": "req-1"},
    )
    assert response.status_code == 200
    assert response.json()["milestone"] == "Quoted"
    assert (await api.get(lead_path)).json()["status"] == "Requote"


async def test_user_errors_are_4xx_with_the_reason(api: httpx.AsyncClient, lead_path: str) -> None:
    await api.put(lead_path, json={"playbook": "insurance"})

    bad_zone = await api.put(lead_path, json={"time_zone": "Mars/Olympus"})
    assert bad_zone.status_code == 422
    assert "unknown time zone 'Mars/Olympus'" in bad_zone.text

    bad_id = await api.put("/v1/accounts/acme/leads/has space", json={})
    assert bad_id.status_code == 422

    malformed = await api.post(
        f"{lead_path}/milestone", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 422

    past = await api.post(
        f"{lead_path}/milestone",
        json={
            "milestone": "Contacted",
            "status": "Hot",
            "request_id": "r",
            "follow_up": {"start_at": "2001-01-01T00:00:00Z"},
        },
    )
    assert past.status_code == 422
    assert "in the past" in past.json()["detail"]

    naive = await api.post(
        f"{lead_path}/milestone",
        json={
            "milestone": "Quoted",
            "request_id": "r",
            "follow_up": {"start_at": "2031-01-01T00:00:00"},
        },
    )
    assert naive.status_code == 422

    unknown = await api.post(
        "/v1/accounts/acme/leads/ghost/milestone", json={"milestone": "Quoted", "request_id": "r"}
    )
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "lead 'ghost' of account 'acme' does not exist"

    assert (await api.get("/v1/accounts/acme/leads/ghost")).status_code == 404
