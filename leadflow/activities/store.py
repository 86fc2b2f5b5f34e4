"""The activity that keeps the CRM tables in step with a lead's decisions.

One decision's commands are written in one transaction. Every row carries a business key
(the lead's decision counter and the command's place, or the engine's own touch key), so
a retried activity leaves exactly one row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio import activity

from leadflow.activities.payloads import ApplyDecision
from leadflow.engine.commands import (
    Audit,
    Command,
    CompleteTask,
    CreateTask,
    DequeueCall,
    QueueCall,
    RecordHistory,
    RecordOptOut,
    SaveParties,
    SendMessage,
    SetStatus,
)
from leadflow.store import leads, opt_outs, outbox, queue


class LeadStoreActivities:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @activity.defn
    async def apply_decision(self, decision: ApplyDecision) -> None:
        async with self._engine.begin() as conn:
            if (record := decision.record) is not None:
                await leads.add_lead(
                    conn,
                    record.lead,
                    first_name=record.first_name,
                    last_name=record.last_name,
                    time_zone=record.time_zone,
                    milestone=record.milestone,
                    status=record.status,
                    at=record.at,
                )
            audits: list[tuple[str, Audit]] = []
            for index, command in enumerate(decision.commands):
                if isinstance(command, Audit):  # written together, after the rest
                    audits.append((_row_key(decision, index), command))
                else:
                    await _write(conn, decision, index, command)
            await leads.add_audits(conn, decision.lead, audits, decision.at)

    def all(self) -> list[Callable[..., Any]]:
        return [self.apply_decision]


def _row_key(decision: ApplyDecision, index: int) -> str:
    """A command's row: the lead, its decision's number, the command's place in it."""
    return f"{decision.lead.workflow_id}:{decision.decision}:{index}"


async def _write(
    conn: AsyncConnection, decision: ApplyDecision, index: int, command: Command
) -> None:
    lead, at = decision.lead, decision.at
    if isinstance(command, SetStatus):
        await leads.set_status(conn, lead, command.milestone, command.status, at)
    elif isinstance(command, RecordHistory):
        await leads.add_note(conn, _row_key(decision, index), lead, command, at)
    elif isinstance(command, CreateTask):
        await leads.save_task(conn, f"{lead.workflow_id}:{command.key}", lead, command)
    elif isinstance(command, CompleteTask):
        await leads.complete_task(conn, f"{lead.workflow_id}:{command.key}", at)
    elif isinstance(command, QueueCall):
        await queue.enqueue(conn, lead, command, at)
    elif isinstance(command, DequeueCall):
        await queue.dequeue(conn, lead)
    elif isinstance(command, SendMessage):
        await outbox.add(conn, f"{lead.workflow_id}:{command.key}", lead, command, at)
    elif isinstance(command, SaveParties):
        await leads.save_parties(conn, lead, command.parties)
        consents = [
            (p.phone, f"lead {lead.lead_id} ({role})")
            for role, p in command.parties.items()
            if p.sms_consent and p.phone
        ]
        await opt_outs.record_consents(conn, lead.account_id, consents, at)
    elif isinstance(command, RecordOptOut):
        for address in command.addresses:
            if command.opted_in:
                await opt_outs.opt_in(conn, lead.account_id, command.channels, address)
            else:
                await opt_outs.opt_out(
                    conn, lead.account_id, command.channels, address, source=command.source, at=at
                )
