"""Temporal's history holds no PII: a lead started and changed through the HTTP API leaves
no name, phone, email or message body in its raw history, memo or search attributes, and
the ops codec endpoint opens the same history to whoever holds the ops credential."""

from __future__ import annotations

import base64
import json
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest_asyncio
from fastapi import FastAPI
from google.protobuf import json_format
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from leadflow.api.app import create_app
from leadflow.client import LeadflowClient
from leadflow.playbook.load import default_playbook
from leadflow.playbook.shelf import SHELF
from leadflow.store import playbooks
from leadflow.store.accounts import ensure_account, new_api_key
from leadflow.worker import build_worker
from tests.factories import api_settings, change, form_consent, new_lead
from tests.integration.test_api import Served
from tests.keys import converter

OPS_TOKEN = "ops-" + uuid.uuid4().hex


@pytest_asyncio.fixture
async def app(leads: LeadflowClient, db: AsyncEngine) -> FastAPI:
    await ensure_account(db, "acme", "Acme", "isa")
    return create_app(api_settings(leads, ops_token=OPS_TOKEN), client=leads.temporal, engine=db)


@pytest_asyncio.fixture
async def api(app: FastAPI, db: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with Served(app, await new_api_key(db, "acme")) as client:
        yield client


def _payloads(node: Any) -> Iterator[dict[str, Any]]:
    """Every payload in a history or description as proto JSON (metadata and data)."""
    if isinstance(node, dict):
        if "data" in node and "metadata" in node:
            yield node
        for value in node.values():
            yield from _payloads(value)
    elif isinstance(node, list):
        for item in node:
            yield from _payloads(item)


async def test_the_raw_history_holds_no_pii_and_the_codec_endpoint_opens_it(
    api: httpx.AsyncClient, leads: LeadflowClient
) -> None:
    mark = uuid.uuid4().hex[:8]
    first, last = f"Quinn{mark}", f"Oyelaran{mark}"
    email = f"quinn.{mark}@example.com"
    phone = f"+131255501{random.randrange(100):02d}"
    body = f"please call after five, code {mark}"
    lead_id = f"P-{mark}"
    created = await api.put(
        f"/v1/leads/{lead_id}",
        json={
            "first_name": first,
            "last_name": last,
            "time_zone": "America/Chicago",
            "parties": {
                "borrower": {
                    "name": f"{first} {last}",
                    "phone": phone,
                    "email": email,
                    "sms_consent": True,
                }
            },
            "designations": {"isa": {"id": "isa-1", "name": "Ivy Isa"}},
            "consents": [form_consent()],
        },
    )
    assert created.status_code == 201, created.text
    replied = await api.post(
        f"/v1/leads/{lead_id}/replies", json={"party": "borrower", "body": body}
    )
    assert replied.status_code == 202, replied.text
    logged = await api.post(
        f"/v1/leads/{lead_id}/calls", json={"disposition": "No Answer", "request_id": mark}
    )
    assert logged.status_code == 200, logged.text
    secrets = [first, last, email, phone, phone.removeprefix("+1"), body]

    workflow_id = f"lead:acme:{lead_id}"
    history = await leads.temporal.get_workflow_handle(workflow_id).fetch_history()
    described = await leads.temporal.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=leads.temporal.namespace,
            execution=WorkflowExecution(workflow_id=workflow_id),
        )
    )
    raw = b"".join(e.SerializeToString() for e in history.events) + described.SerializeToString()
    for secret in secrets:
        assert secret.encode() not in raw, f"{secret!r} is in the raw history"
    assert b"binary/encrypted" in raw

    found = [
        *_payloads(json.loads(history.to_json())),
        *_payloads(json_format.MessageToDict(described)),
    ]
    assert len(found) > 10
    request = {"payloads": found}

    refused = await api.post("/codec/decode", json=request, headers={"Authorization": ""})
    assert refused.status_code == 401, refused.text
    wrong = await api.post(
        "/codec/decode", json=request, headers={"Authorization": "Bearer not-the-ops-token"}
    )
    assert wrong.status_code == 401

    response = await api.post(
        "/codec/decode", json=request, headers={"Authorization": f"Bearer {OPS_TOKEN}"}
    )
    assert response.status_code == 200, response.text
    opened = b"".join(base64.b64decode(p.get("data", "")) for p in response.json()["payloads"])
    for secret in secrets:
        assert secret.encode() in opened, f"{secret!r} is not in the decoded history"


async def test_the_codec_endpoint_is_off_without_an_ops_token(
    leads: LeadflowClient, db: AsyncEngine
) -> None:
    app = create_app(api_settings(leads), client=leads.temporal, engine=db)
    async with Served(app) as api:
        response = await api.post("/codec/decode", json={"payloads": []})
    assert response.status_code == 404
    assert "set OPS_TOKEN" in response.json()["detail"]


async def test_the_web_ui_origin_may_call_the_codec_endpoint(api: httpx.AsyncClient) -> None:
    preflight = await api.options(
        "/codec/decode",
        headers={
            "Origin": "http://localhost:8233",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-namespace",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:8233"
    elsewhere = await api.options(
        "/codec/decode",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in elsewhere.headers


async def test_a_worker_loads_a_stored_playbook_it_does_not_hold(
    time_env: WorkflowEnvironment, db: AsyncEngine
) -> None:
    book = default_playbook("insurance").model_copy(
        update={"version": 99, "description": f"stored {uuid.uuid4().hex}"}
    )
    ref = await playbooks.keep(db, book)  # as the API does before it starts a lead on it
    client = Client(
        time_env.client.service_client,
        namespace=time_env.client.namespace,
        data_converter=converter(playbooks.loader(db)),
    )
    queue = f"stored-{uuid.uuid4().hex[:8]}"
    request = new_lead(playbook="insurance")
    # No cache: every task replays the lead from its history, decoding its input again.
    async with build_worker(client, db, queue, max_cached_workflows=0):
        leads = LeadflowClient(client, queue, sends_task_queue=queue)
        await leads.ensure_lead(request, playbook=book)
        SHELF.forget(ref.digest)  # as on a worker that never held it
        snapshot = await leads.change_milestone(request.lead, change("Contacted", "Requote"))
        assert (snapshot.milestone, snapshot.status) == ("Contacted", "Requote")
        assert SHELF.get(ref.digest) == book
        assert (await leads.describe(request.lead)).playbook_version == 99
