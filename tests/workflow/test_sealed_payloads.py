"""A worker that requires sealed payloads takes nothing else from Temporal: a signal sent in
the clear by a client without the keys (anyone who reaches Temporal) is dropped, however it
is dressed up, and the lead goes on taking the signals its own clients seal."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.converter import (
    BinaryNullPayloadConverter,
    CompositePayloadConverter,
    DataConverter,
    EncodingPayloadConverter,
)
from temporalio.testing import WorkflowEnvironment

from leadflow.activities.memory import MemoryStoreActivities
from leadflow.client import LeadflowClient
from leadflow.codec import ENCODING, KEY_ID, PUBLIC
from leadflow.temporal import data_converter
from leadflow.worker import build_worker
from tests.factories import PLAYBOOKS, eventually, new_lead
from tests.keys import KEYRING


@pytest_asyncio.fixture
async def leads(time_env: WorkflowEnvironment) -> AsyncIterator[LeadflowClient]:
    """The lead's own client; its worker requires sealed payloads, as `leadflow worker` does."""
    strict = Client(
        time_env.client.service_client,
        namespace=time_env.client.namespace,
        data_converter=data_converter(KEYRING, require_sealed=True),
    )
    queue = f"sealed-{uuid.uuid4().hex[:8]}"
    async with build_worker(strict, None, queue, activities=MemoryStoreActivities()):
        yield LeadflowClient(time_env.client, queue, playbooks=PLAYBOOKS, sends_task_queue=queue)


OPT_IN = b'{"type":"opted_in","channel":"sms","source":"lead"}'
IN_THE_CLEAR = {
    # What `temporal workflow signal --input` or any SDK sends without the keys.
    "json": Payload(metadata={"encoding": b"json/plain"}, data=OPT_IN),
    # Marked as a Public message, which leadflow's codec leaves unsealed.
    "public": Payload(metadata={"encoding": PUBLIC}, data=OPT_IN),
    # Dressed as sealed under the deployment's key, which never sealed it.
    "forged": Payload(
        metadata={"encoding": ENCODING, KEY_ID: KEYRING.current.encode()}, data=b"\x00" * 40
    ),
}


@pytest.mark.parametrize("kind", IN_THE_CLEAR)
async def test_a_signal_in_the_clear_is_dropped_and_sealed_ones_still_land(
    leads: LeadflowClient, time_env: WorkflowEnvironment, kind: str
) -> None:
    request = new_lead(playbook="isa")
    await leads.ensure_lead(request)

    async def opted_out() -> list[str]:
        return (await leads.describe(request.lead)).opted_out

    async def heard(channel: str) -> bool:  # a signal's effect, once its task has run
        return channel in await opted_out()

    await leads.opt_out(request.lead, "sms")
    assert await eventually(lambda: heard("sms"))

    stranger = _raw(time_env).get_workflow_handle(request.lead.workflow_id)
    await stranger.signal("opt_in", IN_THE_CLEAR[kind])
    # A sealed signal after it: once the lead has heard this one, it has had the stranger's.
    await leads.opt_out(request.lead, "email")
    assert await eventually(lambda: heard("email"))
    assert "sms" in await opted_out(), f"a signal in the clear ({kind}) opted the lead back in"
    await leads.opt_in(request.lead, "sms")  # the lead's own client, sealed: taken

    async def back_in() -> bool:
        return not await heard("sms")

    assert await eventually(back_in)


class _Given(EncodingPayloadConverter):
    """Hands a `Payload` on exactly as given: what a hand-made gRPC request would carry."""

    @property
    def encoding(self) -> str:
        return "given"

    def to_payload(self, value: object) -> Payload | None:
        return value if isinstance(value, Payload) else None

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> object:
        return payload


class _AsGiven(CompositePayloadConverter):
    def __init__(self) -> None:
        super().__init__(BinaryNullPayloadConverter(), _Given())


def _raw(env: WorkflowEnvironment) -> Client:
    return Client(
        env.client.service_client,
        namespace=env.client.namespace,
        data_converter=DataConverter(payload_converter_class=_AsGiven),
    )
