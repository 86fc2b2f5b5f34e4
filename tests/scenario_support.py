"""Helpers for workflow scenarios: set the server's clock, read what the lead wrote."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.testing import WorkflowEnvironment

from leadflow.engine import localtime
from leadflow.engine.refs import LeadRef
from leadflow.store.tables import AuditEntry, CallQueueEntry, Lead, OutboxMessage, Task

CHICAGO = "America/Chicago"


async def skip_to_next(
    env: WorkflowEnvironment, weekday: int, clock: time, zone: str = CHICAGO
) -> datetime:
    """Sleep the server until the next `weekday` (0 = Monday) at `clock` local time."""
    now = await env.get_current_time()
    day = localtime.local_date(now, zone) + timedelta(days=1)
    while day.weekday() != weekday:
        day += timedelta(days=1)
    target = localtime.at_local(day, clock, zone)
    await env.sleep(target - now)
    return await env.get_current_time()  # the server lands a few ms past the target


def close(a: datetime | None, b: datetime, within: timedelta = timedelta(seconds=2)) -> bool:
    """Equal up to the few milliseconds a skipped timer or a request adds."""
    return a is not None and abs(a - b) <= within


async def skip_to(env: WorkflowEnvironment, moment: datetime) -> None:
    now = await env.get_current_time()
    if moment > now:
        await env.sleep(moment - now)


def at(day: date, clock: time, zone: str = CHICAGO) -> datetime:
    return localtime.at_local(day, clock, zone)


async def rows(db: AsyncEngine, table: Any, lead: LeadRef, order: Any = None) -> list[Any]:
    query = select(table.__table__).where(
        table.account_id == lead.account_id, table.lead_id == lead.lead_id
    )
    if order is not None:
        query = query.order_by(order)
    async with db.connect() as conn:
        return list((await conn.execute(query)).all())


async def outbox(db: AsyncEngine, lead: LeadRef) -> list[Any]:
    return await rows(db, OutboxMessage, lead, OutboxMessage.created_at)


async def tasks(db: AsyncEngine, lead: LeadRef) -> list[Any]:
    return await rows(db, Task, lead, Task.due_at)


async def queue(db: AsyncEngine, lead: LeadRef) -> Any:
    found = await rows(db, CallQueueEntry, lead)
    return found[0] if found else None


async def audit(db: AsyncEngine, lead: LeadRef) -> list[Any]:
    return await rows(db, AuditEntry, lead, AuditEntry.at)


async def lead_row(db: AsyncEngine, lead: LeadRef) -> Any:
    return (await rows(db, Lead, lead))[0]


async def described(env: WorkflowEnvironment, workflow_id: str) -> tuple[str, dict[str, Any]]:
    """Run id and search attributes, read raw: the time-skipping server keeps an unset
    attribute as a null payload, which the SDK's typed decoding cannot read."""
    response = await env.client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=env.client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
        )
    )
    info = response.workflow_execution_info
    attributes = {
        name: json.loads(payload.data)
        for name, payload in info.search_attributes.indexed_fields.items()
        if payload.metadata.get("encoding") == b"json/plain"
    }
    return info.execution.run_id, attributes
