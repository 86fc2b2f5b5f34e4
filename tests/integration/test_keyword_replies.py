"""STOP, START and HELP through the Python client, the HTTP API and Twilio's webhook, over a
real worker; an opt-in through the API is its own call, recorded with its evidence; HELP
names the business and its help contact when the account's playbook gives them."""

from __future__ import annotations

from datetime import date, time

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from leadflow.api.app import create_app
from leadflow.client import LeadflowClient
from leadflow.engine.events import ReplyReceived
from leadflow.engine.refs import LeadRef
from leadflow.playbook.load import default_playbook
from leadflow.playbook.sender_identity import Identity
from leadflow.store.accounts import ensure_account, key_id, new_api_key
from leadflow.store.playbooks import save_version
from leadflow.store.tables import OptInRecord, OptOut
from tests.factories import api_settings, eventually, form_consent, new_lead
from tests.integration.test_api import Served, app  # noqa: F401  (the API over a worker)
from tests.integration.test_webhooks import OWN, PUBLIC, SHARED, TOKEN, hold, twilio
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
            json={
                "parties": {"borrower": {"phone": "+13125550160", "sms_consent": True}},
                "consents": [form_consent()],
            },
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


PHONE = "+13125550161"
K2 = LeadRef(account_id="beta", lead_id="K2")


async def _opt_outs(db: AsyncEngine) -> list[tuple[str, str]]:
    async with db.connect() as conn:
        rows = await conn.execute(select(OptOut.channel, OptOut.address).order_by(OptOut.channel))
    return [(r.channel, r.address) for r in rows]


async def _opt_ins(db: AsyncEngine) -> list[tuple[str, str, str, str, str, str]]:
    async with db.connect() as conn:
        rows = await conn.execute(
            select(
                OptInRecord.account_id,
                OptInRecord.lead_id,
                OptInRecord.channel,
                OptInRecord.address,
                OptInRecord.actor,
                OptInRecord.evidence,
            )
        )
    return [tuple(r) for r in rows]


async def _opted_out_by_stop(api: httpx.AsyncClient, db: AsyncEngine) -> None:
    """Lead K2, whose borrower texted STOP (through the API: it only narrows contact)."""
    created = await api.put(
        "/v1/leads/K2",
        json={
            "parties": {"borrower": {"phone": PHONE, "sms_consent": True}},
            "consents": [form_consent()],
        },
    )
    assert created.status_code == 201, created.text
    assert (await api.post("/v1/leads/K2/replies", json={"body": "STOP"})).status_code == 202

    async def stopped() -> bool:
        return await _opt_outs(db) == [("mms", PHONE), ("sms", PHONE)]

    assert await eventually(stopped)


async def test_a_start_through_the_api_is_refused_naming_the_opt_in_endpoint(
    leads: LeadflowClient,
    db: AsyncEngine,
    time_env: WorkflowEnvironment,
    app: FastAPI,  # noqa: F811
) -> None:
    await skip_to_next(time_env, 0, time(10))
    async with Served(app, await new_api_key(db, "beta")) as api:
        await _opted_out_by_stop(api, db)
        for body in ("START", " yes. ", "unstop"):
            answer = await api.post("/v1/leads/K2/replies", json={"body": body})
            assert answer.status_code == 422, (body, answer.text)
            assert "POST /v1/leads/K2/opt-in" in answer.json()["detail"]
        # In an email, "yes" is a reply like any other.
        email = await api.post("/v1/leads/K2/replies", json={"channel": "email", "body": "Yes"})
        assert email.status_code == 202, email.text
        assert await _opt_outs(db) == [("mms", PHONE), ("sms", PHONE)]
        assert (await leads.describe(K2)).opted_out == ["mms", "sms"]


async def test_an_opt_in_is_recorded_with_its_evidence_and_lifts_the_opt_out(
    leads: LeadflowClient,
    db: AsyncEngine,
    time_env: WorkflowEnvironment,
    app: FastAPI,  # noqa: F811
) -> None:
    await skip_to_next(time_env, 0, time(10))
    key = await new_api_key(db, "beta")
    by = f"ana with api key {key_id(key)}"  # the person, and the key they recorded it with
    async with Served(app, key) as api:
        await _opted_out_by_stop(api, db)
        evidence = "signed web form 2026-12-01 14:02 UTC, IP 203.0.113.7"
        valid = {"channel": "sms", "party": "borrower", "evidence": evidence, "actor": "ana"}
        refused = [
            ("/v1/leads/K9/opt-in", valid, 404),  # no such lead
            ("/v1/leads/K2/opt-in", {**valid, "party": "cousin"}, 422),  # not the playbook's
            ("/v1/leads/K2/opt-in", {**valid, "party": "co_borrower"}, 422),  # not on the lead
            ("/v1/leads/K2/opt-in", {**valid, "channel": "email"}, 422),  # the party has none
            ("/v1/leads/K2/opt-in", {**valid, "evidence": "   "}, 422),
            ("/v1/leads/K2/opt-in", {**valid, "evidence": "x" * 1001}, 422),
            ("/v1/leads/K2/opt-in", {k: v for k, v in valid.items() if k != "actor"}, 422),
        ]
        for path, body, expected in refused:
            answer = await api.post(path, json=body)
            assert answer.status_code == expected, (body, answer.text)
        assert await _opt_ins(db) == []
        assert await _opt_outs(db) == [("mms", PHONE), ("sms", PHONE)]

        answer = await api.post("/v1/leads/K2/opt-in", json=valid)
        assert answer.status_code == 202, answer.text
        assert await _opt_ins(db) == [("beta", "K2", "sms", PHONE, by, evidence)]

        async def opted_in() -> bool:
            view = (await api.get("/v1/leads/K2")).json()
            heard = [a["reason"] for a in view["audit"] if a["reason"].startswith("opted back")]
            return (await leads.describe(K2)).opted_out == [] and heard == [
                f"opted back in to sms ({evidence} (recorded by {by}))"
            ]

        assert await eventually(opted_in)
        assert await _opt_outs(db) == []


async def test_help_by_text_names_the_brand_and_help_contact_of_the_numbers_account(
    leads: LeadflowClient, db: AsyncEngine
) -> None:
    """A HELP to a number acme holds answers with acme's identity from its current playbook;
    to a number of an account whose playbook names none, the plain answer."""
    await ensure_account(db, "acme", "Acme", "isa")
    await hold(db, "acme", OWN)
    await ensure_account(db, "plain", "Plain", "isa")
    await hold(db, "plain", "+13125550191")
    isa = default_playbook("isa")
    named = isa.compliance.model_copy(
        update={"identity": Identity(name="Acme Mortgage", contact="help@acme.example")}
    )
    await save_version(db, "acme", isa.model_copy(update={"version": 2, "compliance": named}))
    settings = api_settings(leads, twilio_auth_token=TOKEN, twilio_from=SHARED, public_url=PUBLIC)
    web = create_app(settings, client=leads.temporal, engine=db)
    async with Served(web, await new_api_key(db, "acme")) as api:
        answer = await twilio(api, "/webhooks/twilio/sms", {"From": "+13125550162", "Body": "HELP"})
        plain = await twilio(
            api,
            "/webhooks/twilio/sms",
            {"From": "+13125550162", "To": "+13125550191", "Body": "info"},
        )
    assert answer.status_code == 200, answer.text
    assert (
        "<Message>Acme Mortgage: texts about your request. Help: help@acme.example. "
        "Reply STOP to opt out, START to opt back in.</Message>"
    ) in answer.text
    assert "<Message>Reply STOP to stop texts, START to start them again.</Message>" in plain.text
