"""The agent's workspace over HTTP (the browser walk is tests/system/test_workspace_browser.py):
sign-in, CSRF on every form, and an agent who sees only their own account's leads."""

from __future__ import annotations

import re

import httpx
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.api.passwords import hash_password
from leadflow.api.web.session import FAILURES_PER_USER
from leadflow.store.accounts import new_api_key
from leadflow.store.users import save_user, set_password
from tests.integration.test_api import PAT, Served, app  # noqa: F401  (the API over a worker)

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
PASSWORDS = {("alpha", "ana"): "ana's long password", ("beta", "bo"): "bo's long password!"}


def _browser(served: FastAPI) -> httpx.AsyncClient:
    """A client for the app's pages over https (its session cookie is Secure)."""
    transport = httpx.ASGITransport(app=served)
    return httpx.AsyncClient(transport=transport, base_url="https://leadflow")


async def _form_token(client: httpx.AsyncClient) -> str:
    page = await client.get("/app/sign-in")
    return CSRF.search(page.text).group(1)  # type: ignore[union-attr]


async def _sign_in(
    client: httpx.AsyncClient, account: str, agent: str, password: str, **more: str
) -> httpx.Response:
    form = {"account": account, "agent": agent, "password": password, "zone": "America/New_York"}
    return await client.post(
        "/app/sign-in", data={**form, "csrf": await _form_token(client), **more}
    )


async def _signed_in(client: httpx.AsyncClient, account: str, agent: str) -> str:
    """Sign in as `agent` with their password; the session's CSRF token."""
    signed = await _sign_in(client, account, agent, PASSWORDS[account, agent])
    assert signed.status_code == 303 and signed.headers["location"] == "/app/", signed.text
    queue = await client.get("/app/")
    return CSRF.search(queue.text).group(1)  # type: ignore[union-attr]


@pytest_asyncio.fixture
async def keys(db: AsyncEngine) -> dict[str, str]:
    await save_user(db, "alpha", "ana", "Ana Alpha", None, None, ["isa"])
    await save_user(db, "beta", "bo", "Bo Beta", None, None, ["isa"])
    for (account, user), password in PASSWORDS.items():
        await set_password(db, account, user, await hash_password(password))
    return {"alpha": await new_api_key(db, "alpha"), "beta": await new_api_key(db, "beta")}


async def test_an_agent_sees_none_of_another_accounts_leads(
    app: FastAPI,  # noqa: F811
    keys: dict[str, str],
) -> None:
    async with Served(app, keys["alpha"]) as api:
        assert (await api.put("/v1/leads/ALPHA-1", json=PAT)).status_code == 201
        async with _browser(app) as browser:
            await _signed_in(browser, "beta", "bo")
            mine = await browser.get("/app/")
            theirs = await browser.get("/app/leads/ALPHA-1")
            await _signed_in(browser, "alpha", "ana")
            own = await browser.get("/app/leads/ALPHA-1")
    assert mine.status_code == 200 and "ALPHA-1" not in mine.text
    assert theirs.status_code == 200 and "No lead ALPHA-1" in theirs.text
    assert "Pat" not in theirs.text
    assert own.status_code == 200 and "ALPHA-1" in own.text and "Pat Lee" in own.text


async def test_an_agent_signs_in_as_themselves_with_their_own_password_and_forms_need_the_token(
    app: FastAPI,  # noqa: F811
    keys: dict[str, str],
) -> None:
    async with Served(app), _browser(app) as browser:
        assert (await browser.get("/app/")).headers["location"] == "/app/sign-in?next=/app/"
        # The account's API key is no password: it signs nobody in.
        for account, agent, password in [
            ("alpha", "ana", keys["alpha"]),
            ("alpha", "bo", PASSWORDS["beta", "bo"]),  # bo is beta's agent, not alpha's
            ("alpha", "ana", PASSWORDS["beta", "bo"]),  # another user's password
            ("alpha", "nobody", PASSWORDS["alpha", "ana"]),
        ]:
            wrong = await _sign_in(browser, account, agent, password)
            assert wrong.headers["location"] == "/app/sign-in", (agent, password)
            assert "do not match" in (await browser.get("/app/sign-in")).text
            assert (await browser.get("/app/")).headers["location"].startswith("/app/sign-in")
        forged = await _sign_in(browser, "alpha", "ana", PASSWORDS["alpha", "ana"], csrf="forged")
        assert forged.headers["location"].startswith("/app/sign-in")  # refused, not signed in
        assert (await browser.get("/app/")).headers["location"].startswith("/app/sign-in")
        cookie = next(c for c in browser.cookies.jar if c.name == "leadflow_session")
        assert cookie.secure and cookie.has_nonstandard_attr("httponly")
        token = await _signed_in(browser, "alpha", "ana")
        assert "Ana Alpha" in (await browser.get("/app/")).text
        assert (await browser.post("/app/next", data={})).status_code == 403
        assert (await browser.post("/app/next", data={"csrf": token})).status_code == 303


async def test_sign_out_ends_the_session_on_the_server_and_a_link_survives_sign_in(
    app: FastAPI,  # noqa: F811
    keys: dict[str, str],
) -> None:
    async with Served(app, keys["alpha"]) as api:
        assert (await api.put("/v1/leads/ALPHA-2", json=PAT)).status_code == 201
        async with _browser(app) as browser:
            # A link to a lead, signed out: to sign-in, then to the lead.
            sent = await browser.get("/app/leads/ALPHA-2")
            assert sent.headers["location"] == "/app/sign-in?next=/app/leads/ALPHA-2"
            signed = await _sign_in(
                browser, "alpha", "ana", PASSWORDS["alpha", "ana"], next="/app/leads/ALPHA-2"
            )
            assert signed.headers["location"] == "/app/leads/ALPHA-2"
            page = await browser.get("/app/leads/ALPHA-2")
            assert "Pat Lee" in page.text and page.headers["cache-control"] == "no-store"
            # A token that is not even ASCII is refused like any wrong one.
            odd = await browser.post("/app/next", data={"csrf": "é"})
            assert odd.status_code == 403
            # A copy of the cookie, kept by whoever saw it, then sign out.
            copied = dict(browser.cookies)
            queue = await browser.get("/app/")
            token = CSRF.search(queue.text).group(1)  # type: ignore[union-attr]
            assert (await browser.post("/app/sign-out", data={"csrf": token})).status_code == 303
        async with _browser(app) as thief:
            thief.cookies.update(copied)
            after = await thief.get("/app/leads/ALPHA-2")
    assert after.status_code == 303 and after.headers["location"].startswith("/app/sign-in")


async def test_a_new_password_or_role_ends_the_agents_sessions(
    app: FastAPI,  # noqa: F811
    keys: dict[str, str],
) -> None:
    async with Served(app, keys["alpha"]) as api, _browser(app) as browser:
        await _signed_in(browser, "alpha", "ana")
        assert (await browser.get("/app/")).status_code == 200
        changed = await api.put("/v1/users/ana/password", json={"password": "a whole new one"})
        assert changed.status_code == 204, changed.text
        assert (await browser.get("/app/")).headers["location"].startswith("/app/sign-in")
        PASSWORDS["alpha", "ana"] = "a whole new one"
        try:
            await _signed_in(browser, "alpha", "ana")
            user = {"name": "Ana Alpha", "role": "manager"}
            assert (await api.put("/v1/users/ana", json=user)).status_code == 200
            assert (await browser.get("/app/")).headers["location"].startswith("/app/sign-in")
        finally:
            PASSWORDS["alpha", "ana"] = "ana's long password"


async def test_failed_sign_ins_are_limited_per_user_right_password_or_not(
    app: FastAPI,  # noqa: F811
    keys: dict[str, str],
    db: AsyncEngine,
) -> None:
    async with Served(app), _browser(app) as browser:
        for attempt in range(FAILURES_PER_USER):
            wrong = await _sign_in(browser, "beta", "bo", f"guess number {attempt}")
            assert wrong.status_code == 303
        right = await _sign_in(browser, "beta", "bo", PASSWORDS["beta", "bo"])
        assert right.status_code == 429 and int(right.headers["retry-after"]) > 0
        assert "Too many failed sign-ins" in right.text
        assert (await browser.get("/app/")).headers["location"].startswith("/app/sign-in")
        # Another user of the same address is not locked out by bo's failures.
        await _signed_in(browser, "alpha", "ana")
    async with db.begin() as conn:  # the window is real time: leave bo free for other tests
        await conn.execute(text("DELETE FROM sign_in_failures"))
