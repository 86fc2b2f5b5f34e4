"""Activities that keep the CRM tables in step with a lead's workflow.

Each write is keyed by a business key, so a retried activity leaves exactly one row.
"""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

from leadflow.models.lead import FollowUpDue, LeadRecord, MilestoneRecord
from leadflow.store.tables import HistoryNote, Lead, Task


class LeadStoreActivities:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @activity.defn
    async def record_lead(self, record: LeadRecord) -> None:
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
        statement = insert(Lead).values(values).on_conflict_do_nothing()
        async with self._engine.begin() as conn:
            await conn.execute(statement)

    @activity.defn
    async def record_milestone(self, record: MilestoneRecord) -> None:
        """Write the history note and the lead's new milestone/status in one transaction."""
        change = record.change
        note = (
            insert(HistoryNote)
            .values(
                key=record.key,
                account_id=record.lead.account_id,
                lead_id=record.lead.lead_id,
                action=change.action,
                milestone=change.milestone,
                status=change.status,
                note=change.note,
                actor=change.actor,
                occurred_at=record.at,
            )
            .on_conflict_do_nothing(index_elements=[HistoryNote.key])
            .returning(HistoryNote.key)
        )
        async with self._engine.begin() as conn:
            inserted = (await conn.execute(note)).scalar_one_or_none()
            if inserted is None:
                return  # a retry of a change already recorded
            lead = (
                Lead.__table__.update()
                .where(Lead.account_id == record.lead.account_id)
                .where(Lead.lead_id == record.lead.lead_id)
                .where(Lead.updated_at <= record.at)
                .values(milestone=change.milestone, status=change.status, updated_at=record.at)
            )
            await conn.execute(lead)

    @activity.defn
    async def create_task(self, task: FollowUpDue) -> None:
        statement = (
            insert(Task)
            .values(
                key=task.key,
                account_id=task.lead.account_id,
                lead_id=task.lead.lead_id,
                subject=task.subject,
                notes=task.notes,
                due_at=task.due_at,
            )
            .on_conflict_do_nothing(index_elements=[Task.key])
        )
        async with self._engine.begin() as conn:
            await conn.execute(statement)

    def all(self) -> list[object]:
        return [self.record_lead, self.record_milestone, self.create_task]
