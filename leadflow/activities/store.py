"""The activity that keeps the CRM tables in step with a lead's decisions.

One decision's commands are written in one transaction. Every row carries a business key
(the lead's decision counter and the command's place, or the engine's own touch key), so
a retried activity leaves exactly one row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio import activity

from leadflow.activities.payloads import ApplyDecision, LeadRecord
from leadflow.engine.vocabulary import (
    Audit,
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
from leadflow.store.tables import (
    AuditEntry,
    CallQueueEntry,
    Consent,
    HistoryNote,
    Lead,
    LeadParty,
    OptOut,
    OutboxMessage,
    Task,
)


class LeadStoreActivities:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @activity.defn
    async def apply_decision(self, decision: ApplyDecision) -> None:
        async with self._engine.begin() as conn:
            if decision.record is not None:
                await _record_lead(conn, decision.record)
            for index, command in enumerate(decision.commands):
                await _write(conn, decision, index, command)

    def all(self) -> list[object]:
        return [self.apply_decision]


async def _record_lead(conn: AsyncConnection, record: LeadRecord) -> None:
    values = {
        "account_id": record.lead.account_id,
        "lead_id": record.lead.lead_id,
        "workflow_id": record.lead.workflow_id,
        "first_name": record.first_name,
        "last_name": record.last_name,
        "time_zone": record.time_zone,
        "milestone": record.milestone,
        "status": record.status,
        "created_at": record.at,
        "updated_at": record.at,
    }
    await conn.execute(insert(Lead).values(values).on_conflict_do_nothing())


async def _write(conn: AsyncConnection, decision: ApplyDecision, index: int, command: Any) -> None:
    lead = decision.lead
    owner = {"account_id": lead.account_id, "lead_id": lead.lead_id}
    row_key = f"{lead.workflow_id}:{decision.decision}:{index}"
    if isinstance(command, SetStatus):
        await conn.execute(
            update(Lead)
            .where(Lead.account_id == lead.account_id, Lead.lead_id == lead.lead_id)
            .where(Lead.updated_at <= decision.at)
            .values(milestone=command.milestone, status=command.status, updated_at=decision.at)
        )
    elif isinstance(command, RecordHistory):
        await conn.execute(
            insert(HistoryNote)
            .values(
                key=row_key,
                **owner,
                action=command.action,
                milestone=command.milestone,
                status=command.status,
                note=command.note,
                actor=command.actor,
                occurred_at=decision.at,
            )
            .on_conflict_do_nothing()
        )
    elif isinstance(command, CreateTask):
        values = {
            "subject": command.subject,
            "notes": command.notes,
            "assignee": command.assignee,
            "due_at": command.due_at,
        }
        await conn.execute(
            insert(Task)
            .values(key=f"{lead.workflow_id}:{command.key}", **owner, **values)
            .on_conflict_do_update(index_elements=[Task.key], set_=values)
        )
    elif isinstance(command, CompleteTask):
        await conn.execute(
            update(Task)
            .where(Task.key == f"{lead.workflow_id}:{command.key}", Task.completed_at.is_(None))
            .values(completed_at=decision.at)
        )
    elif isinstance(command, QueueCall):
        values = {
            "key": command.key,
            "label": command.label,
            "priority": command.priority,
            "available_at": command.available_at,
            "notes": command.notes,
            "queued_at": decision.at,
        }
        await conn.execute(
            insert(CallQueueEntry)
            .values(**owner, **values)
            .on_conflict_do_update(index_elements=["account_id", "lead_id"], set_=values)
        )
    elif isinstance(command, DequeueCall):
        await conn.execute(
            delete(CallQueueEntry).where(
                CallQueueEntry.account_id == lead.account_id,
                CallQueueEntry.lead_id == lead.lead_id,
            )
        )
    elif isinstance(command, SendMessage):
        await conn.execute(
            insert(OutboxMessage)
            .values(
                key=f"{lead.workflow_id}:{command.key}",
                **owner,
                channel=command.channel,
                party=command.party,
                to_address=command.to,
                sender_id=command.sender.id,
                from_number=command.sender.sms_from,
                template=command.template,
                subject=command.subject,
                body=command.body,
                media=command.media,
                created_at=decision.at,
            )
            .on_conflict_do_nothing()
        )
    elif isinstance(command, SaveParties):
        await conn.execute(
            delete(LeadParty).where(
                LeadParty.account_id == lead.account_id, LeadParty.lead_id == lead.lead_id
            )
        )
        rows = [
            {
                **owner,
                "role": role,
                "name": p.name,
                "phone": p.phone,
                "email": p.email,
                "time_zone": p.time_zone,
                "sms_consent": p.sms_consent,
            }
            for role, p in command.parties.items()
        ]
        if rows:
            await conn.execute(insert(LeadParty).values(rows))
        consents = [
            {
                "account_id": lead.account_id,
                "channel": "sms",
                "address": p.phone,
                "source": f"lead {lead.lead_id} ({role})",
                "at": decision.at,
            }
            for role, p in command.parties.items()
            if p.sms_consent and p.phone
        ]
        if consents:
            await conn.execute(insert(Consent).values(consents).on_conflict_do_nothing())
    elif isinstance(command, RecordOptOut):
        for channel in command.channels:
            for address in command.addresses:
                where = (
                    OptOut.account_id == lead.account_id,
                    OptOut.channel == channel,
                    OptOut.address == address,
                )
                if command.opted_in:
                    await conn.execute(delete(OptOut).where(*where))
                else:
                    await conn.execute(
                        insert(OptOut)
                        .values(
                            account_id=lead.account_id,
                            channel=channel,
                            address=address,
                            source=command.source,
                            at=decision.at,
                        )
                        .on_conflict_do_nothing()
                    )
    elif isinstance(command, Audit):
        await conn.execute(
            insert(AuditEntry)
            .values(
                key=row_key,
                **owner,
                at=decision.at,
                touch_key=command.key,
                outcome=command.outcome,
                reason=command.reason,
                until=command.until,
            )
            .on_conflict_do_nothing()
        )
