"""Tracing with OpenTelemetry, off unless configured.

Set `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) and the worker
and the API export spans over OTLP/HTTP: Temporal's interceptor traces each client call
(an update-with-start, a signal), each workflow task and each activity, and the FastAPI
instrumentation each request, all in one trace from the HTTP request to the send. The
standard `OTEL_*` variables (service name, headers, sampling, batch delay) apply as usual.
"""

from __future__ import annotations

import os

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from temporalio.client import Interceptor
from temporalio.contrib.opentelemetry import TracingInterceptor

ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
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
