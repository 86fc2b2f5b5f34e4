"""A lead's thread through the API, on real PostgreSQL with the lead's workflow under time
skipping: a text the lead sends (Twilio's signed inbound) and an email reply (SendGrid's
Inbound Parse, signed by its own policy's key) join the thread in the lead's own words
beside what was sent to them with its delivery state, and reach the lead as replies; the
thread pages without repeating or skipping; a forged parse post is refused and records
nothing; another account's key reads no thread."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from leadflow.api.app import create_app
from leadflow.api.passwords import hash_password
from leadflow.client import LeadflowClient
from leadflow.engine.refs import LeadRef
from leadflow.providers.fake import EventSigner
from leadflow.store.accounts import ensure_account, new_api_key
from leadflow.store.users import save_user, set_password
from tests.factories import api_settings, eventually, form_consent
from tests.integration.test_api import Served
from tests.integration.test_webhooks import EMAIL, OWN, PHONE, PUBLIC, TOKEN, hold, sent, twilio
from tests.integration.test_workspace import CSRF, _browser, _sign_in
from tests.scenario_support import skip_to_next
from tests.services import ProvidersUnderTest

PARSE = EventSigner()  # the Inbound Parse security policy's key: not the event webhook's
QUOTED = "On Mon, Mar 2, 2026 at 10:00 AM Ivy <ivy@acme.example> wrote:\n> Hi Pat\n"
QUOTED += "> Unsubscribe: https://leadflow.example.com/unsubscribe/abc\n"


@pytest_asyncio.fixture
async def app(leads: LeadflowClient, db: AsyncEngine) -> FastAPI:
    await ensure_account(db, "acme", "Acme", "isa")
    await hold(db, "acme", OWN)
    settings = api_settings(
        leads,
        twilio_auth_token=TOKEN,
        twilio_from="+13125550000",
        public_url=PUBLIC,
        sendgrid_parse_public_key=PARSE.public_key,
    )
    return create_app(settings, client=leads.temporal, engine=db)


@pytest_asyncio.fixture
async def api(
    app: FastAPI, db: AsyncEngine, time_env: WorkflowEnvironment
) -> AsyncIterator[httpx.AsyncClient]:
    await skip_to_next(time_env, 0, dt.time(10))  # Monday 10:00 in Chicago, the lead's zone
    async with Served(app, await new_api_key(db, "acme")) as client:
        borrower = {"name": "Pat Lee", "phone": PHONE, "email": EMAIL, "sms_consent": True}
        created = await client.put(
            "/v1/leads/L1",
            json={
                "parties": {"borrower": borrower},
                "designations": {"isa": {"id": "isa-1", "name": "Ivy Isa"}},
                "consents": [form_consent()],
            },
        )
        assert created.status_code == 201, created.text
        yield client


def _parse_post(
    fields: dict[str, str], *, key: EventSigner = PARSE
) -> tuple[bytes, dict[str, str]]:
    """A multipart form as Inbound Parse posts it, signed over its bytes."""
    request = httpx.Request("POST", "http://x/", files={k: (None, v) for k, v in fields.items()})
    body = request.read()
    stamp = str(int(time.time()))
    private = serialization.load_der_private_key(base64.b64decode(key.private_key), None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    signature = private.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return body, {
        "content-type": request.headers["content-type"],
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
    }


def _reply(message_id: str, text: str) -> dict[str, str]:
    return {
        "from": f"Pat Lee <{EMAIL.upper()}>",
        "to": "replies@parse.acme.example",
        "subject": "Re: Your rate",
        "text": text,
        "headers": f"Message-ID: <{message_id}>\nSubject: Re: Your rate\n",
        "envelope": json.dumps({"to": ["replies@parse.acme.example"], "from": EMAIL}),
    }


async def _thread(api: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    found = await api.get("/v1/leads/L1/thread", params=params)
    assert found.status_code == 200, found.text
    body: dict[str, Any] = found.json()
    return body


async def test_a_text_and_an_email_reply_join_the_thread_in_the_leads_words(
    api: httpx.AsyncClient, db: AsyncEngine, leads: LeadflowClient
) -> None:
    await sent(db, "acme", "L1", EMAIL, channel="email", ago=dt.timedelta(minutes=5))
    texted = await twilio(api, "/webhooks/twilio/sms", {"From": PHONE, "Body": "Call me at 5?"})
    assert texted.status_code == 200, texted.text
    body, headers = _parse_post(_reply("r1@mail.example", "Please stop emailing me.\n\n" + QUOTED))
    emailed = await api.post("/webhooks/sendgrid/inbound", content=body, headers=headers)
    assert emailed.status_code == 204, emailed.text
    again = await api.post("/webhooks/sendgrid/inbound", content=body, headers=headers)
    assert again.status_code == 204  # a repeat of the same Message-ID changes nothing

    entries = (await _thread(api))["entries"]
    said = [(e["direction"], e["kind"], e["body"]) for e in entries if e["direction"] != "note"]
    assert ("in", "sms", "Call me at 5?") in said
    assert ("in", "email", "Please stop emailing me.") in said  # the quote left out
    assert ("out", "email", "Hello") in said
    assert sum(1 for s in said if s[1] == "email" and s[0] == "in") == 1
    [mail] = [e for e in entries if e["direction"] == "in" and e["kind"] == "email"]
    assert mail["subject"] == "Re: Your rate" and mail["by"] == EMAIL
    [out] = [e for e in entries if e["direction"] == "out" and e["body"] == "Hello"]
    assert out["status"] == "sent" and out["by"] == "isa"

    # Both reached the lead as replies; the email revoked its consent to emails.
    async def revoked() -> bool:
        state = await leads.describe(LeadRef(account_id="acme", lead_id="L1"))
        return "email" in state.opted_out

    assert await eventually(revoked)


async def test_the_thread_pages_without_repeats_and_refuses_what_it_did_not_give(
    api: httpx.AsyncClient, db: AsyncEngine
) -> None:
    for minutes in range(5):
        await sent(db, "acme", "L1", EMAIL, channel="email", ago=dt.timedelta(minutes=minutes))
    whole = (await _thread(api, limit=200))["entries"]
    seen: list[str] = []
    before = None
    while True:
        page = await _thread(api, limit=2, **({"before": before} if before else {}))
        seen += [e["id"] for e in page["entries"]]
        before = page["next"]
        if before is None:
            break
    assert seen == [e["id"] for e in whole] and len(seen) == len(set(seen)) >= 5
    times = [e["at"] for e in whole]
    assert times == sorted(times, reverse=True)
    bad = await api.get("/v1/leads/L1/thread", params={"before": "not-a-cursor"})
    assert bad.status_code == 400 and "not a cursor" in bad.text
    missing = await api.get("/v1/leads/NOPE/thread")
    assert missing.status_code == 404


async def test_a_forged_parse_post_is_refused_and_records_nothing(
    api: httpx.AsyncClient, db: AsyncEngine
) -> None:
    await sent(db, "acme", "L1", EMAIL, channel="email")
    body, headers = _parse_post(_reply("forged@x", "STOP"), key=EventSigner())
    refused = await api.post("/webhooks/sendgrid/inbound", content=body, headers=headers)
    assert refused.status_code == 403
    unsigned = await api.post("/webhooks/sendgrid/inbound", content=body)
    assert unsigned.status_code == 403
    entries = (await _thread(api))["entries"]
    assert [e for e in entries if e["direction"] == "in"] == []


async def test_an_agent_reads_the_leads_words_on_its_page_and_in_the_whole_thread(
    app: FastAPI, api: httpx.AsyncClient, db: AsyncEngine
) -> None:
    texted = await twilio(api, "/webhooks/twilio/sms", {"From": PHONE, "Body": "Is 5pm ok?"})
    assert texted.status_code == 200
    await save_user(db, "acme", "ana", "Ana", None, None, ["isa"])
    await set_password(db, "acme", "ana", await hash_password("ana's long password"))
    async with _browser(app) as browser:
        signed = await _sign_in(browser, "acme", "ana", "ana's long password")
        assert signed.status_code == 303, signed.text
        page = await browser.get("/app/leads/L1")
        assert page.status_code == 200
        assert "Conversation" in page.text and "Is 5pm ok?" in page.text
        assert "borrower wrote" in page.text
        whole = await browser.get("/app/leads/L1/thread")
        assert whole.status_code == 200 and "Is 5pm ok?" in whole.text
        assert "the lead&#39;s time (America/Chicago)" in whole.text
        bad = await browser.get("/app/leads/L1/thread", params={"before": "nope"})
        assert bad.status_code == 200 and "Is 5pm ok?" in bad.text  # the newest, said so
        other = await browser.get("/app/leads/NOPE/thread")
        assert other.status_code == 200 and "Is 5pm ok?" not in other.text


async def test_an_agents_text_is_delivered_once_and_refused_at_half_past_nine_lead_local(
    api: httpx.AsyncClient, providers: ProvidersUnderTest, time_env: WorkflowEnvironment
) -> None:
    words = f"Hi Pat, Ivy here: does 5pm work? ({uuid.uuid4().hex[:6]})"
    message = {"channel": "sms", "body": words, "actor": "isa-1", "request_id": "m-1"}
    first = await api.post("/v1/leads/L1/messages", json=message)
    again = await api.post("/v1/leads/L1/messages", json=message)  # the same request: once
    assert first.status_code == again.status_code == 200, first.text

    async def delivered() -> list[dict[str, Any]]:
        return [m for m in providers.state.messages if m["body"] == words]

    [sent] = await eventually(delivered)
    assert sent["to"] == PHONE
    entries = (await _thread(api))["entries"]
    [out] = [e for e in entries if e["body"] == words]
    assert (out["direction"], out["kind"], out["by"]) == ("out", "sms", "isa-1")

    await time_env.sleep(dt.timedelta(hours=11, minutes=30))  # 21:30 in Chicago
    late = {**message, "body": "Still up?", "request_id": "m-2"}
    refused = await api.post("/v1/leads/L1/messages", json=late)
    assert refused.status_code == 422, refused.text
    assert "not sent now" in refused.text and "(America/Chicago)" in refused.text
    assert [m for m in providers.state.messages if m["body"] == "Still up?"] == []


async def test_an_agent_answers_from_the_leads_page_and_hears_why_not_when_it_cannot_go(
    app: FastAPI,
    api: httpx.AsyncClient,
    db: AsyncEngine,
    providers: ProvidersUnderTest,
    time_env: WorkflowEnvironment,
) -> None:
    await save_user(db, "acme", "ana", "Ana", None, None, ["isa"])
    await set_password(db, "acme", "ana", await hash_password("ana's long password"))
    words = f"Ana here, 5pm works ({uuid.uuid4().hex[:6]})"
    async with _browser(app) as browser:
        assert (await _sign_in(browser, "acme", "ana", "ana's long password")).status_code == 303

        async def write(body: str) -> str:
            page = await browser.get("/app/leads/L1")
            csrf = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
            form = {"csrf": csrf, "request_id": f"w-{uuid.uuid4().hex}", "body": body}
            sent = await browser.post("/app/leads/L1/messages", data=form)
            assert sent.status_code == 303, sent.text
            return (await browser.get(sent.headers["location"])).text

        answered = await write(words)
        assert "Text to borrower sent" in answered

        async def delivered() -> list[dict[str, Any]]:
            return [m for m in providers.state.messages if m["body"] == words]

        assert len(await eventually(delivered)) == 1
        await time_env.sleep(dt.timedelta(hours=11, minutes=30))  # 21:30 in Chicago
        late = await write("Still up?")
        assert "Not sent now: quiet hours" in late and "it may go from Tue 08:00" in late
