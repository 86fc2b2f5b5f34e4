"""The agent's workspace over HTTP (the browser walk is tests/system/test_workspace_browser.py):
sign-in, CSRF on every form, and an agent who sees only their own account's leads."""

from __future__ import annotations

import re

import httpx
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.store.accounts import digest, new_api_key
from leadflow.store.tables import ApiKey
from leadflow.store.users import save_user
from tests.integration.test_api import PAT, Served, app  # noqa: F401  (the API over a worker)

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _browser(served: FastAPI) -> httpx.AsyncClient:
    """A client for the app's pages over https (its session cookie is Secure)."""
    transport = httpx.ASGITransport(app=served)
    return httpx.AsyncClient(transport=transport, base_url="https://leadflow")


async def _signed_in(client: httpx.AsyncClient, key: str, agent: str) -> str:
    """Sign in as `agent`; the session's CSRF token."""
    page = await client.get("/app/sign-in")
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    signed = await client.post(
        "/app/sign-in", data={"key": key, "agent": agent, "zone": "America/New_York", "csrf": token}
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/app/", signed.text
    queue = await client.get("/app/")
    return CSRF.search(queue.text).group(1)  # type: ignore[union-attr]


@pytest_asyncio.fixture
async def keys(db: AsyncEngine) -> dict[str, str]:
    await save_user(db, "alpha", "ana", "Ana Alpha", None, None, ["isa"])
    await save_user(db, "beta", "bo", "Bo Beta", None, None, ["isa"])
    return {"alpha": await new_api_key(db, "alpha"), "beta": await new_api_key(db, "beta")}


async def test_an_agent_sees_none_of_another_accounts_leads(
    app: FastAPI,  # noqa: F811
    keys: dict[str, str],
) -> None:
    async with Served(app, keys["alpha"]) as api:
        assert (await api.put("/v1/leads/ALPHA-1", json=PAT)).status_code == 201
        async with _browser(app) as browser:
            await _signed_in(browser, keys["beta"], "bo")
            mine = await browser.get("/app/")
            theirs = await browser.get("/app/leads/ALPHA-1")
            await _signed_in(browser, keys["alpha"], "ana")
            own = await browser.get("/app/leads/ALPHA-1")
    assert mine.status_code == 200 and "ALPHA-1" not in mine.text
    assert theirs.status_code == 200 and "No lead ALPHA-1" in theirs.text
    assert "Pat" not in theirs.text
    assert own.status_code == 200 and "ALPHA-1" in own.text and "Pat Lee" in own.text


async def test_sign_in_needs_a_key_and_a_user_of_its_account_and_forms_need_the_token(
    app: FastAPI,  # noqa: F811
    keys: dict[str, str],
) -> None:
    async with Served(app), _browser(app) as browser:
        assert (await browser.get("/app/")).headers["location"] == "/app/sign-in?next=/app/"
        page = await browser.get("/app/sign-in")
        token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
        wrong = await browser.post(
            "/app/sign-in", data={"key": keys["alpha"], "agent": "bo", "csrf": token}
        )  # bo is beta's agent, not alpha's
        assert wrong.headers["location"] == "/app/sign-in"
        assert "do not match an agent" in (await browser.get("/app/sign-in")).text
        forged = await browser.post(
            "/app/sign-in", data={"key": keys["alpha"], "agent": "ana", "csrf": "forged"}
        )  # refused: back to sign-in, not signed in
        assert forged.headers["location"].startswith("/app/sign-in")
        assert (await browser.get("/app/")).headers["location"].startswith("/app/sign-in")
        cookie = next(c for c in browser.cookies.jar if c.name == "leadflow_session")
        assert cookie.secure and cookie.has_nonstandard_attr("httponly")
        token = await _signed_in(browser, keys["alpha"], "ana")
        assert (await browser.post("/app/next", data={})).status_code == 403
        assert (await browser.post("/app/next", data={"csrf": token})).status_code == 303


async def test_a_session_ends_with_its_key_and_a_link_survives_sign_in(
    app: FastAPI,  # noqa: F811
    keys: dict[str, str],
    db: AsyncEngine,
) -> None:
    async with Served(app, keys["alpha"]) as api:
        assert (await api.put("/v1/leads/ALPHA-2", json=PAT)).status_code == 201
        async with _browser(app) as browser:
            # A link to a lead, signed out: to sign-in, then to the lead.
            sent = await browser.get("/app/leads/ALPHA-2")
            assert sent.headers["location"] == "/app/sign-in?next=/app/leads/ALPHA-2"
            form = await browser.get(sent.headers["location"])
            token = CSRF.search(form.text).group(1)  # type: ignore[union-attr]
            signed = await browser.post(
                "/app/sign-in",
                data={
                    "key": keys["alpha"],
                    "agent": "ana",
                    "csrf": token,
                    "next": "/app/leads/ALPHA-2",
                },
            )
            assert signed.headers["location"] == "/app/leads/ALPHA-2"
            page = await browser.get("/app/leads/ALPHA-2")
            assert "Pat Lee" in page.text and page.headers["cache-control"] == "no-store"
            # A token that is not even ASCII is refused like any wrong one.
            odd = await browser.post("/app/next", data={"csrf": "é"})
            assert odd.status_code == 403
            # The key revoked: the session ends at the next request.
            async with db.begin() as conn:
                await conn.execute(
                    update(ApiKey)
                    .where(ApiKey.digest == digest(keys["alpha"]))
                    .values(revoked_at=func.now())
                )
            after = await browser.get("/app/leads/ALPHA-2")
    assert after.status_code == 303 and after.headers["location"].startswith("/app/sign-in")
