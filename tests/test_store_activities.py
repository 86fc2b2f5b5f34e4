"""Store activities are idempotent: a retried activity leaves exactly one row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import ActivityEnvironment

from leadflow.activities.store import LeadStoreActivities
from leadflow.models.lead import FollowUpDue, LeadRecord, LeadRef, MilestoneRecord
from leadflow.store.tables import HistoryNote, Lead, Task
from tests.factories import change

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
REF = LeadRef(account_id="acme", lead_id="L-1")


async def _rows(db: AsyncEngine, table: type) -> int:
    async with db.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table))).scalar_one()


def _record(at: datetime = T0) -> LeadRecord:
    return LeadRecord(
        lead=REF,
        first_name="Pat",
        last_name="Lee",
        time_zone="America/Chicago",
        milestone="No Milestone",
        status="New",
        at=at,
    )


async def test_retried_writes_leave_one_row_each(db: AsyncEngine) -> None:
    store = LeadStoreActivities(db)
    env = ActivityEnvironment()
    update = MilestoneRecord(lead=REF, key="k1", change=change("Contacted", "Hot"), at=T0)
    task = FollowUpDue(lead=REF, key="t1", due_at=T0 + timedelta(days=1))

    for _ in range(3):
        await env.run(store.record_lead, _record())
        await env.run(store.record_milestone, update)
        await env.run(store.create_task, task)

    assert (await _rows(db, Lead), await _rows(db, HistoryNote), await _rows(db, Task)) == (1, 1, 1)


async def test_an_older_change_replayed_late_does_not_overwrite_a_newer_one(
    db: AsyncEngine,
) -> None:
    store = LeadStoreActivities(db)
    env = ActivityEnvironment()
    await env.run(store.record_lead, _record())
    newer = MilestoneRecord(
        lead=REF, key="new", change=change("Quoted", "Hot"), at=T0 + timedelta(hours=2)
    )
    older = MilestoneRecord(
        lead=REF, key="old", change=change("Contacted", "Follow Up"), at=T0 + timedelta(hours=1)
    )

    await env.run(store.record_milestone, newer)
    await env.run(store.record_milestone, older)

    async with db.connect() as conn:
        lead = (await conn.execute(select(Lead.milestone, Lead.status))).one()
    assert tuple(lead) == ("Quoted", "Hot")
    assert await _rows(db, HistoryNote) == 2
