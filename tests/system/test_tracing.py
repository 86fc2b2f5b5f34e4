"""Tracing with OpenTelemetry: off unless configured; configured, one trace runs from the
HTTP request through the workflow to the activities, across the API and worker processes.

The collector is the network edge: an OTLP/HTTP endpoint of the test's own that decodes
what the processes export.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow import tracing
from leadflow.store.accounts import ensure_account, new_api_key
from tests.places import Place
from tests.services import ProvidersUnderTest, api_and_worker, free_port, worker_env


class Collector(ThreadingHTTPServer):
    """Spans exported to it: (service, span name, trace id)."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, str, str]] = []
        super().__init__(("127.0.0.1", free_port()), _Receive)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Receive(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest.FromString(body)
        for resource in request.resource_spans:
            service = next(
                a.value.string_value
                for a in resource.resource.attributes
                if a.key == "service.name"
            )
            for scope in resource.scope_spans:
                for span in scope.spans:
                    self.server.spans.append((service, span.name, span.trace_id.hex()))
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


async def test_one_trace_runs_from_the_request_to_the_send(
    dev_address: str,
    database_url: str,
    db: AsyncEngine,
    providers: ProvidersUnderTest,
    collector: Collector,
    tmp_path: Path,
) -> None:
    place = Place.where_it_is(12)  # the new lead's intro text goes at once
    queue = f"traced-{uuid.uuid4().hex[:6]}"
    env = worker_env(
        dev_address,
        database_url,
        providers,
        queue,
        place.playbook_folder(tmp_path / "playbooks", "isa"),
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.url,
        OTEL_BSP_SCHEDULE_DELAY="100",
    )
    await ensure_account(db, queue, "Traced", "isa")
    key = await new_api_key(db, queue)
    with api_and_worker(env) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as api:
            created = await api.put(
                "/v1/leads/T-1",
                headers={"Authorization": f"Bearer {key}"},
                json={"designations": {"isa": {"id": "i", "name": "Ivy"}}, **place.lead_fields()},
            )
        assert created.status_code == 201, created.text
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            names = {(service, name) for service, name, _ in collector.spans}
            if ("leadflow-worker", "RunActivity:send_message") in names:
                break
            await asyncio.sleep(0.2)
    request = [t for s, n, t in collector.spans if s == "leadflow-api" and n.startswith("PUT ")]
    assert request, collector.spans
    trace = request[0]
    in_trace = {(s, n) for s, n, t in collector.spans if t == trace}
    # The request, the update-with-start it sent, the workflow's handling of it and the
    # sends it started, in the worker: one trace.
    assert ("leadflow-api", "PUT /v1/leads/{lead_id}") in in_trace, in_trace
    assert any(s == "leadflow-worker" for s, _ in in_trace), in_trace
    assert ("leadflow-worker", "RunActivity:send_message") in in_trace, sorted(in_trace)


def test_tracing_is_off_unless_an_endpoint_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in tracing.ENDPOINTS:
        monkeypatch.delenv(name, raising=False)
    assert not tracing.enabled() and tracing.interceptors("leadflow-test") == []
