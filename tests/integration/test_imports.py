"""Bulk imports through the API, on the real SDK client and workers (time skipping): a
file's good lines start once, at a steady rate; bad lines and duplicates (in the file and
in the account) are reported with their line and why, never started; the same file again
is the same import and starts nothing twice; a bad file or mapping is a 4xx."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.api.app import create_app
from leadflow.client import LeadflowClient
from leadflow.engine.refs import LeadRef
from leadflow.store.accounts import ensure_account, new_api_key
from tests.factories import api_settings, eventually
from tests.integration.test_api import Served

FILE = (
    "lead_id,first_name,last_name,phone,email\n"
    "N-1,Pat,Lee,+13125550151,pat@example.com\n"
    "N-2,Sam,Roe,+13125550152,\n"
    "N-3,Ana,Ng,,ana@example.com\n"
    "N-4,Bad,Phone,12,\n"
    "N-5,Pat,Lee,+13125550159,PAT@example.com\n"  # the same email as line 2
    "N-6,Olga,Twin,+13125550160,OLGA@example.com\n"  # the account's lead OLD-1's email
)
CSV = {"content-type": "text/csv"}


@pytest_asyncio.fixture
async def app(leads: LeadflowClient, db: AsyncEngine) -> FastAPI:
    await ensure_account(db, "acme", "Acme Mortgage", "isa")
    await ensure_account(db, "other", "Other Realty", "isa")
    return create_app(api_settings(leads), client=leads.temporal, engine=db)


async def _finished(api: httpx.AsyncClient, import_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] = (await api.get(f"/v1/imports/{import_id}")).json()
    return found if found["finished_at"] else None


async def _runs(db: AsyncEngine, account: str) -> list[str]:
    async with db.connect() as conn:
        found = await conn.execute(
            text("SELECT lead_id FROM leads WHERE account_id = :a ORDER BY lead_id"),
            {"a": account},
        )
        return [row.lead_id for row in found]


async def test_an_import_starts_its_good_lines_once_and_reports_every_line(
    app: FastAPI, db: AsyncEngine, leads: LeadflowClient
) -> None:
    async with Served(app, await new_api_key(db, "acme")) as api:
        olga = {"name": "Olga Old", "phone": "+13125550150", "email": "olga@example.com"}
        made = await api.put("/v1/leads/OLD-1", json={"parties": {"borrower": olga}})
        assert made.status_code == 201, made.text

        posted = await api.post(
            "/v1/imports", params={"name": "book.csv", "per_second": 50}, content=FILE,
            headers=CSV,
        )  # fmt: skip
        assert posted.status_code == 202, posted.text
        body = posted.json()
        assert (body["new"], body["name"], body["total"]) == (True, "book.csv", 6)
        assert (body["counts"]["invalid"], body["counts"]["duplicate"]) == (1, 2)

        done = await eventually(lambda: _finished(api, body["id"]))
        assert done is not None, "the import did not finish"
        assert done["counts"] == {
            "pending": 0, "started": 3, "existing": 0, "invalid": 1, "duplicate": 2,
            "refused": 0,
        }  # fmt: skip
        assert await _runs(db, "acme") == ["N-1", "N-2", "N-3", "OLD-1"]
        described = await leads.describe(LeadRef(account_id="acme", lead_id="N-3"))
        assert described.parties["borrower"].email == "ana@example.com"

        answer = await api.get(body["report"])
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(answer.text)))
        assert rows[0] == ["line", "lead_id", "outcome", "detail"]
        assert [r[:3] for r in rows[1:]] == [
            ["2", "N-1", "started"], ["3", "N-2", "started"], ["4", "N-3", "started"],
            ["5", "", "invalid"], ["6", "N-5", "duplicate"], ["7", "N-6", "duplicate"],
        ]  # fmt: skip
        assert rows[4][3].startswith("phone:"), rows[4]
        assert rows[5][3] == "the same email as line 2"
        assert rows[6][3] == "the same email as lead OLD-1"

        # The same file again is the same import: it resumes, and nothing starts twice.
        again = await api.post("/v1/imports", params={"name": "b.csv"}, content=FILE, headers=CSV)
        assert again.status_code == 202, again.text
        assert (again.json()["id"], again.json()["new"]) == (body["id"], False)
        assert again.json()["counts"] == done["counts"]
        assert await _runs(db, "acme") == ["N-1", "N-2", "N-3", "OLD-1"]

    async with Served(app, await new_api_key(db, "other")) as other:  # acme's, not other's
        assert (await other.get(f"/v1/imports/{body['id']}")).status_code == 404
        assert (await other.get(body["report"])).status_code == 404


async def test_a_file_or_mapping_that_cannot_be_read_is_refused_and_nothing_is_kept(
    app: FastAPI, db: AsyncEngine
) -> None:
    async with Served(app, await new_api_key(db, "acme")) as api:
        as_json = await api.post("/v1/imports", params={"name": "x"}, json={"leads": []})
        assert as_json.status_code == 415, as_json.text
        for params, content, said in (
            ({"name": "x", "map": "fax:Phone"}, "Phone\n3125550111\n", "unknown field fax"),
            ({"name": "x", "map": "phone"}, "Phone\n3125550111\n", "give field:Column"),
            ({"name": "x"}, "first_name\nPat\n", "no phone and no email column"),
        ):
            answer = await api.post("/v1/imports", params=params, content=content, headers=CSV)
            assert answer.status_code == 422, answer.text
            assert said in answer.json()["detail"], answer.text
        latin = await api.post(
            "/v1/imports", params={"name": "x"}, content="phone\nJos\xe9\n".encode("latin-1"),
            headers=CSV,
        )  # fmt: skip
        assert latin.status_code == 422 and "UTF-8" in latin.json()["detail"]
    async with db.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM imports"))).scalar_one() == 0
