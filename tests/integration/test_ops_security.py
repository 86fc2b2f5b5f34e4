"""What ops endpoints give away, and to whom: `/metrics` only to the scraper's credential,
at one queue count per interval however hard it is scraped; the codec only to the ops
credential in a header, never in a URL, a span or a log line."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow import tracing
from leadflow.api.app import create_app
from leadflow.client import LeadflowClient
from leadflow.store.accounts import ensure_account, new_api_key
from tests.factories import api_settings
from tests.integration.test_api import Served

METRICS_TOKEN = "metrics-" + uuid.uuid4().hex
OPS_TOKEN = "ops-" + uuid.uuid4().hex


@pytest_asyncio.fixture
async def app(leads: LeadflowClient, db: AsyncEngine) -> FastAPI:
    await ensure_account(db, "alpha", "Alpha", "isa")
    settings = api_settings(leads, metrics_token=METRICS_TOKEN, ops_token=OPS_TOKEN)
    return create_app(settings, client=leads.temporal, engine=db)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_metrics_answer_only_the_metrics_credential(app: FastAPI) -> None:
    async with Served(app) as api:
        anonymous = await api.get("/metrics")
        wrong = await api.get("/metrics", headers=_bearer("metrics-" + uuid.uuid4().hex))
        ops = await api.get("/metrics", headers=_bearer(OPS_TOKEN))
        scraper = await api.get("/metrics", headers=_bearer(METRICS_TOKEN))
    for refused in (anonymous, wrong, ops):
        assert refused.status_code == 401, refused.text
        assert refused.headers["www-authenticate"] == "Bearer"
        assert "leadflow_queue_depth" not in refused.text
    assert scraper.status_code == 200
    assert "# TYPE leadflow_queue_depth gauge" in scraper.text


async def test_metrics_are_off_without_a_metrics_token(
    leads: LeadflowClient, db: AsyncEngine
) -> None:
    app = create_app(api_settings(leads), client=leads.temporal, engine=db)
    async with Served(app) as api:
        response = await api.get("/metrics", headers=_bearer(METRICS_TOKEN))
    assert response.status_code == 404
    assert "set METRICS_TOKEN" in response.json()["detail"]


async def test_a_flood_of_scrapes_counts_the_queue_once(app: FastAPI, db: AsyncEngine) -> None:
    counted: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if "FROM call_queue GROUP BY" in statement:
            counted.append(statement)

    event.listen(db.sync_engine, "before_cursor_execute", seen)
    try:
        async with Served(app) as api:

            async def scrape() -> httpx.Response:
                return await api.get("/metrics", headers=_bearer(METRICS_TOKEN))

            together = await asyncio.gather(*(scrape() for _ in range(20)))
            after = [await scrape() for _ in range(20)]
    finally:
        event.remove(db.sync_engine, "before_cursor_execute", seen)
    assert {r.status_code for r in together + after} == {200}
    assert len(counted) == 1


async def test_the_ops_token_opens_the_codec_from_a_header_and_never_from_a_url(
    app: FastAPI,
) -> None:
    request = {"payloads": []}
    async with Served(app) as api:
        by_header = await api.post("/codec/decode", json=request, headers=_bearer(OPS_TOKEN))
        by_path = await api.post(f"/codec/ops/{OPS_TOKEN}/decode", json=request)
        encode_by_path = await api.post(f"/codec/ops/{OPS_TOKEN}/encode", json=request)
    assert by_header.status_code == 200, by_header.text
    assert (by_path.status_code, encode_by_path.status_code) == (404, 404)


async def test_no_span_carries_a_credential_even_when_headers_are_recorded(
    app: FastAPI, db: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator may ask for request headers on spans; the credential headers stay masked."""
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST", ".*")
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.instrument_app(app, provider)
    key = await new_api_key(db, "alpha")
    async with Served(app) as api:
        await api.post("/codec/decode", json={"payloads": []}, headers=_bearer(OPS_TOKEN))
        await api.post(f"/codec/ops/{OPS_TOKEN}/decode", json={"payloads": []})
        await api.get("/v1/leads/L-1", headers=_bearer(key))
        await api.get("/v1/leads/L-1", headers={"X-API-Key": key})
    spans = exporter.get_finished_spans()
    assert any(
        span.attributes and "http.request.header.authorization" in span.attributes for span in spans
    ), "the headers were recorded"
    recorded = repr([(span.name, dict(span.attributes or {})) for span in spans])
    for secret in (OPS_TOKEN, key):
        assert secret not in recorded
