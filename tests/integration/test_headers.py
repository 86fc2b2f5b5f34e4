"""What the API's answers tell browsers and caches: a lead's details are never stored by a
cache nor handed to another caller's request; the workspace runs only its own scripts, in
no other site's frame."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.api.app import create_app
from leadflow.client import LeadflowClient
from leadflow.store.accounts import ensure_account, new_api_key
from tests.factories import api_settings
from tests.integration.test_api import PAT, Served

TEMPLATES = Path(__file__).resolve().parents[2] / "leadflow" / "api" / "web" / "templates"


@pytest_asyncio.fixture
async def app(leads: LeadflowClient, db: AsyncEngine) -> FastAPI:
    await ensure_account(db, "alpha", "Alpha Insurance", "insurance")
    return create_app(api_settings(leads), client=leads.temporal, engine=db)


def _private(response: httpx.Response) -> None:
    assert response.headers["cache-control"] == "no-store", response.request.url
    varies = {v.strip().lower() for v in response.headers["vary"].split(",")}
    assert {"authorization", "x-api-key"} <= varies, response.request.url


async def test_answers_with_a_leads_details_are_never_cached_nor_shared(
    app: FastAPI, db: AsyncEngine
) -> None:
    path = f"/v1/leads/H-{uuid.uuid4().hex[:8]}"
    async with Served(app, await new_api_key(db, "alpha")) as api:
        created = await api.put(path, json=PAT)
        read = await api.get(path)
        missing = await api.get("/v1/leads/nobody")
        anonymous = await api.get(path, headers={"Authorization": ""})
    assert (created.status_code, read.status_code) == (201, 200), created.text
    assert "Pat Lee" in read.text
    assert (missing.status_code, anonymous.status_code) == (404, 401)
    for response in (created, read, missing, anonymous):
        _private(response)
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_the_workspace_runs_only_its_own_scripts_in_no_other_sites_frame(
    app: FastAPI,
) -> None:
    async with Served(app) as browser:
        page = await browser.get("/app/sign-in")
        script = await browser.get("/app/static/zone.js")
    assert page.status_code == 200 and script.status_code == 200
    policy = dict(
        part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";")
    )
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["strict-transport-security"].startswith("max-age=31536000")
    assert page.headers["referrer-policy"] == "same-origin"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert script.headers["content-type"].startswith(("text/javascript", "application/javascript"))


def test_no_template_holds_a_script_or_style_the_policy_would_block() -> None:
    """Inline scripts, event-handler attributes and inline styles: each would need
    'unsafe-inline'; htmx's own inline style and eval are turned off in its config."""
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag, f"{template.name}: inline {tag}"
        assert not re.search(r"\son[a-z]+\s*=", text), f"{template.name}: an on* handler"
        assert not re.search(r"<style\b|\sstyle\s*=", text), f"{template.name}: an inline style"
    base = (TEMPLATES / "base.html").read_text()
    assert '"includeIndicatorStyles": false' in base and '"allowEval": false' in base
