"""Who may do what through the API: roles and their scopes, keys that expire, rotate and are
revoked over HTTP, and sending numbers each held by one account."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.api.scopes import SCOPES
from leadflow.store.access_tables import ApiKey
from leadflow.store.accounts import key_id, new_api_key
from leadflow.store.senders import add_sender
from tests.integration.test_api import PAT, Served, app  # noqa: F401  (the API over a worker)


def _lead() -> str:
    return f"/v1/leads/AX-{uuid.uuid4().hex[:8]}"


async def test_an_agent_key_works_leads_and_the_queue_and_nothing_else(
    app: FastAPI,  # noqa: F811
    db: AsyncEngine,
) -> None:
    agent = await new_api_key(db, "alpha", "phones", role="agent")
    async with Served(app, agent) as api:
        assert (await api.put(_lead(), json=PAT)).status_code == 201
        assert (await api.get("/v1/leads")).status_code == 200
        assert (await api.post("/v1/queue/next", json={"agent": "ana"})).status_code in (200, 204)
        assert (await api.get("/v1/users")).status_code == 200
        refused = {
            ("GET", "/v1/reports/unlinked"): None,
            ("PUT", "/v1/users/eve"): {"name": "Eve"},
            ("PUT", "/v1/users/eve/password"): {"password": "long enough password"},
            ("GET", "/v1/keys"): None,
            ("POST", "/v1/keys"): {"name": "mine", "role": "agent"},
            ("POST", "/v1/playbook/migrations"): {"to_version": 1},
        }
        for (method, path), body in refused.items():
            answer = await api.request(method, path, json=body)
            assert answer.status_code == 403, (method, path, answer.text)
            assert "does not hold" in answer.json()["detail"]


async def test_roles_only_grow_and_nobody_gives_more_than_they_hold() -> None:
    assert SCOPES["agent"] < SCOPES["manager"] < SCOPES["admin"]


async def test_a_manager_cannot_make_an_admin_key_or_take_over_an_admin(
    app: FastAPI,  # noqa: F811
    db: AsyncEngine,
) -> None:
    admin = await new_api_key(db, "alpha", "owner")
    manager = await new_api_key(db, "alpha", "team lead", role="manager")
    async with Served(app, admin) as owner:
        boss = {"name": "Bea Boss", "role": "admin"}
        assert (await owner.put("/v1/users/bea", json=boss)).status_code == 200
    async with Served(app, manager) as api:
        assert (await api.put("/v1/users/ann", json={"name": "Ann", "role": "agent"})).is_success
        for method, path, body in [
            ("PUT", "/v1/users/ann", {"name": "Ann", "role": "admin"}),
            ("PUT", "/v1/users/bea", {"name": "Bea Boss", "role": "agent"}),
            ("PUT", "/v1/users/bea/password", {"password": "now it is mine!!"}),
        ]:
            answer = await api.request(method, path, json=body)
            assert answer.status_code == 403, (path, answer.text)
        weak = await api.put("/v1/users/ann/password", json={"password": "short"})
        assert weak.status_code == 422 and "at least 12" in weak.json()["detail"]
        assert (
            await api.put("/v1/users/ann/password", json={"password": "a fine password"})
        ).status_code == 204
        users = {u["id"]: u for u in (await api.get("/v1/users?limit=500")).json()["items"]}
        assert users["ann"]["has_password"] and not users["bea"]["has_password"]
        assert users["bea"]["role"] == "admin"


async def test_keys_over_http_show_last_use_and_rotate_revoke_and_expire(
    app: FastAPI,  # noqa: F811
    db: AsyncEngine,
) -> None:
    admin = await new_api_key(db, "alpha", "owner")
    async with Served(app, admin) as api:
        made = await api.post("/v1/keys", json={"name": "crm sync", "role": "manager"})
        assert made.status_code == 201, made.text
        key, record = made.json()["key"], made.json()["record"]
        assert record["id"] == key_id(key) and record["role"] == "manager"
        lasts = datetime.fromisoformat(record["expires_at"]) - datetime.now(UTC)
        assert timedelta(days=89) < lasts <= timedelta(days=90)
        assert record["last_used_at"] is None
        listed = {k["id"]: k for k in (await api.get("/v1/keys")).json()["items"]}
        assert key not in str(listed) and record["id"] in listed
        assert all(k.get("key") is None for k in listed.values())

        async with Served(app, key) as crm:
            assert (await crm.get("/v1/users")).status_code == 200
        listed = {k["id"]: k for k in (await api.get("/v1/keys")).json()["items"]}
        assert listed[record["id"]]["last_used_at"] is not None

        # Rotated with a grace period: both work until it ends.
        rotated = await api.post(f"/v1/keys/{record['id']}/rotate", json={"grace_minutes": 60})
        assert rotated.status_code == 201, rotated.text
        successor = rotated.json()["key"]
        assert rotated.json()["record"]["role"] == "manager"
        for each in (key, successor):
            async with Served(app, each) as crm:
                assert (await crm.get("/v1/users")).status_code == 200
        # Revoked: refused at once.
        revoked = await api.post(f"/v1/keys/{key_id(successor)}/revoke")
        assert revoked.status_code == 200 and revoked.json()["revoked_at"]
        async with Served(app, successor) as crm:
            gone = await crm.get("/v1/users")
        assert gone.status_code == 401 and "revoked" in gone.json()["detail"]
        # Past its expiry (the grace period run out): refused, saying so.
        async with db.begin() as conn:
            await conn.execute(
                update(ApiKey)
                .where(ApiKey.id == key_id(key))
                .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        async with Served(app, key) as crm:
            late = await crm.get("/v1/users")
        assert late.status_code == 401 and "has expired" in late.json()["detail"]
        # Another account's key id is nobody's here.
        beta = key_id(await new_api_key(db, "beta"))
        assert (await api.post(f"/v1/keys/{beta}/revoke")).status_code == 404
        assert (await api.post(f"/v1/keys/{beta}/rotate")).status_code == 404
        bad = await api.post("/v1/keys", json={"name": "x", "expires_in_days": 0})
        assert bad.status_code == 422


async def test_a_member_texts_only_from_a_number_the_account_holds(
    app: FastAPI,  # noqa: F811
    db: AsyncEngine,
) -> None:
    ours, theirs = "+13125550444", "+13125550555"
    await add_sender(db, "alpha", "sms", ours)
    await add_sender(db, "beta", "sms", theirs)
    member = {"id": "isa-9", "name": "Ivy Isa"}
    async with Served(app, await new_api_key(db, "alpha")) as api:
        spoofed = await api.put(
            _lead(), json={**PAT, "designations": {"agent": {**member, "sms_from": theirs}}}
        )
        assert spoofed.status_code == 422, spoofed.text
        assert f"sms_from {theirs}: not a sending number of this account" in spoofed.text
        lead = _lead()
        assert (await api.put(lead, json=PAT)).status_code == 201
        assigned = await api.put(
            f"{lead}/designations",
            json={"assignments": {"agent": {**member, "sms_from": theirs}}},
        )
        assert assigned.status_code == 422, assigned.text
        fine = await api.put(
            f"{lead}/designations", json={"assignments": {"agent": {**member, "sms_from": ours}}}
        )
        assert fine.status_code == 202, fine.text
        listed = (await api.get("/v1/senders")).json()["items"]
        assert [(s["channel"], s["address"]) for s in listed] == [("sms", ours)]
