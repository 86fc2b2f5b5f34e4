"""The store activity is idempotent: a retried decision leaves exactly one row each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import ActivityEnvironment

from leadflow.activities.payloads import ApplyDecision, LeadRecord
from leadflow.activities.store import LeadStoreActivities
from leadflow.engine.commands import (
    Audit,
    CreateTask,
    DequeueCall,
    QueueCall,
    RecordHistory,
    SendMessage,
    SetStatus,
)
from leadflow.engine.refs import LeadRef
from leadflow.engine.state import Member
from leadflow.store.tables import (
    AuditEntry,
    CallQueueEntry,
    HistoryNote,
    Lead,
    OutboxMessage,
    Task,
)

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
REF = LeadRef(account_id="acme", lead_id="L-1")
RECORD = LeadRecord(
    lead=REF,
    first_name="Pat",
    last_name="Lee",
    time_zone="America/Chicago",
    milestone="No Milestone",
    status="New",
    at=T0,
)


async def _rows(db: AsyncEngine, table: type) -> int:
    async with db.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table))).scalar_one()


def _decision(number: int, at: datetime, *commands: object, record: bool = False) -> ApplyDecision:
    return ApplyDecision(
        lead=REF,
        decision=number,
        at=at,
        commands=list(commands),  # type: ignore[arg-type]
        record=RECORD if record else None,
    )


async def test_a_retried_decision_leaves_one_row_each(db: AsyncEngine) -> None:
    store = LeadStoreActivities(db)
    env = ActivityEnvironment()
    decision = _decision(
        1,
        T0,
        SetStatus(milestone="Contacted", status="Hot"),
        RecordHistory(
            key="h", action="Call", milestone="Contacted", status="Hot", note="", actor="ana"
        ),
        CreateTask(
            key="follow-up:f1",
            subject="Call follow-up",
            assignee=None,
            due_at=T0 + timedelta(days=1),
        ),
        QueueCall(key="q", label="CallASAP", priority=100, available_at=T0),
        SendMessage(
            key="m1",
            channel="sms",
            party="borrower",
            to="+13125550111",
            sender=Member(id="u", name="U"),
            template="t",
            body="hi",
        ),
        Audit(key="m1", outcome="fired", reason="sms to borrower"),
        record=True,
    )
    for _ in range(3):
        await env.run(store.apply_decision, decision)

    counts = [
        await _rows(db, t)
        for t in (Lead, HistoryNote, Task, CallQueueEntry, OutboxMessage, AuditEntry)
    ]
    assert counts == [1, 1, 1, 1, 1, 1]
    async with db.connect() as conn:
        lead = (await conn.execute(select(Lead.milestone, Lead.status))).one()
    assert tuple(lead) == ("Contacted", "Hot")


async def test_one_queue_row_per_lead_and_dequeue_removes_it(db: AsyncEngine) -> None:
    store = LeadStoreActivities(db)
    env = ActivityEnvironment()
    await env.run(
        store.apply_decision,
        _decision(
            1, T0, QueueCall(key="a", label="CallASAP", priority=100, available_at=T0), record=True
        ),
    )
    await env.run(
        store.apply_decision,
        _decision(
            2,
            T0 + timedelta(hours=1),
            QueueCall(key="b", label="Redial", priority=50, available_at=T0 + timedelta(hours=3)),
        ),
    )
    async with db.connect() as conn:
        rows = (await conn.execute(select(CallQueueEntry.label, CallQueueEntry.key))).all()
    assert [tuple(r) for r in rows] == [("Redial", "b")]
    await env.run(
        store.apply_decision,
        _decision(3, T0 + timedelta(hours=2), DequeueCall(reason="contact made")),
    )
    assert await _rows(db, CallQueueEntry) == 0


async def test_an_older_decision_replayed_late_does_not_overwrite_a_newer_status(
    db: AsyncEngine,
) -> None:
    store = LeadStoreActivities(db)
    env = ActivityEnvironment()
    await env.run(store.apply_decision, _decision(1, T0, record=True))
    await env.run(
        store.apply_decision,
        _decision(3, T0 + timedelta(hours=2), SetStatus(milestone="Quoted", status="Hot")),
    )
    await env.run(
        store.apply_decision,
        _decision(2, T0 + timedelta(hours=1), SetStatus(milestone="Contacted", status="Follow Up")),
    )
    async with db.connect() as conn:
        lead = (await conn.execute(select(Lead.milestone, Lead.status))).one()
    assert tuple(lead) == ("Quoted", "Hot")
