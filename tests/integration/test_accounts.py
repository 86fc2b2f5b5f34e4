"""Accounts: playbook versions, the team and its designations, opt-outs and consents."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.api.app import create_app
from leadflow.client import LeadflowClient
from leadflow.paths import shipped
from leadflow.playbook.load import default_playbook
from leadflow.store.accounts import ensure_account, new_api_key
from leadflow.store.playbooks import VersionConflict, current_version, save_version
from leadflow.store.tables import Consent, OptOut, PlaybookVersion
from tests.factories import api_settings, eventually, form_consent
from tests.integration.test_api import Served

BORROWER = {
    "parties": {
        "borrower": {
            "name": "Pat Lee",
            "phone": "+13125550111",
            "email": "pat@example.com",
            "sms_consent": True,
        }
    },
    "consents": [form_consent()],
}


@pytest_asyncio.fixture
async def api(leads: LeadflowClient, db: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    await ensure_account(db, "acme", "Acme", "isa")
    app = create_app(api_settings(leads), client=leads.temporal, engine=db)
    async with Served(app, await new_api_key(db, "acme")) as client:
        yield client


async def test_new_leads_start_on_the_newest_stored_version(
    api: httpx.AsyncClient, db: AsyncEngine, leads: LeadflowClient
) -> None:
    await api.put("/v1/leads/OLD", json=BORROWER)
    isa = default_playbook("isa")
    assert await save_version(db, "acme", isa)
    assert not await save_version(db, "acme", isa)  # the same content: nothing to do
    v2 = isa.model_copy(update={"version": 2, "description": "tighter cadence"})
    assert await save_version(db, "acme", v2)
    with pytest.raises(VersionConflict, match="version 2 is already stored"):
        await save_version(db, "acme", v2.model_copy(update={"description": "other"}))
    assert (await current_version(db, "acme")).version == 2  # type: ignore[union-attr]

    await api.put("/v1/leads/NEW", json=BORROWER)
    old = await leads.describe(leads_ref("OLD"))
    new = await leads.describe(leads_ref("NEW"))
    assert (old.playbook_version, new.playbook_version) == (1, 2)


def leads_ref(lead_id: str):  # type: ignore[no-untyped-def]
    from leadflow.engine.refs import LeadRef

    return LeadRef(account_id="acme", lead_id=lead_id)


async def test_designations_can_name_a_team_member(api: httpx.AsyncClient) -> None:
    saved = await api.put(
        "/v1/users/ivy", json={"name": "Ivy Isa", "phone": "312-555-0100", "designations": ["isa"]}
    )
    assert saved.status_code == 200 and saved.json()["phone"] == "+13125550100"
    assert (
        await api.put("/v1/users/x", json={"name": "X", "designations": ["pilot"]})
    ).status_code == 422
    await api.put("/v1/users/zed", json={"name": "Zed", "designations": ["isa"]})
    first = (await api.get("/v1/users", params={"limit": 1})).json()
    assert [u["id"] for u in first["items"]] == ["ivy"] and first["next_cursor"] == "ivy"
    rest = (await api.get("/v1/users", params={"cursor": "ivy"})).json()
    assert [u["id"] for u in rest["items"]] == ["zed"] and rest["next_cursor"] is None

    await api.put("/v1/leads/L1", json=BORROWER)
    assigned = await api.put("/v1/leads/L1/designations", json={"assignments": {"isa": "ivy"}})
    assert assigned.status_code == 202
    wrong = await api.put(
        "/v1/leads/L1/designations", json={"assignments": {"loan_officer": "ivy"}}
    )
    assert wrong.status_code == 422 and "not designated 'loan_officer'" in wrong.text
    ghost = await api.put("/v1/leads/L1/designations", json={"assignments": {"isa": "nobody"}})
    assert ghost.status_code == 422 and "unknown user 'nobody'" in ghost.text

    async def member() -> str | None:
        view = (await api.get("/v1/leads/L1")).json()
        return view["designations"].get("isa", {}).get("name")

    assert await eventually(member) == "Ivy Isa"

    # One unknown user refuses the whole request: no designation in it changes, not even
    # those named before it.
    pat = {"id": "pat", "name": "Pat Inline"}
    mixed = await api.put(
        "/v1/leads/L1/designations", json={"assignments": {"isa": pat, "loan_officer": "nobody"}}
    )
    assert mixed.status_code == 422 and "unknown user 'nobody'" in mixed.text
    lo = {"id": "lo", "name": "Lo Officer"}
    later = await api.put("/v1/leads/L1/designations", json={"assignments": {"loan_officer": lo}})
    assert later.status_code == 202

    async def officer() -> str | None:
        view = (await api.get("/v1/leads/L1")).json()
        return view["designations"].get("loan_officer", {}).get("name")

    assert await eventually(officer) == "Lo Officer"  # signals land in the order sent
    assert await member() == "Ivy Isa"


async def test_opt_outs_and_consents_are_kept_for_the_account(
    api: httpx.AsyncClient, db: AsyncEngine, leads: LeadflowClient
) -> None:
    await api.put("/v1/leads/L1", json=BORROWER)
    async with db.connect() as conn:
        consents = (await conn.execute(select(Consent.channel, Consent.address))).all()
    assert [tuple(c) for c in consents] == [("sms", "+13125550111")]

    await leads.opt_out(leads_ref("L1"), "sms", source="STOP reply")

    async def opted() -> list[tuple[str, str, str]]:
        async with db.connect() as conn:
            rows = (
                await conn.execute(
                    select(OptOut.channel, OptOut.address, OptOut.source).order_by(OptOut.channel)
                )
            ).all()
        return [tuple(r) for r in rows]  # type: ignore[misc]

    assert await eventually(opted) == [
        ("mms", "+13125550111", "STOP reply"),
        ("sms", "+13125550111", "STOP reply"),
    ]
    await leads.opt_in(leads_ref("L1"), "sms")

    async def cleared() -> bool:
        return await opted() == []

    assert await eventually(cleared)


def test_account_command_stores_the_playbook_and_prints_a_key(
    database_url: str, tmp_path: Path, db: AsyncEngine
) -> None:
    data = yaml.safe_load((shipped("playbooks") / "mortgage.yaml").read_text())
    data["version"] = 7
    file = tmp_path / "mortgage.yaml"
    file.write_text(yaml.safe_dump(data))
    result = subprocess.run(
        [sys.executable, "-m", "leadflow", "account", "northwind", "--playbook", str(file)],
        env={"DATABASE_URL": database_url, "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("lf_")
    assert "playbook mortgage v7 stored" in result.stderr
    data["description"] = "changed without a new version"
    file.write_text(yaml.safe_dump(data))
    again = subprocess.run(
        [sys.executable, "-m", "leadflow", "account", "northwind", "--playbook", str(file)],
        env={"DATABASE_URL": database_url, "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 2
    assert "version 7 is already stored for 'northwind' with other content" in again.stderr


async def test_versions_are_rows(db: AsyncEngine) -> None:
    await ensure_account(db, "acme", "Acme", "isa")
    await save_version(db, "acme", default_playbook("isa"))
    async with db.connect() as conn:
        rows = (
            await conn.execute(
                select(PlaybookVersion.name, PlaybookVersion.version).where(
                    PlaybookVersion.account_id == "acme"
                )
            )
        ).all()
    assert [tuple(r) for r in rows] == [("isa", 1)]
