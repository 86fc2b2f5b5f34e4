"""The workflow tier: LeadWorkflow on the time-skipping server, with the in-memory store
`leadflow simulate` uses (the same activity names the worker registers), so no PostgreSQL
and no provider server start."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from leadflow.activities.memory import MemoryStoreActivities
from leadflow.client import LeadflowClient
from leadflow.worker import build_worker
from tests.factories import PLAYBOOKS


@pytest.fixture
def store() -> MemoryStoreActivities:
    """What the lead's decisions and sends reached: every decision's commands, in order."""
    return MemoryStoreActivities()


@pytest_asyncio.fixture
async def leads(
    time_env: WorkflowEnvironment, store: MemoryStoreActivities
) -> AsyncIterator[LeadflowClient]:
    """A client talking to a worker on its own task queue, whose store and sends are `store`."""
    queue = f"test-{uuid.uuid4().hex[:12]}"
    async with build_worker(time_env.client, None, queue, activities=store):
        yield LeadflowClient(time_env.client, queue, playbooks=PLAYBOOKS, sends_task_queue=queue)
