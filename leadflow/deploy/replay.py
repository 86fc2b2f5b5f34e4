"""The deploy gate: real leads' histories from a cluster, replayed against the code about
to ship. A history that no longer replays is a running lead the new code would break (a
non-deterministic change, a removed branch, a workflow renamed): do not ship it.

Leads are chosen by a visibility query (`WorkflowType = 'LeadWorkflow'
AND ExecutionStatus = 'Running'`, or any other), a random sample among the first `scan`
the cluster lists, so the gate costs the same at ten leads and at ten million."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from temporalio.client import Client, WorkflowExecution, WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.worker import Replayer

from leadflow.worker import SANDBOX, WORKFLOWS

DEFAULT_QUERY = "WorkflowType = 'LeadWorkflow' AND ExecutionStatus = 'Running'"
_FETCHING = 8  # histories fetched at once


@dataclass
class Replayed:
    """What the gate found: the leads replayed, and each that failed with why."""

    listed: int = 0
    replayed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # workflow id: the first line why

    @property
    def ok(self) -> bool:
        return not self.failed


async def choose(
    client: Client, query: str, sample: int, scan: int, seed: int | None
) -> tuple[int, list[WorkflowExecution]]:
    """`sample` of the first `scan` executions the query lists (all, when fewer), and how
    many it listed."""
    listed = [execution async for execution in client.list_workflows(query, limit=scan)]
    chosen = random.Random(seed).sample(listed, min(sample, len(listed)))
    return len(listed), chosen


async def replay(
    client: Client,
    converter: DataConverter,
    query: str = DEFAULT_QUERY,
    *,
    sample: int = 100,
    scan: int = 10_000,
    seed: int | None = None,
    workflows: Sequence[type] = WORKFLOWS,
) -> Replayed:
    """Replay a sample of the histories `query` lists against `workflows` (today's code)."""
    listed, chosen = await choose(client, query, sample, scan, seed)
    found = Replayed(listed=listed)
    if not chosen:
        return found
    replayer = Replayer(
        workflows=list(workflows), data_converter=converter, workflow_runner=SANDBOX
    )
    async with replayer.workflow_replay_iterator(_histories(client, chosen)) as results:
        async for result in results:
            lead = result.history.workflow_id
            if result.replay_failure is None:
                found.replayed.append(lead)
            else:
                found.failed[lead] = _first_line(result.replay_failure)
    return found


async def _histories(
    client: Client, chosen: list[WorkflowExecution]
) -> AsyncIterator[WorkflowHistory]:
    """The chosen runs' histories, up to `_FETCHING` fetched ahead."""
    limit = asyncio.Semaphore(_FETCHING)

    async def fetch(execution: WorkflowExecution) -> WorkflowHistory:
        async with limit:
            handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
            return await handle.fetch_history()

    tasks = [asyncio.ensure_future(fetch(e)) for e in chosen]
    try:
        for task in tasks:
            yield await task
    finally:
        for task in tasks:
            task.cancel()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")
