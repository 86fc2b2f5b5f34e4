"""Consent as a record through the API: kept with its evidence, listed back, told to the
lead (its texts and calls say the consent exempts them from the lists), ended beside it by a
revocation; bad evidence is a 422 that says what is wrong and keeps nothing; the business
relationship's dates reach the lead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.store.consent_tables import ConsentRecord
from leadflow.store.dnc import import_list
from tests.factories import eventually
from tests.integration.test_webhooks import PHONE, api, app  # noqa: F401  (fixtures)

FORM = {
    "party": "borrower",
    "channels": ["sms", "call"],
    "means": "web_form",
    "form_url": "https://acme.example/apply",
    "ip": "203.0.113.7",
    "certificate": "https://cert.trustedform.com/0123456789abcdef",
    "disclosure": "By submitting I agree that Acme Mortgage may call and text me... (v3)",
    "seller": "Acme Mortgage",
    "actor": "web-intake",
}


async def _records(db: AsyncEngine) -> int:
    async with db.connect() as conn:
        return int(
            (await conn.execute(select(func.count()).select_from(ConsentRecord))).scalar_one()
        )


async def test_a_consent_is_kept_with_its_evidence_and_a_revocation_ends_it_beside_it(
    db: AsyncEngine,
    api: httpx.AsyncClient,  # noqa: F811
) -> None:
    given = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    answer = await api.post("/v1/leads/L1/consents", json=FORM | {"given_at": given})
    assert answer.status_code == 202, answer.text
    came, kept = (await api.get("/v1/leads/L1/consents")).json()  # with the lead, then this
    assert came["form_url"] == "https://acme.example/quote" and came["channels"] == ["sms"]
    assert kept["written"] and kept["ip"] == "203.0.113.7" and kept["ended_at"] is None
    assert kept["recorded_by"].startswith("web-intake with ")

    async def weighed() -> bool:
        audit = (await api.get("/v1/leads/L1")).json()["audit"]
        return any("consented to call, sms (marketing, written" in a["reason"] for a in audit)

    assert await eventually(weighed)
    stop = await api.post("/v1/leads/L1/replies", json={"body": "stop"})
    assert stop.status_code == 202

    async def ended() -> dict[str, object]:
        *_, record = (await api.get("/v1/leads/L1/consents")).json()
        return record if record["ended_at"] else {}

    record = await eventually(ended)
    assert "opted out of sms" in str(record["ended_why"])
    assert record["given_at"] is not None and record["disclosure"] == FORM["disclosure"]


async def test_consents_come_with_a_new_lead_and_are_kept_once(
    db: AsyncEngine,
    api: httpx.AsyncClient,  # noqa: F811
) -> None:
    given = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    body: dict[str, Any] = {
        "parties": {"borrower": {"name": "Ann Lo", "phone": "+13125550177", "sms_consent": True}},
        "consents": [FORM | {"given_at": given}],
    }
    first = await api.put("/v1/leads/C1", json=body)
    assert first.status_code == 201, first.text
    again = await api.put("/v1/leads/C1", json=body)  # a retried request: kept once
    assert again.status_code == 200, again.text
    [kept] = (await api.get("/v1/leads/C1/consents")).json()
    assert kept["certificate"] == FORM["certificate"] and kept["channels"] == ["call", "sms"]
    assert kept["recorded_by"].startswith("web-intake with ")
    audit = (await api.get("/v1/leads/C1")).json()["audit"]
    assert any("consented to call, sms (marketing, written: web form" in a["reason"] for a in audit)
    before = await _records(db)
    for consent, said in (
        (FORM | {"given_at": given, "party": "cousin"}, "the lead has no cousin phone"),
        (FORM | {"given_at": given, "channels": ["sms"]}, "consents[0]: the lead has no borrower"),
    ):
        refused = await api.put(
            "/v1/leads/C2",
            json={"parties": {"borrower": {"email": "c2@example.com"}}, "consents": [consent]},
        )
        assert refused.status_code == 422 and said in refused.text, refused.text
    assert await _records(db) == before
    assert (await api.get("/v1/leads/C2")).status_code == 404  # nothing half-written


async def test_bad_evidence_is_refused_with_what_is_wrong_and_nothing_kept(
    db: AsyncEngine,
    api: httpx.AsyncClient,  # noqa: F811
) -> None:
    now = datetime.now(UTC)
    for change, said in (
        ({"form_url": None}, "give form_url"),
        ({"means": "certificate", "certificate": None}, "give certificate"),
        ({"ip": "300.1.1.1"}, "not an IPv4 or IPv6 address"),
        ({"given_at": (now + timedelta(days=1)).isoformat()}, "ahead of now"),
        ({"given_at": "2026-12-01T10:00:00"}, "timezone"),
        ({"channels": []}, "at least 1"),
        ({"party": "cousin"}, "cousin"),
    ):
        body = FORM | {"given_at": (now - timedelta(hours=1)).isoformat()} | change
        answer = await api.post("/v1/leads/L1/consents", json=body)
        assert answer.status_code == 422, (change, answer.text)
        assert said in answer.text, (said, answer.text)
    missing = await api.post(
        "/v1/leads/NOPE/consents", json=FORM | {"given_at": (now - timedelta(hours=1)).isoformat()}
    )
    assert missing.status_code == 404
    assert await _records(db) == 1  # the one the lead came with


async def test_the_relationship_dates_reach_the_lead(
    api: httpx.AsyncClient,  # noqa: F811
) -> None:
    bought = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    answer = await api.put("/v1/leads/L1/relationship", json={"transacted_at": bought})
    assert answer.status_code == 202, answer.text
    assert (await api.put("/v1/leads/L1/relationship", json={})).status_code == 422
    seconds = await api.put("/v1/leads/L1/relationship", json={"transacted_at": 0})
    assert seconds.status_code == 422 and "ISO 8601 text" in seconds.text

    async def told() -> bool:
        audit = (await api.get("/v1/leads/L1")).json()["audit"]
        return any(a["reason"].startswith("business relationship: inquiry") for a in audit)

    assert await eventually(told)


@pytest.mark.reassigned_numbers
async def test_the_lead_shows_who_may_be_contacted_and_why(
    db: AsyncEngine,
    api: httpx.AsyncClient,  # noqa: F811
) -> None:
    """`standing`: the consents, the relationship's dates, and for each number the lists
    that reach it, those it is on, why none holds it, and the last reassigned-number check."""
    await import_list(db, "national", datetime.now(UTC).date(), [PHONE[2:]])
    given = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert (await api.post("/v1/leads/L1/consents", json=FORM | {"given_at": given})).is_success

    async def shown() -> dict[str, Any]:
        found: dict[str, Any] = (await api.get("/v1/leads/L1")).json()["standing"]
        return found if found["consents"] and found["numbers"][0]["last_check"] else {}

    standing = await eventually(shown)
    came, consent = standing["consents"]  # the form's, with the lead; then this one
    assert came["channels"] == ["sms"]
    assert consent["written"] and consent["channels"] == ["call", "sms"]
    assert consent["ended_at"] is None and standing["inquired_at"] is not None
    assert standing["do_not_call_request"] is False
    [number] = standing["numbers"]
    assert (number["party"], number["number"]) == ("borrower", PHONE)
    assert number["lists"] == ["national", "state:IL"] and number["listed_on"] == ["national"]
    assert number["exemption"].startswith("written consent (web form")
    assert number["reassigned"] is False and number["last_check"]["answer"] == "no"
