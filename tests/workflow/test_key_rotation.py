"""Keys rotate under running leads: a lead started under one key keeps running once another
key is added in front of it, and a process without the old key cannot open the lead."""

from __future__ import annotations

import base64
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from leadflow.activities.memory import MemoryStoreActivities
from leadflow.client import LeadflowClient, LeadUnavailable
from leadflow.codec import KEY_ID, Keyring, new_key
from leadflow.temporal import data_converter
from leadflow.worker import build_worker
from tests.factories import PLAYBOOKS, change, new_lead

K1, K2 = new_key("rotation-1"), new_key("rotation-2")


def _client(env: WorkflowEnvironment, keys: str) -> Client:
    """Another client on the same server, sealing with `keys`."""
    return Client(
        env.client.service_client,
        namespace=env.client.namespace,
        data_converter=data_converter(Keyring.parse(keys)),
    )


def _key_ids(history: WorkflowHistory) -> list[str]:
    """The key id of every sealed payload, in the order the history holds them."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "data" in node and KEY_ID in node.get("metadata", {}):
                found.append(base64.b64decode(node["metadata"][KEY_ID]).decode())
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads(history.to_json()))
    return found


@contextlib.asynccontextmanager
async def _lead_client(
    env: WorkflowEnvironment, keys: str, queue: str, **options: Any
) -> AsyncIterator[LeadflowClient]:
    """A worker and a client sealing with `keys`. The worker keeps no lead cached, so the
    next task goes to whichever worker polls the queue next, not to this one's sticky queue."""
    client = _client(env, keys)
    worker = build_worker(
        client, None, queue, activities=MemoryStoreActivities(), max_cached_workflows=0
    )
    async with worker:
        yield LeadflowClient(client, queue, playbooks=PLAYBOOKS, sends_task_queue=queue, **options)


async def test_a_lead_started_under_key_1_keeps_running_after_key_2_is_added(
    time_env: WorkflowEnvironment,
) -> None:
    queue = f"rotation-{uuid.uuid4().hex[:8]}"
    request = new_lead()
    async with _lead_client(time_env, K1, queue) as leads:
        await leads.ensure_lead(request)
        await leads.change_milestone(request.lead, change("Contacted", "Requote"))

    # The new key first; the old one still listed.
    async with _lead_client(time_env, f"{K2},{K1}", queue) as leads:
        snapshot = await leads.change_milestone(request.lead, change("Quoted", "Requote"))
        assert (snapshot.milestone, snapshot.status) == ("Quoted", "Requote")
        state = await leads.describe(request.lead)
        assert state.changes == 2
        history = await leads.temporal.get_workflow_handle(request.lead.workflow_id).fetch_history()

    ids = _key_ids(history)
    assert ids[0] == "rotation-1" and ids[-1] == "rotation-2"
    assert set(ids) == {"rotation-1", "rotation-2"}


async def test_a_worker_without_the_old_key_cannot_open_the_lead(
    time_env: WorkflowEnvironment,
) -> None:
    queue = f"rotation-{uuid.uuid4().hex[:8]}"
    request = new_lead()
    async with _lead_client(time_env, K1, queue) as leads:
        await leads.ensure_lead(request)

    asked = change("Contacted", "Requote")
    # The old key removed too early.
    async with _lead_client(time_env, K2, queue, answer_timeout=3) as leads:
        with pytest.raises(LeadUnavailable):
            await leads.change_milestone(request.lead, asked)

    # The key listed again: the same request goes through, so the key was all that was missing.
    async with _lead_client(time_env, f"{K2},{K1}", queue) as leads:
        snapshot = await leads.change_milestone(request.lead, asked)
    assert (snapshot.milestone, snapshot.status) == ("Contacted", "Requote")
