"""Provider webhooks: signed Twilio inbound SMS and status callbacks, signed SendGrid
events. A forged request is refused and nothing is recorded."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment
from twilio.request_validator import RequestValidator

from leadflow.api.app import create_app
from leadflow.client import LeadflowClient
from leadflow.providers.fake import EventSigner
from leadflow.store.accounts import ensure_account, new_api_key
from leadflow.store.tables import OptOut, OutboxMessage
from tests.factories import api_settings, eventually
from tests.integration.test_api import Served
from tests.scenario_support import skip_to_next

MONDAY = 0
PUBLIC = "https://leadflow.example.com"
TOKEN = "twilio-auth-token"
PHONE, EMAIL = "+13125550111", "pat@example.com"
SIGNER = EventSigner()  # SendGrid's event webhook key, as the fake provider signs with it


@pytest_asyncio.fixture
async def app(leads: LeadflowClient, db: AsyncEngine) -> FastAPI:
    await ensure_account(db, "acme", "Acme", "isa")
    settings = api_settings(
        leads,
        twilio_auth_token=TOKEN,
        public_url=PUBLIC,
        sendgrid_webhook_public_key=SIGNER.public_key,
    )
    return create_app(settings, client=leads.temporal, engine=db)


@pytest_asyncio.fixture
async def api(
    app: FastAPI, db: AsyncEngine, time_env: WorkflowEnvironment
) -> AsyncIterator[httpx.AsyncClient]:
    # The lead (Chicago, a 312 number) arrives on a Monday at 10:00 its time, whenever this runs.
    await skip_to_next(time_env, MONDAY, dt.time(10))
    async with Served(app, await new_api_key(db, "acme")) as client:
        await client.put(
            "/v1/leads/L1",
            json={
                "parties": {
                    "borrower": {
                        "name": "Pat Lee",
                        "phone": PHONE,
                        "email": EMAIL,
                        "sms_consent": True,
                    }
                },
                "designations": {"isa": {"id": "isa-1", "name": "Ivy Isa"}},
            },
        )
        yield client


async def _twilio(
    api: httpx.AsyncClient, path: str, form: dict[str, str], signature: str | None = None
) -> httpx.Response:
    signature = signature or RequestValidator(TOKEN).compute_signature(PUBLIC + path, form)
    return await api.post(
        path,
        content=urlencode(form),
        headers={
            "X-Twilio-Signature": signature,
            "content-type": "application/x-www-form-urlencoded",
        },
    )


async def _opt_outs(db: AsyncEngine) -> list[tuple[str, str]]:
    async with db.connect() as conn:
        rows = (
            await conn.execute(select(OptOut.channel, OptOut.address).order_by(OptOut.channel))
        ).all()
    return [(r.channel, r.address) for r in rows]


async def test_stop_opts_out_before_answering_and_stops_texts_at_once(
    api: httpx.AsyncClient, db: AsyncEngine
) -> None:
    response = await _twilio(api, "/webhooks/twilio/acme/sms", {"From": PHONE, "Body": " stop "})
    assert response.status_code == 200 and "<Response></Response>" in response.text
    assert await _opt_outs(db) == [("mms", PHONE), ("sms", PHONE)]

    async def opted() -> bool:
        view = (await api.get("/v1/leads/L1")).json()
        return any(a["reason"].startswith("opted out of sms") for a in view["audit"])

    assert await eventually(opted)
    start = await _twilio(api, "/webhooks/twilio/acme/sms", {"From": PHONE, "Body": "START"})
    assert start.status_code == 200 and await _opt_outs(db) == []


async def test_a_forged_webhook_is_refused_and_nothing_recorded(
    api: httpx.AsyncClient, db: AsyncEngine
) -> None:
    forged = await _twilio(
        api,
        "/webhooks/twilio/acme/sms",
        {"From": PHONE, "Body": "STOP"},
        signature="bm90IGEgc2lnbmF0dXJl",
    )
    assert forged.status_code == 403
    unsigned = await api.post(
        "/webhooks/twilio/acme/sms",
        content=urlencode({"From": PHONE, "Body": "STOP"}),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert unsigned.status_code == 403
    assert await _opt_outs(db) == []


async def test_help_answers_and_a_reply_reaches_the_lead(api: httpx.AsyncClient) -> None:
    help_ = await _twilio(api, "/webhooks/twilio/acme/sms", {"From": PHONE, "Body": "help"})
    assert "Reply STOP to stop texts" in help_.text
    await _twilio(api, "/webhooks/twilio/acme/sms", {"From": PHONE, "Body": "Call me at 5"})

    async def stopped() -> bool:
        view = (await api.get("/v1/leads/L1")).json()
        return view["snapshot"]["campaigns"] == ["isa_call_campaign"]  # the texts stopped

    assert await eventually(stopped)


async def test_status_callbacks_only_move_forward(api: httpx.AsyncClient, db: AsyncEngine) -> None:
    async def row() -> Any:
        async with db.connect() as conn:
            return (
                await conn.execute(
                    select(OutboxMessage.key, OutboxMessage.status).where(
                        OutboxMessage.channel == "sms"
                    )
                )
            ).first()

    async def sent() -> bool:
        found = await row()
        return found is not None and found.status == "sent"  # the send is done

    if not await eventually(sent):
        view = (await api.get("/v1/leads/L1")).json()
        raise AssertionError(view["audit"])
    key = (await row()).key
    async with db.begin() as conn:
        await conn.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key == key)
            .values(provider_id="SM1", status="sent")
        )
    path = "/webhooks/twilio/acme/status"
    for state in ("delivered", "sent", "delivered"):
        answer = await _twilio(api, path, {"MessageSid": "SM1", "MessageStatus": state})
        assert answer.status_code == 204
    assert (await row()).status == "delivered"


def _signed(events: list[dict[str, Any]], stamp: int | None = None) -> tuple[str, dict[str, str]]:
    payload = json.dumps(events)
    return payload, SIGNER.headers(payload, stamp)


async def test_sendgrid_bounces_suppress_email_once(
    api: httpx.AsyncClient, db: AsyncEngine
) -> None:
    events = [
        {"email": EMAIL, "event": "bounce", "sg_event_id": "e1"},
        {"email": EMAIL, "event": "delivered", "sg_event_id": "e2"},
    ]
    payload, headers = _signed(events)
    path = "/webhooks/sendgrid/acme/events"
    assert (await api.post(path, content=payload, headers=headers)).status_code == 204
    assert (await api.post(path, content=payload, headers=headers)).status_code == 204
    assert await _opt_outs(db) == [("email", EMAIL)]

    stale, stale_headers = _signed(events, stamp=int(time.time()) - 3600)
    assert (await api.post(path, content=stale, headers=stale_headers)).status_code == 403
    tampered_headers = dict(headers)
    forged = payload.replace("bounce", "spamreport")
    assert (await api.post(path, content=forged, headers=tampered_headers)).status_code == 403
    other_key = EventSigner().headers(payload)  # signed, but not with the account's key
    assert (await api.post(path, content=payload, headers=other_key)).status_code == 403


def test_the_event_signer_keeps_its_key_across_a_restart() -> None:
    """`leadflow dev` keeps the fake's signing key in its secrets file: read back, it signs
    for the same public key."""
    assert EventSigner(SIGNER.private_key).public_key == SIGNER.public_key
