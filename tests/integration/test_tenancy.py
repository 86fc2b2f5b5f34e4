"""One account's key reaches nothing of another's, at every endpoint.

Two accounts on the same playbook. `alpha` has a lead with a follow-up and a claimed call,
and a user. `beta` then calls every endpoint of the API aimed at alpha's ids, and posts
correctly signed provider webhooks on its own path naming alpha's phone and email: each is
refused or touches only beta's own rows, and alpha's lead, claim and users read the same
afterwards. A test below fails when an endpoint is added without a row here.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from twilio.request_validator import RequestValidator

from leadflow.api.app import create_app
from leadflow.client import LeadflowClient
from leadflow.providers.fake import EventSigner
from leadflow.store.accounts import ensure_account, key_id, new_api_key
from leadflow.store.playbooks import save_version
from leadflow.store.tables import OutboxMessage
from tests.factories import api_settings, eventually
from tests.integration.test_api import Served
from tests.integration.test_webhooks import hold, lead_row, opt_outs, sent, twilio
from tests.places import Place

PUBLIC = "https://leadflow.example.com"
TOKEN = "twilio-auth-token"
SIGNER = EventSigner()
DAYTIME = Place.where_it_is(12)  # claims compare with the real clock: calling hours now
LEAD, FOLLOW_UP, USER = "A-1", "f-alpha", "u-1"
ALPHA_KEY = "lf_alpha_tenancy_key"
ALPHA_KEY_ID = key_id(ALPHA_KEY)
SOON = (datetime.now(UTC) + timedelta(days=2)).isoformat()
ALPHA_LISTED = "+13125550123"  # on alpha's own do-not-call list

# Every endpoint a key opens, as beta calls it against alpha's ids, and what beta gets.
# A 2xx is allowed only where the request acts on beta's own account (a lead or user of
# its own under the same id, an empty queue or list); the test then checks alpha's side.
AIMED_AT_ALPHA: dict[tuple[str, str], tuple[str, dict[str, Any] | None, int]] = {
    ("GET", "/v1/leads"): ("/v1/leads", None, 200),
    ("GET", "/v1/leads/{lead_id}"): (f"/v1/leads/{LEAD}", None, 404),
    ("POST", "/v1/leads/{lead_id}/milestone"): (
        f"/v1/leads/{LEAD}/milestone",
        {"milestone": "Contacted", "status": "Engaged", "request_id": "b-1"},
        404,
    ),
    ("POST", "/v1/leads/{lead_id}/calls"): (
        f"/v1/leads/{LEAD}/calls",
        {"disposition": "Do Not Call", "request_id": "b-2"},
        404,
    ),
    ("POST", "/v1/leads/{lead_id}/follow-ups"): (
        f"/v1/leads/{LEAD}/follow-ups",
        {"follow_up": {"start_at": SOON}, "request_id": "b-3"},
        404,
    ),
    ("PUT", "/v1/leads/{lead_id}/horizon"): (
        f"/v1/leads/{LEAD}/horizon",
        {"horizon": "2031-01-01", "request_id": "b-4"},
        404,
    ),
    ("POST", "/v1/leads/{lead_id}/follow-ups/{follow_up_id}/complete"): (
        f"/v1/leads/{LEAD}/follow-ups/{FOLLOW_UP}/complete?request_id=b-5",
        None,
        404,
    ),
    ("PUT", "/v1/leads/{lead_id}/key-dates"): (f"/v1/leads/{LEAD}/key-dates", {"dates": {}}, 404),
    ("PUT", "/v1/leads/{lead_id}/parties"): (
        f"/v1/leads/{LEAD}/parties",
        {"parties": {"borrower": None}},
        404,
    ),
    ("PUT", "/v1/leads/{lead_id}/designations"): (
        f"/v1/leads/{LEAD}/designations",
        {"assignments": {"isa": {"id": "eve", "name": "Eve"}}},
        404,
    ),
    ("GET", "/v1/leads/{lead_id}/thread"): (f"/v1/leads/{LEAD}/thread", None, 404),
    ("POST", "/v1/leads/{lead_id}/messages"): (
        f"/v1/leads/{LEAD}/messages",
        {"body": "Hi", "request_id": "b-msg"},
        404,
    ),
    ("POST", "/v1/leads/{lead_id}/replies"): (
        f"/v1/leads/{LEAD}/replies",
        {"body": "STOP"},
        404,
    ),
    ("POST", "/v1/leads/{lead_id}/opt-in"): (
        f"/v1/leads/{LEAD}/opt-in",
        {"channel": "sms", "party": "borrower", "evidence": "a web form", "actor": "eve"},
        404,
    ),
    ("POST", "/v1/leads/{lead_id}/consents"): (
        f"/v1/leads/{LEAD}/consents",
        {
            "party": "borrower",
            "channels": ["sms"],
            "given_at": "2026-01-05T10:00:00+00:00",
            "means": "web_form",
            "form_url": "https://beta.example/form",
            "disclosure": "v1",
            "seller": "Beta",
            "actor": "eve",
        },
        404,
    ),
    ("GET", "/v1/leads/{lead_id}/consents"): (f"/v1/leads/{LEAD}/consents", None, 404),
    ("PUT", "/v1/leads/{lead_id}/relationship"): (
        f"/v1/leads/{LEAD}/relationship",
        {"transacted_at": "2026-01-05T10:00:00+00:00"},
        404,
    ),
    ("POST", "/v1/leads/{lead_id}/campaigns"): (
        f"/v1/leads/{LEAD}/campaigns",
        {"op": "cancel", "campaign": "isa_touches"},
        404,
    ),
    ("POST", "/v1/queue/next"): ("/v1/queue/next", {"agent": "eve"}, 204),
    ("POST", "/v1/queue/{lead_id}/release"): (f"/v1/queue/{LEAD}/release", {"agent": "ana"}, 409),
    ("GET", "/v1/users"): ("/v1/users", None, 200),
    ("GET", "/v1/reports/unlinked"): ("/v1/reports/unlinked", None, 200),
    ("GET", "/v1/reports/speed-to-lead"): ("/v1/reports/speed-to-lead", None, 200),
    ("GET", "/v1/reports/attempts"): ("/v1/reports/attempts", None, 200),
    ("GET", "/v1/reports/steps"): ("/v1/reports/steps", None, 200),
    ("GET", "/v1/reports/dispositions"): ("/v1/reports/dispositions", None, 200),
    ("GET", "/v1/reports/funnel"): ("/v1/reports/funnel", None, 200),
    ("GET", "/v1/reports/leaderboard"): ("/v1/reports/leaderboard", None, 200),
    # A migration moves only the key's own account's leads: beta's none.
    ("POST", "/v1/playbook/migrations"): (
        "/v1/playbook/migrations",
        {"to_version": 1, "dry_run": False},
        200,
    ),
    # An import is its account's: beta reads none of alpha's (posted in the test: its id
    # stands in for IMPORT_ID), and its own needs a CSV body.
    ("POST", "/v1/imports"): ("/v1/imports?name=beta.csv", {"leads": []}, 415),
    ("GET", "/v1/imports/{import_id}"): ("/v1/imports/IMPORT_ID", None, 404),
    ("GET", "/v1/imports/{import_id}/report.csv"): ("/v1/imports/IMPORT_ID/report.csv", None, 404),
    # Keys and sending numbers: beta sees and ends only its own.
    ("GET", "/v1/keys"): ("/v1/keys", None, 200),
    ("POST", "/v1/keys/{key}/revoke"): (f"/v1/keys/{ALPHA_KEY_ID}/revoke", None, 404),
    ("POST", "/v1/keys/{key}/rotate"): (f"/v1/keys/{ALPHA_KEY_ID}/rotate", None, 404),
    ("POST", "/v1/keys"): ("/v1/keys", {"name": "beta's own", "role": "agent"}, 201),
    ("GET", "/v1/senders"): ("/v1/senders", None, 200),
    ("PUT", "/v1/users/{user_id}/password"): (
        f"/v1/users/{USER}/password",
        {"password": "beta takes over ana"},
        404,
    ),
    ("PUT", "/v1/users/{user_id}/availability"): (
        f"/v1/users/{USER}/availability",
        {"away": True},
        404,
    ),
    ("GET", "/v1/leads/{lead_id}/routing"): (f"/v1/leads/{LEAD}/routing", None, 404),
    ("POST", "/v1/leads/{lead_id}/routing/accept"): (
        f"/v1/leads/{LEAD}/routing/accept",
        {"user": USER},
        404,
    ),
    ("POST", "/v1/leads/{lead_id}/routing/release"): (
        f"/v1/leads/{LEAD}/routing/release",
        {"user": USER},
        404,
    ),
    ("GET", "/v1/users/{user_id}/routing"): (f"/v1/users/{USER}/routing", None, 404),
    # An account's own do-not-call list is its own: beta sees none of alpha's entries, and
    # its own entry for alpha's lead's number (put in by the test) tells beta's leads only.
    ("GET", "/v1/do-not-call/{number}"): (f"/v1/do-not-call/{ALPHA_LISTED}", None, 200),
    ("POST", "/v1/do-not-call"): (
        "/v1/do-not-call",
        {"numbers": [], "source": "eve's list", "actor": "eve"},
        202,
    ),
    # The do-not-call lists are the operator's (its token), never an account key's.
    ("GET", "/v1/dnc-lists"): ("/v1/dnc-lists", None, 401),
    ("PUT", "/v1/dnc-lists/{name}"): ("/v1/dnc-lists/national?as_of=2026-12-01", None, 401),
    ("POST", "/codec/decode"): ("/codec/decode", {"payloads": []}, 401),
    ("POST", "/codec/encode"): ("/codec/encode", {"payloads": []}, 401),
    # Last: these make beta a lead and a user of its own under alpha's ids.
    ("PUT", "/v1/users/{user_id}"): (f"/v1/users/{USER}", {"name": "Eve Beta"}, 200),
    ("PUT", "/v1/leads/{lead_id}"): (
        f"/v1/leads/{LEAD}",
        {"first_name": "Eve", **DAYTIME.lead_fields(name="Eve")},
        201,
    ),
}
# Documented but not opened by a key: the provider webhooks (signed by the provider; checked
# below) and health. (The Web UI's codec path, with the ops token in it, is undocumented.)
NOT_BY_KEY = ("/webhooks/", "/health", "/ready")


@pytest_asyncio.fixture
async def app(leads: LeadflowClient, db: AsyncEngine) -> FastAPI:
    for account in ("alpha", "beta"):
        await ensure_account(db, account, account.title(), "isa")
        await save_version(db, account, DAYTIME.playbook("isa"))
    settings = api_settings(
        leads,
        twilio_auth_token=TOKEN,
        public_url=PUBLIC,
        sendgrid_webhook_public_key=SIGNER.public_key,
        ops_token="ops-secret-" + "x" * 32,
    )
    return create_app(settings, client=leads.temporal, engine=db)


@pytest_asyncio.fixture
async def alpha(app: FastAPI, db: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with Served(app, await new_api_key(db, "alpha", key=ALPHA_KEY)) as client:
        yield client


def _counts_no_lead(figures: Any) -> bool:
    """A report of beta's: no row, or rows that count no lead (the funnel's stages)."""
    if isinstance(figures, dict):
        figures = figures.get("rows", figures.get("combinations"))
    return isinstance(figures, list) and all(row.get("leads", 0) == 0 for row in figures)


async def _alpha_side(alpha: httpx.AsyncClient) -> dict[str, Any]:
    """What alpha reads of its own: the lead (but the agenda, which moves with the clock),
    its users and its leads list."""
    lead = (await alpha.get(f"/v1/leads/{LEAD}")).json()
    lead.pop("agenda")
    return {
        "lead": lead,
        "users": (await alpha.get("/v1/users")).json(),
        "leads": (await alpha.get("/v1/leads")).json(),
    }


def test_every_endpoint_a_key_opens_is_in_the_table(app: FastAPI) -> None:
    opened = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if not path.startswith(NOT_BY_KEY)
        for method in operations
    }
    assert opened == set(AIMED_AT_ALPHA)


async def test_another_accounts_key_reaches_nothing_at_any_endpoint(
    app: FastAPI, alpha: httpx.AsyncClient, db: AsyncEngine
) -> None:
    fields = DAYTIME.lead_fields(email="pat@example.com")
    phone = fields["parties"]["borrower"]["phone"]
    created = await alpha.put(f"/v1/leads/{LEAD}", json={"first_name": "Pat", **fields})
    assert created.status_code == 201, created.text
    claimed = await alpha.post("/v1/queue/next", json={"agent": "ana"})
    assert claimed.status_code == 200 and claimed.json()["lead_id"] == LEAD, DAYTIME.describe()
    follow_up = {"follow_up": {"start_at": SOON}, "request_id": FOLLOW_UP}
    assert (await alpha.post(f"/v1/leads/{LEAD}/follow-ups", json=follow_up)).status_code == 200
    assert (await alpha.put(f"/v1/users/{USER}", json={"name": "Ana Alpha"})).status_code == 200
    listed = {"numbers": [ALPHA_LISTED], "source": "alpha's list", "actor": "ana"}
    assert (await alpha.post("/v1/do-not-call", json=listed)).status_code == 202
    imported = await alpha.post(
        "/v1/imports", params={"name": "alpha.csv"}, content="email\nzed@example.com\n",
        headers={"content-type": "text/csv"},
    )  # fmt: skip
    assert imported.status_code == 202, imported.text

    async def imported_all() -> bool:
        answer = await alpha.get(f"/v1/imports/{imported.json()['id']}")
        return answer.json()["finished_at"] is not None

    assert await eventually(imported_all)  # alpha's side holds still from here
    before = await _alpha_side(alpha)

    async with Served(app, await new_api_key(db, "beta")) as beta:
        for (method, _), (path, body, expected) in AIMED_AT_ALPHA.items():
            path = path.replace("IMPORT_ID", imported.json()["id"])
            if path == "/v1/do-not-call":  # alpha's lead's own number
                body = {**(body or {}), "numbers": [phone]}
            answer = await beta.request(method, path, json=body)
            assert answer.status_code == expected, (method, path, answer.text)
            if path == "/v1/keys" and method == "GET":  # beta's own key, no other
                assert ALPHA_KEY_ID not in answer.text, answer.text
            elif path.startswith("/v1/do-not-call/"):  # alpha's entries are not beta's
                assert answer.json()["account"] == [], answer.text
                assert (await alpha.get(path)).json()["account"] == ["call", "mms", "sms"]
            elif path.startswith("/v1/reports/") and path != "/v1/reports/unlinked":
                assert _counts_no_lead(answer.json()), (path, answer.text)
            elif method == "GET" and expected == 200:  # a list: beta has nothing yet
                assert answer.json()["items"] == [], (path, answer.text)
        stop = {"MessageSid": "SM-beta-1", "From": phone, "Body": "STOP"}
        path = "/webhooks/twilio/beta/sms"
        signature = RequestValidator(TOKEN).compute_signature(PUBLIC + path, stop)
        headers = {
            "X-Twilio-Signature": signature,
            "content-type": "application/x-www-form-urlencoded",
        }
        assert (await beta.post(path, content=urlencode(stop), headers=headers)).status_code == 200
        bounce = json.dumps([{"email": "pat@example.com", "event": "bounce", "sg_event_id": "x"}])
        events = "/webhooks/sendgrid/beta/events"
        posted = await beta.post(events, content=bounce, headers=SIGNER.headers(bounce))
        assert posted.status_code == 204
        assert (await beta.get(f"/v1/leads/{LEAD}")).json()["first_name"] == "Eve"

    after = await _alpha_side(alpha)
    assert after == before
    assert not any(a["reason"].startswith("opted out") for a in after["lead"]["audit"])
    assert (await alpha.post(f"/v1/queue/{LEAD}/release", json={"agent": "ana"})).status_code == 204


# ---- the webhook routing cases: a provider's request speaks for the account of what it names


ALPHA_NUMBER, BETA_NUMBER = "+13125550191", "+13125550192"
UNHELD = "+13125550198"  # a number no account holds, that both have texted from


async def test_a_text_to_a_number_an_account_holds_speaks_for_that_account_alone(
    app: FastAPI, db: AsyncEngine
) -> None:
    await hold(db, "alpha", ALPHA_NUMBER)
    await hold(db, "beta", BETA_NUMBER)
    phone = "+13125550142"
    async with Served(app) as provider:
        # beta's own (old) webhook URL, a STOP to alpha's number: alpha's, not beta's
        for path in ("/webhooks/twilio/beta/sms", "/webhooks/twilio/sms"):
            stop = {"From": phone, "To": ALPHA_NUMBER, "Body": "STOP"}
            assert (await twilio(provider, path, stop)).status_code == 200
        assert await opt_outs(db) == [("alpha", "mms", phone), ("alpha", "sms", phone)]
        start = {"From": phone, "To": BETA_NUMBER, "Body": "START"}
        assert (await twilio(provider, "/webhooks/twilio/alpha/sms", start)).status_code == 200
        assert await opt_outs(db) == [("alpha", "mms", phone), ("alpha", "sms", phone)]


async def test_a_text_to_a_shared_number_speaks_for_the_account_that_last_texted_from_it(
    app: FastAPI, db: AsyncEngine
) -> None:
    phone = "+13125550143"
    await lead_row(db, "alpha", "R-1")
    await lead_row(db, "beta", "R-2")
    await sent(db, "alpha", "R-1", phone, from_number=UNHELD, ago=timedelta(hours=2))
    await sent(db, "beta", "R-2", phone, from_number=UNHELD, ago=timedelta(hours=1))
    async with Served(app) as provider:
        stranger = {"From": "+13125550144", "To": UNHELD, "Body": "STOP"}  # texted by nobody
        assert (await twilio(provider, "/webhooks/twilio/sms", stranger)).status_code == 200
        assert await opt_outs(db) == []
        # A STOP holds for every account that texted the phone from the number...
        stop = {"From": phone, "To": UNHELD, "Body": "STOP"}
        assert (await twilio(provider, "/webhooks/twilio/alpha/sms", stop)).status_code == 200
        both = [(a, c, phone) for a in ("alpha", "beta") for c in ("mms", "sms")]
        assert await opt_outs(db) == both
        # ...anything else speaks to the one that texted it last.
        start = {"From": phone, "To": UNHELD, "Body": "START"}
        assert (await twilio(provider, "/webhooks/twilio/alpha/sms", start)).status_code == 200
        assert await opt_outs(db) == [("alpha", "mms", phone), ("alpha", "sms", phone)]


async def test_an_email_event_speaks_for_the_account_of_the_email_it_names(
    app: FastAPI, db: AsyncEngine
) -> None:
    await lead_row(db, "alpha", "R-1")
    await lead_row(db, "beta", "R-2")
    alphas = await sent(db, "alpha", "R-1", "pat@example.com", channel="email")
    betas = await sent(db, "beta", "R-2", "eve@example.com", channel="email")
    events = [
        # beta's key with alpha's lead's address, alpha's key with another address: nobody's
        {"email": "pat@example.com", "event": "unsubscribe", "sg_event_id": "x1"},
        {"email": "pat@example.com", "event": "bounce", "sg_event_id": "x2"} | _key(betas),
        {"email": "eve@example.com", "event": "spamreport", "sg_event_id": "x3"} | _key(alphas),
        # on beta's own (old) URL, alpha's email: alpha's
        {"email": "pat@example.com", "event": "bounce", "sg_event_id": "x4"} | _key(alphas),
    ]
    payload = json.dumps(events)
    async with Served(app) as provider:
        path = "/webhooks/sendgrid/beta/events"
        posted = await provider.post(path, content=payload, headers=SIGNER.headers(payload))
        assert posted.status_code == 204
    assert await opt_outs(db) == [("alpha", "email", "pat@example.com")]


def _key(message: OutboxMessage) -> dict[str, str]:
    return {"leadflow_key": message.key}
