"""Playbook migrations over HTTP: the plan first (a dry run, the default), then the move,
with the leads the new version cannot hold listed under `refused`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.client import LeadflowClient
from leadflow.engine.refs import LeadRef
from leadflow.playbook.load import default_playbook
from leadflow.store.accounts import new_api_key
from leadflow.store.playbooks import save_version
from tests.integration.test_api import PAT, Served, app  # noqa: F401  (the API over a worker)


@pytest_asyncio.fixture
async def alpha(app: FastAPI, db: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:  # noqa: F811
    async with Served(app, await new_api_key(db, "alpha")) as client:
        yield client


async def test_the_plan_then_the_move_with_refusals_listed(
    alpha: httpx.AsyncClient, db: AsyncEngine, leads: LeadflowClient
) -> None:
    for lead in ("A", "B"):
        assert (await alpha.put(f"/v1/leads/{lead}", json=PAT)).status_code == 201
    moved = await alpha.post(
        "/v1/leads/B/milestone",
        json={"milestone": "Quoted", "status": "Requote", "request_id": "r"},
    )
    assert moved.status_code == 200
    one = default_playbook("insurance")
    links = {**one.links, "Quoted": [s for s in one.links["Quoted"] if s != "Requote"]}
    two = one.model_copy(update={"version": 2, "links": links})
    for book in (one, two):
        await save_version(db, "alpha", book)

    only_b = {"to_version": 2, "only": {"statuses": ["Requote"]}}
    narrowed = await alpha.post("/v1/playbook/migrations", json=only_b)
    assert narrowed.status_code == 200, narrowed.text
    assert [s["lead_id"] for s in narrowed.json()["plan"]["sample"]] == ["B"]

    asked = await alpha.post("/v1/playbook/migrations", json={"to_version": 2})
    assert asked.status_code == 200, asked.text
    plan = asked.json()["plan"]
    assert "outcome" not in asked.json()
    assert plan["versions"] == {"1": 2} and plan["leads"] == 2
    refused = {s["lead_id"]: s.get("refused") for s in plan["sample"]}
    assert refused["A"] is None and "cannot hold this lead" in refused["B"]

    done = await alpha.post("/v1/playbook/migrations", json={"to_version": 2, "dry_run": False})
    assert done.status_code == 200, done.text
    outcome = done.json()["outcome"]
    assert outcome["moved"] == 1 and outcome["failed"] == []
    assert [(r["lead_id"], r["kind"]) for r in outcome["refused"]] == [("B", "MigrationRefused")]
    a, b = (LeadRef(account_id="alpha", lead_id=x) for x in "AB")
    assert (await leads.describe(a)).playbook_version == 2
    assert (await leads.describe(b)).playbook_version == 1

    again = await alpha.post("/v1/playbook/migrations", json={"to_version": 2})
    assert again.json()["plan"]["versions"] == {"1": 1, "2": 1}


async def test_a_version_the_account_lacks_or_a_bad_body_is_422(alpha: httpx.AsyncClient) -> None:
    missing = await alpha.post("/v1/playbook/migrations", json={"to_version": 9})
    assert missing.status_code == 422
    assert "has no playbook version 9" in missing.json()["detail"]
    unknown = await alpha.post("/v1/playbook/migrations", json={"to_version": 2, "force": True})
    assert unknown.status_code == 422
    zero = await alpha.post("/v1/playbook/migrations", json={"to_version": 0})
    assert zero.status_code == 422
    # A raw visibility query could widen past the account: refused, pointing to "only".
    raw = await alpha.post(
        "/v1/playbook/migrations", json={"to_version": 1, "leads": 'LeadStatus="New" OR 1=1'}
    )
    assert raw.status_code == 422 and '"only"' in raw.json()["detail"]
    quoted = {"to_version": 1, "only": {"campaigns": ['x") OR ("a" = "a']}}
    assert (await alpha.post("/v1/playbook/migrations", json=quoted)).status_code == 422
