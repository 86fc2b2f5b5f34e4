"""Connecting to Temporal: one data converter everywhere, fail-fast checks, search attributes."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client, Interceptor
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    DefaultPayloadConverter,
    EncodingPayloadConverter,
    JSONPlainPayloadConverter,
)
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import RPCError, RPCStatusCode, TLSConfig

from leadflow.codec import (
    PLAYBOOK,
    PUBLIC,
    UNSEALED,
    WAS_PUBLIC,
    Keyring,
    LeadflowCodec,
    PlaybookLoader,
)
from leadflow.errors import ConfigError
from leadflow.models import Public
from leadflow.playbook.shelf import PlaybookRef
from leadflow.workflows import search_attributes

# One cache of pydantic type adapters for the process: the worker makes a payload converter
# for every workflow it holds, and each would otherwise build its own adapters (tens of KB
# per cached lead). The types are leadflow's own, the same objects in and out of the sandbox.
_ADAPTERS = functools.lru_cache(maxsize=1024)(TypeAdapter)


class _JSON(PydanticJSONPlainPayloadConverter):
    """Pydantic's JSON, marking a value that names its playbook by reference with the
    playbook's digest, so a worker's codec shelves that playbook before the workflow runs,
    and a `Public` value as such (`json/public`), so the codec leaves it unsealed."""

    def __init__(self) -> None:
        super().__init__()
        self._type_adapter = _ADAPTERS

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._type_adapter = _ADAPTERS

    def to_payload(self, value: Any) -> Payload | None:
        if isinstance(value, Public):  # left unsealed by the codec, so kept to what differs
            data = value.__pydantic_serializer__.to_json(value, exclude_defaults=True)
            return Payload(metadata={"encoding": PUBLIC}, data=data)
        payload = super().to_payload(value)
        ref = getattr(value, "playbook_ref", None)
        if payload is not None and isinstance(ref, PlaybookRef):
            payload.metadata[PLAYBOOK] = ref.digest.encode()
        return payload

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        if (
            WAS_PUBLIC in payload.metadata
            and isinstance(type_hint, type)
            and not issubclass(type_hint, Public)
        ):
            raise ValueError(
                f"an unsealed payload offered as {type_hint.__name__}, which is always sealed"
            )
        return super().from_payload(payload, type_hint)


class _Unsealed(EncodingPayloadConverter):
    """What the codec leaves of a payload it did not open, when sealing is required."""

    @property
    def encoding(self) -> str:
        return UNSEALED.decode()

    def to_payload(self, value: Any) -> Payload | None:
        return None

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        raise ValueError(
            "a payload not sealed with ENCRYPTION_KEYS, refused (REQUIRE_SEALED_PAYLOADS)"
        )


class PayloadConverter(CompositePayloadConverter):
    def __init__(self) -> None:
        super().__init__(
            *(
                _JSON() if isinstance(c, JSONPlainPayloadConverter) else c
                for c in DefaultPayloadConverter.default_encoding_payload_converters
            ),
            _Unsealed(),
        )


def data_converter(
    keyring: Keyring, loaders: Sequence[PlaybookLoader] = (), *, require_sealed: bool = False
) -> DataConverter:
    """The one data converter: pydantic JSON, every payload sealed with `keyring`, failure
    messages and stack traces sealed too. A worker passes `loaders` to find the playbook a
    lead's input names (PostgreSQL, playbook files), and `require_sealed` to take nothing
    its keys did not seal (see leadflow/codec.py); clients need neither."""
    return DataConverter(
        payload_converter_class=PayloadConverter,
        payload_codec=LeadflowCodec(keyring, loaders, require_sealed=require_sealed),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


async def connect(
    address: str,
    namespace: str = "default",
    *,
    converter: DataConverter,
    timeout: float = 10.0,
    runtime: Runtime | None = None,
    interceptors: Sequence[Interceptor] = (),
    tls: TLSConfig | bool = False,
) -> Client:
    """Connect and prove the namespace exists, naming the variable to fix on failure."""
    try:
        async with asyncio.timeout(timeout):
            client = await Client.connect(
                address,
                namespace=namespace,
                data_converter=converter,
                runtime=runtime,
                interceptors=interceptors,
                tls=tls,
            )
    except TimeoutError:
        raise ConfigError(
            f"TEMPORAL_ADDRESS: no answer from {address} within {timeout:g}s"
        ) from None
    except Exception as exc:
        raise ConfigError(
            f"TEMPORAL_ADDRESS: cannot connect to {address} ({_reason(exc)})"
        ) from None
    try:
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=namespace), timeout=None
        )
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise ConfigError(
                f"TEMPORAL_NAMESPACE: namespace {namespace!r} does not exist on {address}"
            ) from None
        raise ConfigError(
            f"TEMPORAL_ADDRESS: {address} refused the check ({_reason(exc)})"
        ) from None
    return client


def metrics_runtime(address: str | None) -> Runtime | None:
    """A runtime serving the SDK's metrics, and leadflow's own, for Prometheus at `address`
    (host:port; None: no metrics endpoint)."""
    if not address:
        return None
    try:
        return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))
    except Exception as exc:
        raise ConfigError(
            f"METRICS_ADDRESS: cannot serve metrics on {address} ({_reason(exc)})"
        ) from None


async def ensure_search_attributes(client: Client) -> list[str]:
    """Register leadflow's custom search attributes that are missing; return the ones added."""
    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
        known = set(existing.custom_attributes)
    except RPCError as exc:
        if exc.status != RPCStatusCode.UNIMPLEMENTED:  # the time-skipping server can't list
            raise
        known = set()
    missing = {
        key.name: IndexedValueType.ValueType(key.indexed_value_type)
        for key in search_attributes.ALL
        if key.name not in known
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
        )
    return sorted(missing)
