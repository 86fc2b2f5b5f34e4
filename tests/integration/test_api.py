"""The HTTP API over a real worker (time-skipping server) and real PostgreSQL."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from datetime import time as dt_time
from urllib.parse import unquote

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from leadflow.api.app import create_app
from leadflow.client import LeadflowClient
from leadflow.engine import localtime
from leadflow.store.accounts import ensure_account, new_api_key
from leadflow.store.db import create_engine
from leadflow.store.playbooks import save_version
from tests.factories import api_settings, eventually, form_consent
from tests.places import Place
from tests.scenario_support import skip_to_next

METRICS_TOKEN = "metrics-" + uuid.uuid4().hex


class Served:
    """Runs the app's lifespan around an httpx client bound to it in-process."""

    def __init__(self, app: FastAPI, key: str | None = None) -> None:
        self.app = app
        self.key = key
        self.lifespan = app.router.lifespan_context(app)

    async def __aenter__(self) -> httpx.AsyncClient:
        await self.lifespan.__aenter__()
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url="http://leadflow",
            headers=headers,
        )
        return self.client

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()
        await self.lifespan.__aexit__(None, None, None)


@pytest_asyncio.fixture
async def app(leads: LeadflowClient, db: AsyncEngine) -> FastAPI:
    await ensure_account(db, "alpha", "Alpha Insurance", "insurance")
    await ensure_account(db, "beta", "Beta Realty", "isa")
    settings = api_settings(leads, metrics_token=METRICS_TOKEN)
    return create_app(settings, client=leads.temporal, engine=db)


@pytest_asyncio.fixture
async def api(app: FastAPI, db: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with Served(app, await new_api_key(db, "alpha")) as client:
        yield client


@pytest.fixture
def lead_path() -> str:
    return f"/v1/leads/L-{uuid.uuid4().hex[:8]}"


PAT = {
    "first_name": "Pat",
    "parties": {
        "lead": {
            "name": "Pat Lee",
            "phone": "(312) 555-0111",
            "email": "pat@example.com",
            "sms_consent": True,
        }
    },
    "consents": [form_consent("lead")],
}

PAT_ISA = {
    "first_name": "Pat",
    "parties": {"borrower": {"name": "Pat Lee", "phone": "+13125550111", "sms_consent": True}},
    "designations": {"isa": {"id": "isa-1", "name": "Ivy Isa"}},
    "consents": [form_consent()],
}


async def test_ready_reports_dependencies_and_task_queues(api: httpx.AsyncClient) -> None:
    response = await api.get("/ready")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["temporal"], body["database"]) == ("ready", "up", "up")
    # The time-skipping server cannot describe task queues: it says so rather than guess
    # (the dev server's answer is tested in tests/system/test_dev_server.py).
    assert set(body["task_queues"].values()) == {"unknown"}
    assert len(body["task_queues"]) == 2  # the lead queue and the send queue


async def test_requests_are_503_with_retry_when_the_database_is_down(
    leads: LeadflowClient,
) -> None:
    unreachable = create_engine("postgresql://nobody@127.0.0.1:9/none")
    app = create_app(api_settings(leads), client=leads.temporal, engine=unreachable)
    async with Served(app, "lf_any_key") as api:
        listed = await api.get("/v1/leads")
        claimed = await api.post("/v1/queue/next", json={"agent": "ana"})
    await unreachable.dispose()
    for response in (listed, claimed):
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "1"
        assert "database is unavailable" in response.json()["detail"]


async def test_not_ready_but_alive_when_the_database_is_down(leads: LeadflowClient) -> None:
    unreachable = create_engine("postgresql://nobody@127.0.0.1:9/none")
    app = create_app(api_settings(leads), client=leads.temporal, engine=unreachable)
    async with Served(app) as api:
        ready = await api.get("/ready")
        alive = await api.get("/health")
    await unreachable.dispose()
    assert ready.status_code == 503 and ready.headers["retry-after"] == "1"
    body = ready.json()
    assert (body["status"], body["database"], body["temporal"]) == ("not ready", "down", "up")
    assert body["detail"] == "no answer from PostgreSQL"
    assert alive.status_code == 200 and alive.json()["status"] == "ok"


async def test_put_creates_then_describes_the_lead(api: httpx.AsyncClient, lead_path: str) -> None:
    created = await api.put(lead_path, json=PAT)
    again = await api.put(lead_path, json=PAT)
    assert created.status_code == 201 and created.json()["created"] is True
    assert again.status_code == 200 and again.json()["created"] is False

    view = (await api.get(lead_path)).json()
    assert (view["first_name"], view["snapshot"]["status"]) == ("Pat", "New")
    assert view["parties"]["lead"]["phone"] == "+13125550111"  # normalised to E.164
    assert isinstance(view["agenda"], list) and isinstance(view["audit"], list)


async def test_put_on_an_existing_lead_with_other_facts_names_the_endpoint_that_changes_them(
    api: httpx.AsyncClient, lead_path: str
) -> None:
    assert (await api.put(lead_path, json=PAT)).status_code == 201
    lead_id = lead_path.rsplit("/", 1)[1]
    moved = {**PAT, "status": "Requote", "milestone": "Quoted", "first_name": "Patricia"}
    moved["parties"] = {"lead": {**PAT["parties"]["lead"], "phone": "+13125550199"}}

    refused = await api.put(lead_path, json=moved)

    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert detail.startswith(
        f"lead {lead_id!r} already exists with other first_name, milestone, status, parties:"
    )
    assert f"change parties with PUT /v1/leads/{lead_id}/parties" in detail
    assert f"change status with POST /v1/leads/{lead_id}/milestone" in detail
    assert "first_name is set when the lead is created and cannot change" in detail
    view = (await api.get(lead_path)).json()  # nothing changed
    assert (view["first_name"], view["snapshot"]["status"]) == ("Pat", "New")
    assert view["parties"]["lead"]["phone"] == "+13125550111"
    # The same facts, written another way (a national number), are the same lead.
    same = {**PAT, "parties": {"lead": {**PAT["parties"]["lead"], "phone": "+1 312 555 0111"}}}
    assert (await api.put(lead_path, json=same)).status_code == 200


async def test_a_request_id_reused_for_another_change_is_409(
    api: httpx.AsyncClient, lead_path: str
) -> None:
    await api.put(lead_path, json=PAT)
    change = {"milestone": "Quoted", "status": "Requote", "request_id": "crm-1"}
    first = await api.post(f"{lead_path}/milestone", json=change)
    repeat = await api.post(f"{lead_path}/milestone", json=change)
    assert first.status_code == repeat.status_code == 200
    assert first.json()["changes"] == repeat.json()["changes"] == 1

    other = await api.post(f"{lead_path}/milestone", json={**change, "note": "something else"})

    assert other.status_code == 409
    assert other.json() == {
        "type": "about:blank",
        "title": "Conflict",
        "status": 409,
        "detail": "request_id 'crm-1' was already used for another request; "
        "use a new request_id for a new change",
        "reason": "RequestIdReused",
    }
    view = (await api.get(lead_path)).json()
    assert len(view["history"]) == 1 and view["history"][0]["note"] == ""


async def test_updates_round_trip_with_history(api: httpx.AsyncClient, lead_path: str) -> None:
    await api.put(lead_path, json=PAT)
    moved = await api.post(
        f"{lead_path}/milestone",
        json={
            "milestone": "Quoted",
            "status": "Requote",
            "note": "auto quote sent",
            "request_id": "req-1",
        },
    )
    assert moved.status_code == 200 and moved.json()["status"] == "Requote"
    view = (await api.get(lead_path)).json()
    assert [(h["milestone"], h["status"], h["note"]) for h in view["history"]] == [
        ("Quoted", "Requote", "auto quote sent")
    ]

    listed = (await api.get("/v1/leads", params={"status": "Requote"})).json()
    assert [item["lead_id"] for item in listed["items"]] == [lead_path.rsplit("/", 1)[1]]


async def test_a_key_sees_only_its_own_account(
    app: FastAPI, api: httpx.AsyncClient, db: AsyncEngine, lead_path: str
) -> None:
    await api.put(lead_path, json=PAT)
    async with Served(app, await new_api_key(db, "beta")) as other:
        assert (await other.get(lead_path)).status_code == 404
        refused = await other.post(
            f"{lead_path}/milestone",
            json={"milestone": "Sold", "status": "Customer", "request_id": "x"},
        )
        assert refused.status_code == 404
        assert (await other.get("/v1/leads")).json()["items"] == []
    assert (await api.get(lead_path)).json()["snapshot"]["milestone"] == "No Milestone"
    async with Served(app) as anonymous:
        missing = await anonymous.get(lead_path)
        assert missing.status_code == 401 and "missing API key" in missing.json()["detail"]
    async with Served(app, "lf_wrong") as wrong:
        assert (await wrong.get(lead_path)).json()["detail"] == "unknown or revoked API key"


@pytest.mark.parametrize(
    ("method", "suffix", "body", "status", "message"),
    [
        ("put", "", {"time_zone": "Mars/Olympus"}, 422, "unknown time zone 'Mars/Olympus'"),
        ("put", "", {"parties": {"lead": {"phone": "555"}}}, 422, "'555' is not a"),
        ("put", "", {"parties": {"pet": {"name": "Rex"}}}, 422, "unknown party 'pet'"),
        ("put", "", {"milestone": "Sold", "status": "New"}, 422, "is not linked"),
        ("put", "", {"playbook": "nope"}, 422, "playbook 'nope' is not this account's"),
        # A shipped preset is no way around the account's own playbook.
        ("put", "", {"playbook": "mortgage"}, 422, "playbook 'mortgage' is not this account's"),
        (
            "post",
            "/milestone",
            {"milestone": "Sold", "status": "Hot", "request_id": "r"},
            422,
            "status 'Hot' is not linked with milestone 'Sold'",
        ),
        (
            "post",
            "/milestone",
            {"milestone": "Contacted", "status": "Hot", "request_id": "r"},
            422,
            "requires a future follow-up",
        ),
        (
            "post",
            "/milestone",
            {
                "milestone": "Contacted",
                "status": "Hot",
                "request_id": "r",
                "follow_up": {"start_at": "2001-01-01T00:00:00Z"},
            },
            422,
            "is in the past",
        ),
        (
            "post",
            "/calls",
            {"disposition": "Shrug", "request_id": "r"},
            422,
            "unknown disposition 'Shrug'",
        ),
        (
            "put",
            "/key-dates",
            {"dates": {"birthday": "2030-01-01"}},
            422,
            "unknown key date 'birthday'",
        ),
        ("post", "/campaigns", {"op": "start", "campaign": "spam"}, 422, "unknown campaign 'spam'"),
    ],
)
async def test_user_errors_are_4xx_with_the_reason(
    api: httpx.AsyncClient,
    lead_path: str,
    method: str,
    suffix: str,
    body: dict[str, object],
    status: int,
    message: str,
) -> None:
    if method == "post" or suffix:
        await api.put(lead_path, json=PAT)
    response = await getattr(api, method)(lead_path + suffix, json=body)
    assert response.status_code == status, response.text
    assert message in response.text


async def test_malformed_unknown_and_oversized_requests(
    api: httpx.AsyncClient, lead_path: str
) -> None:
    malformed = await api.post(
        f"{lead_path}/milestone", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 422
    unknown = await api.post(
        "/v1/leads/ghost/milestone", json={"milestone": "Quoted", "request_id": "r"}
    )
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "lead 'ghost' of account 'alpha' does not exist"
    assert (await api.put("/v1/leads/has space", json={})).status_code == 422
    huge = await api.put(lead_path, json={"first_name": "x" * 300_000})
    assert huge.status_code == 413 and "larger than 256 KiB" in huge.json()["detail"]

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: counted as it comes
        yield b'{"first_name": "'
        for _ in range(30):
            yield b"x" * 10_000
        yield b'"}'

    streamed = await api.put(
        lead_path, content=chunked(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413 and "larger than 256 KiB" in streamed.json()["detail"]
    assert (await api.get(lead_path)).status_code == 404  # nothing was created
    bad_cursor = await api.get("/v1/leads", params={"cursor": "nonsense!"})
    assert bad_cursor.status_code == 400
    assert bad_cursor.json()["detail"] == "cursor is not one this API returned"
    hott = await api.get("/v1/leads", params={"status": "Hott"})
    assert hott.status_code == 422
    assert hott.json()["detail"].startswith("unknown status 'Hott'; the playbook has ")
    wrong_method = await api.delete(lead_path)
    assert wrong_method.status_code == 405 and "GET, PUT" in wrong_method.headers["allow"]
    assert wrong_method.json()["detail"] == f"DELETE is not allowed on {lead_path}; use GET, PUT"


async def test_every_error_is_a_problem_document(api: httpx.AsyncClient, lead_path: str) -> None:
    """RFC 9457: one shape, `application/problem+json`, for every failed request: FastAPI's
    validation, the lead's refusals, the router's unknown paths, authentication."""
    invalid = await api.put(lead_path, json={"parties": {"lead": {"phone": "555"}}})
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == "application/problem+json"
    body = invalid.json()
    assert (body["type"], body["title"], body["status"]) == (
        "about:blank",
        "Unprocessable Content",
        422,
    )
    assert body["detail"].startswith("invalid request: body.parties.lead.phone: '555' is not a")
    assert body["errors"][0]["loc"] == ["body", "parties", "lead", "phone"]
    await api.put(lead_path, json=PAT)
    refused = await api.post(
        f"{lead_path}/milestone", json={"milestone": "Sold", "status": "Hot", "request_id": "r"}
    )
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["status"] == 422 and refused.json()["reason"]
    nowhere = await api.get("/v2/nothing")
    assert nowhere.status_code == 404
    assert nowhere.json()["detail"] == "no endpoint at /v2/nothing; see /docs for the API"
    anonymous = await api.get("/v1/leads", headers={"Authorization": ""})
    assert anonymous.status_code == 401 and anonymous.json()["title"] == "Unauthorized"
    assert anonymous.headers["www-authenticate"] == "Bearer"


async def test_the_api_document_declares_a_problem_for_every_error(
    api: httpx.AsyncClient,
) -> None:
    document = (await api.get("/openapi.json")).json()
    for path, operations in document["paths"].items():
        if path in ("/health", "/ready"):  # probes: alive, or a readiness report (below)
            continue
        for method, operation in operations.items():
            errors = {c: r for c, r in operation["responses"].items() if c[0] in "45"}
            assert errors, (method, path)
            for code, response in errors.items():
                schema = response["content"]["application/problem+json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}, (method, path, code)
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert not document["paths"]["/health"]["get"]["responses"].keys() - {"200"}
    not_ready = document["paths"]["/ready"]["get"]["responses"]["503"]["content"]
    assert not_ready == {"application/json": {"schema": {"$ref": "#/components/schemas/Readiness"}}}


async def test_unlinked_report_lists_leads_the_playbook_no_longer_allows(
    api: httpx.AsyncClient, db: AsyncEngine, app: FastAPI
) -> None:
    for lead in ("A", "B"):
        await api.put(f"/v1/leads/{lead}", json=PAT)
    await api.post(
        "/v1/leads/B/milestone",
        json={"milestone": "Quoted", "status": "Requote", "request_id": "r"},
    )
    assert (await api.get("/v1/reports/unlinked")).json()["items"] == []
    # The account switches to a playbook whose links do not know "No Milestone".
    await ensure_account(db, "alpha", "Alpha Insurance", "isa")
    report = (await api.get("/v1/reports/unlinked")).json()
    assert report["playbook"] == "isa v1"
    assert [(i["lead_id"], i["milestone"]) for i in report["items"]] == [
        ("A", "No Milestone"),
        ("B", "Quoted"),
    ]


AGENT = "Łukasz 李 50%"  # a name beyond Latin-1, and a % that must decode back as it was


async def test_queue_claim_and_release_over_http(
    app: FastAPI, db: AsyncEngine, time_env: WorkflowEnvironment, place: Place
) -> None:
    # Claims compare with the real clock: the lead lives where it is calling hours now.
    await ensure_account(db, "beta", "Beta Realty", "callback-periods")
    await save_version(db, "beta", place.playbook("callback-periods"))
    fields = place.lead_fields(name="Quinn")
    phone = fields["parties"]["borrower"]["phone"]
    async with Served(app, await new_api_key(db, "beta")) as api:
        created = await api.put("/v1/leads/Q1", json=fields)
        assert created.status_code == 201, created.text
        claimed = await api.post("/v1/queue/next", json={"agent": AGENT})
        assert claimed.status_code == 200, place.describe()
        body = claimed.json()
        assert (body["lead_id"], body["label"]) == ("Q1", "CallASAP")
        assert body["contacts"][0]["phone"] == phone
        # Nothing else is due: the answer says what the next call waits for.
        nothing = await api.post("/v1/queue/next", json={"agent": "ben"})
        assert nothing.status_code == 204
        lease = datetime.fromisoformat(body["claimed_until"])
        assert datetime.fromisoformat(nothing.headers["leadflow-next-call-at"]) == lease
        # A header holds ASCII: the agent's name comes percent-encoded, and decodes exactly.
        assert nothing.headers["leadflow-next-call"].isascii()
        assert unquote(nothing.headers["leadflow-next-call"]) == (
            f"CallASAP for Q1: claimed by {AGENT} until {lease.isoformat()}"
        )
        assert (await api.post("/v1/queue/Q1/release", json={"agent": "ben"})).status_code == 409
        assert (await api.post("/v1/queue/Q1/release", json={"agent": AGENT})).status_code == 204
        logged = await api.post(
            "/v1/leads/Q1/calls", json={"disposition": "No Answer", "request_id": "c1"}
        )
        assert logged.status_code == 200
        snapshot = logged.json()
        assert (snapshot["status"], snapshot["queue_label"]) == ("Contact Attempted", "Redial")
        now = await time_env.get_current_time()
        back = datetime.fromisoformat(snapshot["back_in_queue_at"])
        # The callback-periods preset: an attempted lead is back after the period's 2 hours.
        assert abs(back - (now + timedelta(hours=2))) < timedelta(seconds=5)
        held = await eventually(lambda: api.post("/v1/queue/next", json={"agent": "ben"}))
        assert held.status_code == 204
        assert datetime.fromisoformat(held.headers["leadflow-next-call-at"]) == back
        assert held.headers["leadflow-next-call"] == (
            f"Redial for Q1: held after the last call (Contact Attempted) until {back.isoformat()}"
        )
        # What ops scrape: claim latency and queue depth by account, requests by status.
        scraped = await api.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(scraped.text)
        for sample in family.samples
    }
    claimed = (("handler", "/v1/queue/next"), ("method", "POST"), ("status", "200"))
    nothing_due = (("handler", "/v1/queue/next"), ("method", "POST"), ("status", "204"))
    assert samples[("http_requests_total", claimed)] == 1
    assert samples[("http_requests_total", nothing_due)] >= 2
    assert samples[("leadflow_claim_seconds_count", (("account", "beta"),))] == (
        1 + samples[("http_requests_total", nothing_due)]
    )
    assert samples[("leadflow_queue_depth", (("account", "beta"), ("state", "waiting")))] == 1


async def test_a_horizon_as_a_lead_field_and_through_its_endpoint(
    app: FastAPI, db: AsyncEngine, time_env: WorkflowEnvironment
) -> None:
    """The isa preset's rule of thumb over HTTP: a lead buying in 90 days is checked in with by day
    30 at the latest; a horizon in the past is refused."""
    await skip_to_next(time_env, 0, dt_time(10))  # Monday 10:00 in Chicago
    now = await time_env.get_current_time()
    today = localtime.local_date(now, "America/Chicago")
    async with Served(app, await new_api_key(db, "beta")) as api:
        created = await api.put(
            "/v1/leads/H1",
            json={**PAT_ISA, "horizon": (today + timedelta(days=90)).isoformat()},
        )
        assert created.status_code == 201, created.text
        snapshot = created.json()
        assert snapshot["queue_label"] == "Callback"
        back = datetime.fromisoformat(snapshot["back_in_queue_at"])
        assert localtime.local_date(back, "America/Chicago") <= today + timedelta(days=30)
        assert back - now > timedelta(days=29)

        later = {"horizon": (today + timedelta(days=300)).isoformat(), "request_id": "h-2"}
        moved = await api.put("/v1/leads/H1/horizon", json=later)
        assert moved.status_code == 200, moved.text
        view = (await api.get("/v1/leads/H1")).json()
        assert any(h["note"].startswith("Horizon stated") for h in view["history"])

        past = {"horizon": (today - timedelta(days=1)).isoformat(), "request_id": "h-3"}
        refused = await api.put("/v1/leads/H1/horizon", json=past)
        assert refused.status_code == 422
        assert refused.json()["reason"] == "InvalidHorizon"


async def test_text_postgresql_cannot_store_is_refused_at_the_door(
    api: httpx.AsyncClient, lead_path: str
) -> None:
    """NUL (U+0000) fits in JSON but not in PostgreSQL's text: a lead that kept it could
    write no note again. Every door refuses it, naming where it was."""
    named = await api.put(lead_path, json={**PAT, "first_name": "Pat\u0000"})
    assert named.status_code == 422
    assert named.json()["detail"] == "text may not hold the NUL character (\\u0000): at first_name"
    agent = await api.post("/v1/queue/next", json={"agent": "ana\u0000"})
    assert agent.status_code == 422 and "NUL character" in agent.json()["detail"]
    await api.put(lead_path, json=PAT)
    note = {"milestone": "Quoted", "request_id": "n-1", "note": "a\u0000b"}
    refused = await api.post(f"{lead_path}/milestone", json=note)
    assert refused.status_code == 422 and refused.json()["detail"].endswith("at note")
    assert (await api.get(lead_path)).json()["history"] == []


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_pages_load_every_asset_from_the_app(
    api: httpx.AsyncClient, page: str
) -> None:
    html = await api.get(page)
    assert html.status_code == 200 and "text/html" in html.headers["content-type"]
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html.text)
    assets += re.findall(r"""url:\s*["']([^"']+)["']""", html.text)  # the document itself
    scripts = [a for a in assets if a.endswith(".js")]
    assert scripts, html.text
    external = [a for a in assets if a.startswith(("http:", "https:", "//"))]
    assert not external, f"{page} loads from outside the app: {external}"
    for asset in assets:
        served = await api.get(asset)
        assert served.status_code == 200, asset
        assert len(served.content) > 100, asset


async def test_the_api_document_describes_every_field_and_gives_request_examples(
    api: httpx.AsyncClient,
) -> None:
    document = (await api.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    undescribed = [
        f"{model}.{field}"
        for model, schema in schemas.items()
        for field, prop in schema.get("properties", {}).items()
        if not prop.get("description")
    ]
    assert not undescribed, "\n".join(undescribed)
    # What callers send carries examples: a lead, a call logged, a milestone change.
    for model, fields in {
        "LeadIn": ("first_name", "time_zone", "milestone", "status"),
        "PartyIn": ("name", "phone", "email", "sms_consent"),
        "CallLog": ("disposition", "comments"),
        "MilestoneChange": ("milestone", "status", "note"),
        "FollowUpRequest": ("start_at", "duration", "subject"),
    }.items():
        for field in fields:
            assert schemas[model]["properties"][field].get("examples"), f"{model}.{field}"
    # The project's own requirement ids are not the API's words.
    assert not re.findall(r"\b[MB]\d{1,2}\b", json.dumps(document))
