"""Tracing with OpenTelemetry, off unless configured.

Set `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) and the worker
and the API export spans over OTLP/HTTP: Temporal's interceptor traces each client call
(an update-with-start, a signal), each workflow task and each activity, and the FastAPI
instrumentation each request, all in one trace from the HTTP request to the send. The
standard `OTEL_*` variables (service name, headers, sampling, batch delay) apply as usual.

A span never carries a credential: credentials travel in headers only (never in a path or
a query), and the headers that hold them are masked even when an operator asks for request
headers on spans (`OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST`).
"""

from __future__ import annotations

import os
import re
from typing import Any

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span
from opentelemetry.trace import TracerProvider as AnyTracerProvider
from opentelemetry.util.http import (
    OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS,
    get_custom_headers,
)
from temporalio.client import Interceptor
from temporalio.contrib.opentelemetry import TracingInterceptor

ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
# Headers that hold a credential or a session: masked on every span that records headers.
SECRET_HEADERS = ("authorization", "x-api-key", "cookie", "set-cookie")
# The codec's retired Web UI endpoint had the ops credential in its path: a UI still set up
# with it gets a 404, and the credential is kept off that request's span and log line.
_TOKEN_IN_PATH = re.compile(r"(/codec/ops/|/unsubscribe/)[^/\s?#]+")
URL_ATTRIBUTES = ("http.target", "http.url", "url.path", "url.full")
UNTRACED = "/health$,/ready$,/metrics$"  # probes and scrapes: noise, no trace to follow
_started = False


def enabled() -> bool:
    return any(os.environ.get(name) for name in ENDPOINTS)


def interceptors(service: str) -> list[Interceptor]:
    """Temporal's tracing interceptor, once this process exports spans as `service` (or
    OTEL_SERVICE_NAME); none when tracing is off."""
    global _started
    if not enabled():
        return []
    if not _started:
        name = os.environ.get("OTEL_SERVICE_NAME") or service
        provider = TracerProvider(resource=Resource.create({"service.name": name}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)  # flushed at exit
        _started = True
    return [TracingInterceptor()]


def redact_path(text: str) -> str:
    return _TOKEN_IN_PATH.sub(r"\1***", text)


def _redact_url(span: Span, scope: dict[str, Any]) -> None:
    if span.is_recording() and redact_path(scope.get("path", "")) != scope.get("path", ""):
        attributes = getattr(span, "attributes", None) or {}
        for name in URL_ATTRIBUTES:
            if isinstance(value := attributes.get(name), str):
                span.set_attribute(name, redact_path(value))


def instrument_app(app: FastAPI, provider: AnyTracerProvider | None = None) -> None:
    """A span per request, the parent of the Temporal calls it makes, with the credential
    headers masked whatever else the operator's `OTEL_*` settings ask to sanitize."""
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        server_request_hook=_redact_url,
        excluded_urls=UNTRACED,
        http_capture_headers_sanitize_fields=[
            *SECRET_HEADERS,
            *get_custom_headers(OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS),
        ],
    )
