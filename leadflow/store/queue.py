"""The call queue agents work from (M17-M20, M24).

At most one row per lead (the workflow keeps it in step). An agent claims the next call:
highest priority first, then the longest available; `FOR UPDATE SKIP LOCKED` keeps two
agents from ever taking the same row, and the claim is a lease that lapses if the agent
disappears.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.store.tables import CallQueueEntry, HistoryNote, Lead, LeadParty

LEASE = timedelta(minutes=15)
RECENT_NOTES = 5


class Contact(BaseModel):
    role: str
    name: str | None
    phone: str | None
    email: str | None


class Note(BaseModel):
    at: datetime
    action: str
    milestone: str
    status: str | None
    note: str
    actor: str


class ClaimedCall(BaseModel):
    """What an agent sees for the call they took: who, why, and what happened before."""

    lead_id: str
    label: str
    priority: int
    available_at: datetime
    notes: str
    claimed_until: datetime
    first_name: str | None
    last_name: str | None
    time_zone: str
    milestone: str
    status: str | None
    contacts: list[Contact]
    recent_notes: list[Note]


async def claim_next(
    engine: AsyncEngine,
    account_id: str,
    agent: str,
    *,
    lease: timedelta = LEASE,
    now: datetime | None = None,
) -> ClaimedCall | None:
    """Take the next due call for `agent`, or None when nothing is due."""
    q = CallQueueEntry
    at = now or func.now()
    free = or_(q.claimed_until.is_(None), q.claimed_until < at)
    candidate = (
        select(q.lead_id)
        .where(q.account_id == account_id, q.available_at <= at, free)
        .order_by(q.priority.desc(), q.available_at)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    claim = (
        update(q)
        .where(and_(q.account_id == account_id, q.lead_id == candidate))
        .values(claimed_by=agent, claimed_until=(now or func.now()) + lease)
        .returning(q.lead_id, q.label, q.priority, q.available_at, q.notes, q.claimed_until)
    )
    async with engine.begin() as conn:
        row = (await conn.execute(claim)).one_or_none()
        if row is None:
            return None
        lead = (
            await conn.execute(
                select(
                    Lead.first_name, Lead.last_name, Lead.time_zone, Lead.milestone, Lead.status
                ).where(Lead.account_id == account_id, Lead.lead_id == row.lead_id)
            )
        ).one()
        contacts = (
            await conn.execute(
                select(LeadParty.role, LeadParty.name, LeadParty.phone, LeadParty.email)
                .where(LeadParty.account_id == account_id, LeadParty.lead_id == row.lead_id)
                .order_by(LeadParty.role)
            )
        ).all()
        notes = (
            await conn.execute(
                select(
                    HistoryNote.occurred_at,
                    HistoryNote.action,
                    HistoryNote.milestone,
                    HistoryNote.status,
                    HistoryNote.note,
                    HistoryNote.actor,
                )
                .where(HistoryNote.account_id == account_id, HistoryNote.lead_id == row.lead_id)
                .order_by(HistoryNote.occurred_at.desc())
                .limit(RECENT_NOTES)
            )
        ).all()
    return ClaimedCall(
        lead_id=row.lead_id,
        label=row.label,
        priority=row.priority,
        available_at=row.available_at,
        notes=row.notes,
        claimed_until=row.claimed_until,
        first_name=lead.first_name,
        last_name=lead.last_name,
        time_zone=lead.time_zone,
        milestone=lead.milestone,
        status=lead.status,
        contacts=[
            Contact(role=c.role, name=c.name, phone=c.phone, email=c.email) for c in contacts
        ],
        recent_notes=[
            Note(
                at=n.occurred_at,
                action=n.action,
                milestone=n.milestone,
                status=n.status,
                note=n.note,
                actor=n.actor,
            )
            for n in notes
        ],
    )


async def release(engine: AsyncEngine, account_id: str, lead_id: str, agent: str) -> bool:
    """Give a claimed call back to the queue; False if this agent does not hold it."""
    q = CallQueueEntry
    async with engine.begin() as conn:
        result = await conn.execute(
            update(q)
            .where(q.account_id == account_id, q.lead_id == lead_id, q.claimed_by == agent)
            .values(claimed_by=None, claimed_until=None)
        )
    return bool(result.rowcount)
