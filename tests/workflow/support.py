"""What the workflow tests read from a lead's history."""

from __future__ import annotations

from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle

from tests.factories import eventually


async def task_failures(handle: WorkflowHandle[Any, Any]) -> list[str]:
    history = await handle.fetch_history()
    return [
        e.workflow_task_failed_event_attributes.failure.message
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
    ]


async def settled(handle: WorkflowHandle[Any, Any]) -> list[str]:
    """Wait until the lead's last workflow task ended (completed, or failed); its failures."""

    async def ended() -> bool:
        history = await handle.fetch_history()
        last = history.events[-1].event_type
        return last not in (
            EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
            EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
        )

    await eventually(ended)
    return await task_failures(handle)
