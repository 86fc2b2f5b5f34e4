"""Provider webhooks: signed Twilio inbound SMS and status callbacks, signed SendGrid
events. A forged request is refused and nothing is recorded; whose a request is comes from
what the provider signs, never from the URL; a repeated delivery changes nothing; a body
that is not what the provider sends is a 400, never a 500."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest_asyncio
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment
from twilio.request_validator import RequestValidator

from leadflow.api.app import create_app
from leadflow.client import LeadflowClient
from leadflow.providers.fake import EventSigner
from leadflow.store.access_tables import Sender
from leadflow.store.accounts import ensure_account, new_api_key
from leadflow.store.tables import Lead, OptOut, OutboxMessage
from tests.factories import api_settings, eventually, form_consent
from tests.integration.test_api import Served
from tests.scenario_support import skip_to_next

MONDAY = 0
PUBLIC = "https://leadflow.example.com"
TOKEN = "twilio-auth-token"
PHONE, EMAIL = "+13125550111", "pat@example.com"
SHARED = "+13125550000"  # the platform's own number (TWILIO_FROM): texts without one go from it
OWN = "+13125550190"  # a number acme holds
SIGNER = EventSigner()  # SendGrid's event webhook key, as the fake provider signs with it


@pytest_asyncio.fixture
async def app(leads: LeadflowClient, db: AsyncEngine) -> FastAPI:
    await ensure_account(db, "acme", "Acme", "isa")
    await hold(db, "acme", OWN)
    settings = api_settings(
        leads,
        twilio_auth_token=TOKEN,
        twilio_from=SHARED,
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
                "consents": [form_consent()],
            },
        )
        yield client


# ---- test data: numbers held, leads and the messages sent to them ---------------------------


async def hold(db: AsyncEngine, account_id: str, number: str) -> None:
    """The operator records that `account_id` sends from `number`."""
    async with db.begin() as conn:
        await conn.execute(
            insert(Sender).values(channel="sms", address=number, account_id=account_id)
        )


async def lead_row(db: AsyncEngine, account_id: str, lead_id: str) -> None:
    """A lead's row alone (no workflow runs it): what messages to it belong to."""
    async with db.begin() as conn:
        await conn.execute(
            insert(Lead).values(
                account_id=account_id,
                lead_id=lead_id,
                workflow_id=f"lead:{account_id}:{lead_id}",
                milestone="New",
                time_zone="America/Chicago",
            )
        )


async def sent(
    db: AsyncEngine,
    account_id: str,
    lead_id: str,
    to: str,
    *,
    channel: str = "sms",
    from_number: str | None = None,
    ago: dt.timedelta = dt.timedelta(0),
) -> OutboxMessage:
    """A message the lead was sent (`ago`), with the provider's id: the row a send leaves."""
    key = f"lead:{account_id}:{lead_id}:test-{uuid.uuid4().hex[:8]}"
    values = {
        "key": key,
        "account_id": account_id,
        "lead_id": lead_id,
        "channel": channel,
        "party": "borrower",
        "to_address": to,
        "sender_id": "isa",
        "from_number": from_number,
        "template": "intro",
        "body": "Hello",
        "status": "sent",
        "provider_id": ("SM" if channel == "sms" else "msg-") + uuid.uuid4().hex,
        "created_at": dt.datetime.now(dt.UTC) - ago,
    }
    async with db.begin() as conn:
        await conn.execute(insert(OutboxMessage).values(**values))
    return OutboxMessage(**values)


async def opt_outs(db: AsyncEngine) -> list[tuple[str, str, str]]:
    """(account, channel, address) of every opt-out."""
    async with db.connect() as conn:
        rows = await conn.execute(
            select(OptOut.account_id, OptOut.channel, OptOut.address).order_by(
                OptOut.account_id, OptOut.channel
            )
        )
    return [(r.account_id, r.channel, r.address) for r in rows]


# ---- signed requests ------------------------------------------------------------------------


async def twilio(
    api: httpx.AsyncClient, path: str, form: dict[str, str], signature: str | None = None
) -> httpx.Response:
    """A form Twilio signed for `path`; an inbound text gets a MessageSid of its own and is to
    acme's number unless the form says otherwise."""
    if path.endswith("/sms"):
        sid = {} if "SmsSid" in form else {"MessageSid": "SM" + uuid.uuid4().hex}
        form = {**sid, "To": OWN, **form}
    signature = signature or RequestValidator(TOKEN).compute_signature(PUBLIC + path, form)
    return await api.post(
        path,
        content=urlencode(form),
        headers={
            "X-Twilio-Signature": signature,
            "content-type": "application/x-www-form-urlencoded",
        },
    )


def twilio_bytes_signature(path: str, pairs: list[tuple[bytes, bytes]]) -> str:
    """Twilio's signature over a form's bytes, whatever their encoding."""
    signed = (PUBLIC + path).encode() + b"".join(name + value for name, value in sorted(pairs))
    return base64.b64encode(hmac.new(TOKEN.encode(), signed, hashlib.sha1).digest()).decode()


def signed(events: list[dict[str, Any]], stamp: int | None = None) -> tuple[str, dict[str, str]]:
    payload = json.dumps(events)
    return payload, SIGNER.headers(payload, stamp)


# ---- inbound texts ---------------------------------------------------------------------------


async def test_stop_opts_out_before_answering_and_stops_texts_at_once(
    api: httpx.AsyncClient, db: AsyncEngine
) -> None:
    response = await twilio(api, "/webhooks/twilio/sms", {"From": PHONE, "Body": " stop "})
    assert response.status_code == 200 and "<Response></Response>" in response.text
    assert await opt_outs(db) == [("acme", "mms", PHONE), ("acme", "sms", PHONE)]

    async def opted() -> bool:
        view = (await api.get("/v1/leads/L1")).json()
        return any(a["reason"].startswith("opted out of sms") for a in view["audit"])

    assert await eventually(opted)
    start = await twilio(api, "/webhooks/twilio/sms", {"From": PHONE, "Body": "START"})
    assert start.status_code == 200 and await opt_outs(db) == []


async def test_a_replayed_inbound_text_is_acknowledged_and_changes_nothing(
    api: httpx.AsyncClient, db: AsyncEngine
) -> None:
    stop = {"MessageSid": "SMstop1", "From": PHONE, "Body": "STOP"}
    assert (await twilio(api, "/webhooks/twilio/sms", stop)).status_code == 200
    start = {"MessageSid": "SMstart1", "From": PHONE, "Body": "START"}
    assert (await twilio(api, "/webhooks/twilio/sms", start)).status_code == 200

    async def settled() -> bool:  # the lead has heard both, and written what each says
        view = (await api.get("/v1/leads/L1")).json()
        heard = any(a["reason"].startswith("opted back in") for a in view["audit"])
        return heard and await opt_outs(db) == []

    assert await eventually(settled)
    again = await twilio(api, "/webhooks/twilio/sms", stop)  # the STOP, captured and sent again
    assert again.status_code == 200 and "<Response></Response>" in again.text
    assert await opt_outs(db) == []
    by_sms_sid = {"SmsSid": "SMstop1", "From": PHONE, "Body": "STOP"}  # the older name
    assert (await twilio(api, "/webhooks/twilio/sms", by_sms_sid)).status_code == 200
    assert await opt_outs(db) == []


async def test_a_text_to_the_shared_number_reaches_the_lead_texted_from_it(
    api: httpx.AsyncClient, db: AsyncEngine
) -> None:
    async def texted() -> bool:  # the lead's first text went from the shared number
        async with db.connect() as conn:
            found = await conn.execute(
                select(OutboxMessage.key).where(
                    OutboxMessage.channel == "sms", OutboxMessage.provider_id.is_not(None)
                )
            )
            return found.first() is not None

    assert await eventually(texted)
    stranger = "+13125550177"  # never texted by anyone
    for to, sender in ((SHARED, stranger), ("+13125550178", PHONE)):  # unknown: applied to nobody
        answer = await twilio(
            api, "/webhooks/twilio/sms", {"From": sender, "To": to, "Body": "STOP"}
        )
        assert answer.status_code == 200 and "<Response></Response>" in answer.text
    assert await opt_outs(db) == []
    answer = await twilio(
        api, "/webhooks/twilio/sms", {"From": PHONE, "To": SHARED, "Body": "STOP"}
    )
    assert answer.status_code == 200
    assert await opt_outs(db) == [("acme", "mms", PHONE), ("acme", "sms", PHONE)]


async def test_a_forged_webhook_is_refused_and_nothing_recorded(
    api: httpx.AsyncClient, db: AsyncEngine
) -> None:
    for path in ("/webhooks/twilio/sms", "/webhooks/twilio/acme/sms"):
        forged = await twilio(api, path, {"From": PHONE, "Body": "STOP"}, "bm90IGEgc2lnbmF0dXJl")
        assert forged.status_code == 403
        unsigned = await api.post(
            path,
            content=urlencode({"From": PHONE, "Body": "STOP", "MessageSid": "SM1", "To": OWN}),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert unsigned.status_code == 403
    assert await opt_outs(db) == []


async def test_help_answers_and_a_reply_reaches_the_lead(api: httpx.AsyncClient) -> None:
    help_ = await twilio(api, "/webhooks/twilio/sms", {"From": PHONE, "Body": "help"})
    assert "Reply STOP to stop texts" in help_.text
    await twilio(api, "/webhooks/twilio/sms", {"From": PHONE, "Body": "Call me at 5"})

    async def stopped() -> bool:
        view = (await api.get("/v1/leads/L1")).json()
        return view["snapshot"]["campaigns"] == ["isa_call_campaign"]  # the texts stopped

    assert await eventually(stopped)


async def test_an_old_path_works_but_its_account_decides_nothing(
    api: httpx.AsyncClient, db: AsyncEngine
) -> None:
    """Provider configurations made before the account-free paths keep working; the
    account they name is not read."""
    answer = await twilio(api, "/webhooks/twilio/other/sms", {"From": PHONE, "Body": "STOP"})
    assert answer.status_code == 200
    assert await opt_outs(db) == [("acme", "mms", PHONE), ("acme", "sms", PHONE)]


# ---- bodies that are not what a provider sends ----------------------------------------------


async def test_a_body_that_is_not_utf8_is_403_unsigned_and_400_signed(
    api: httpx.AsyncClient, db: AsyncEngine
) -> None:
    path = "/webhooks/twilio/sms"
    pairs = [(b"MessageSid", b"SMlatin1"), (b"From", PHONE.encode()), (b"To", OWN.encode())]
    pairs.append((b"Body", b"\xff\xfeSTOP"))
    body = b"&".join(name + b"=" + value.replace(b"+", b"%2B") for name, value in pairs)
    form = {"content-type": "application/x-www-form-urlencoded"}
    forged = await api.post(path, content=body, headers={**form, "X-Twilio-Signature": "AAAA"})
    assert forged.status_code == 403
    good = {**form, "X-Twilio-Signature": twilio_bytes_signature(path, pairs)}
    answer = await api.post(path, content=body, headers=good)
    assert answer.status_code == 400 and "not UTF-8" in answer.json()["detail"]

    events = "/webhooks/sendgrid/events"
    for payload, why in (
        (b'[{"event": "bounce", "email": "\xff"}]', "not UTF-8"),
        (b"bounce", "not JSON"),
        (b"[1]", "not a list of SendGrid events"),
        (b'{"event": "bounce"}', "not a list of SendGrid events"),
        (b'[{"event": "bounce", "email": 7}]', "not a list of SendGrid events"),
    ):
        headers = SIGNER.headers("")  # signed: the signature over the bytes as sent
        stamp = headers["X-Twilio-Email-Event-Webhook-Timestamp"]
        headers["X-Twilio-Email-Event-Webhook-Signature"] = _sign_bytes(stamp, payload)
        answer = await api.post(events, content=payload, headers=headers)
        assert answer.status_code == 400 and why in answer.json()["detail"], payload
        unsigned = await api.post(events, content=payload, headers=SIGNER.headers("other"))
        assert unsigned.status_code == 403, payload
    assert await opt_outs(db) == []


def _sign_bytes(stamp: str, payload: bytes) -> str:
    """SendGrid's signature over a body's bytes, whatever they hold."""
    key = serialization.load_der_private_key(base64.b64decode(SIGNER.private_key), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return base64.b64encode(key.sign(stamp.encode() + payload, ec.ECDSA(hashes.SHA256()))).decode()


# ---- status callbacks ------------------------------------------------------------------------


async def test_status_callbacks_only_move_forward_for_the_message_they_name(
    api: httpx.AsyncClient, db: AsyncEngine
) -> None:
    async def row() -> Any:
        async with db.connect() as conn:
            return (
                await conn.execute(
                    select(OutboxMessage.key, OutboxMessage.status).where(
                        OutboxMessage.channel == "sms"
                    )
                )
            ).first()

    async def done() -> bool:
        found = await row()
        return found is not None and found.status == "sent"  # the send is done

    if not await eventually(done):
        view = (await api.get("/v1/leads/L1")).json()
        raise AssertionError(view["audit"])
    key = (await row()).key
    async with db.begin() as conn:
        await conn.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key == key)
            .values(provider_id="SM1", status="sent")
        )
    elsewhere = {"MessageSid": "SM1", "MessageStatus": "delivered", "To": "+13125550177"}
    assert (await twilio(api, "/webhooks/twilio/status", elsewhere)).status_code == 204
    assert (await row()).status == "sent"  # a callback about a text to someone else
    for path, state in (
        ("/webhooks/twilio/status", "delivered"),
        ("/webhooks/twilio/status", "sent"),
        ("/webhooks/twilio/other/status", "delivered"),
    ):
        answer = await twilio(api, path, {"MessageSid": "SM1", "MessageStatus": state, "To": PHONE})
        assert answer.status_code == 204
    assert (await row()).status == "delivered"
    read = {"MessageSid": "SM1", "MessageStatus": "read", "To": PHONE}
    assert (await twilio(api, "/webhooks/twilio/other/status", read)).status_code == 204
    assert (await row()).status == "read"  # the old path's account is not read


# ---- SendGrid events --------------------------------------------------------------------------


async def test_sendgrid_events_act_for_the_email_they_name_once(
    api: httpx.AsyncClient, db: AsyncEngine
) -> None:
    email = await sent(db, "acme", "L1", EMAIL, channel="email")
    key = email.key
    nobodys = [
        {"email": EMAIL, "event": "bounce", "sg_event_id": "n1"},  # no key
        {"email": EMAIL, "event": "bounce", "sg_event_id": "n2", "leadflow_key": "lead:x:y:z"},
        {
            "email": "eve@example.com",
            "event": "spamreport",
            "sg_event_id": "n3",
            "leadflow_key": key,
        },
    ]
    payload, headers = signed(nobodys)
    answer = await api.post("/webhooks/sendgrid/events", content=payload, headers=headers)
    assert answer.status_code == 204 and await opt_outs(db) == []

    events = [
        {"email": EMAIL.upper(), "event": "bounce", "sg_event_id": "e1", "leadflow_key": key},
        {"email": EMAIL, "event": "delivered", "sg_event_id": "e2", "leadflow_key": key},
    ]
    payload, headers = signed(events)
    path = "/webhooks/sendgrid/beta/events"  # an old path naming another account: not read
    assert (await api.post(path, content=payload, headers=headers)).status_code == 204
    assert (await api.post(path, content=payload, headers=headers)).status_code == 204
    assert await opt_outs(db) == [("acme", "email", EMAIL)]

    stale, stale_headers = signed(events, stamp=int(time.time()) - 3600)
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


async def test_a_text_twilio_held_back_and_dropped_goes_again_under_a_key_of_its_own(
    api: httpx.AsyncClient, db: AsyncEngine, time_env: WorkflowEnvironment
) -> None:
    """Twilio let the text expire in its queue (30036: its ValidityPeriod, the window's end,
    passed) or dropped it for a rate limit (30022): the lead tries it again, in a window."""

    async def texts() -> list[Any]:
        async with db.connect() as conn:
            query = select(OutboxMessage.key, OutboxMessage.status, OutboxMessage.provider_id)
            found = await conn.execute(query.where(OutboxMessage.channel == "sms"))
            return list(found)

    async def sent_once() -> list[Any]:
        return [t for t in await texts() if t.status == "sent"]

    [first] = await eventually(sent_once)
    callback = {
        "MessageSid": first.provider_id,
        "MessageStatus": "failed",
        "ErrorCode": "30036",
        "To": PHONE,
    }
    assert (await twilio(api, "/webhooks/twilio/status", callback)).status_code == 204

    async def again() -> list[Any]:
        return [t for t in await texts() if t.key == f"{first.key}:again2" and t.provider_id]

    await time_env.sleep(dt.timedelta(minutes=16))  # it waits a while, the window being open
    [resent] = await eventually(again)
    assert resent.provider_id != first.provider_id
    audit = (await api.get("/v1/leads/L1")).json()["audit"]
    assert any("was not sent in its window" in a["reason"] for a in audit)


async def test_opt_outs_in_other_words_and_stop_all_hold_across_the_account_before_answering(
    api: httpx.AsyncClient, db: AsyncEngine
) -> None:
    alto = await twilio(api, "/webhooks/twilio/sms", {"From": PHONE, "Body": "¡Alto!"})
    assert alto.status_code == 200
    assert await opt_outs(db) == [("acme", "mms", PHONE), ("acme", "sms", PHONE)]
    await twilio(api, "/webhooks/twilio/sms", {"From": PHONE, "Body": "START"})
    everything = await twilio(api, "/webhooks/twilio/sms", {"From": PHONE, "Body": "Stop all"})
    assert everything.status_code == 200
    # Before the answer, the number is out of texts and calls; the lead's workflow, hearing
    # STOP ALL, also opts its email address out, whenever its decision is written.
    assert [row for row in await opt_outs(db) if row[2] == PHONE] == [
        ("acme", "call", PHONE),
        ("acme", "mms", PHONE),
        ("acme", "sms", PHONE),
    ]

    async def no_call_queued() -> bool:
        view = (await api.get("/v1/leads/L1")).json()
        return any(a["reason"].startswith("opted out of all") for a in view["audit"])

    assert await eventually(no_call_queued)
    # The lead's workflow wrote START again after STOP ALL was heard: STOP ALL still holds.
    assert {channel for _, channel, _ in await opt_outs(db)} >= {"call", "mms", "sms"}
