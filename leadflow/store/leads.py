"""A lead's CRM record: its row, history notes, parties, tasks and audit trail.

The store activity writes them a decision at a time (each function takes the decision's
connection); the API reads them. Every written row carries a business key, so a retried
decision leaves exactly one row.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import and_, delete, literal, not_, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from leadflow.engine.commands import Audit, CreateTask, RecordHistory
from leadflow.engine.refs import LeadRef
from leadflow.engine.state import Party
from leadflow.store.tables import AuditEntry, HistoryNote, Lead, LeadParty, Task

NOTES_SHOWN = 50  # on the lead's own view


class Note(BaseModel):
    """A history note as people read it: what was done, where it left the lead, who, when."""

    at: datetime
    action: str
    milestone: str
    status: str | None
    note: str
    actor: str


class LeadSummary(BaseModel):
    lead_id: str
    first_name: str | None
    last_name: str | None
    milestone: str
    status: str | None
    updated_at: datetime


class Unlinked(BaseModel):
    lead_id: str
    milestone: str
    status: str | None


def _owner(lead: LeadRef) -> dict[str, str]:
    return {"account_id": lead.account_id, "lead_id": lead.lead_id}


# ---- written by the store activity ---------------------------------------------------------


async def add_lead(
    conn: AsyncConnection,
    lead: LeadRef,
    *,
    first_name: str | None,
    last_name: str | None,
    time_zone: str,
    milestone: str,
    status: str | None,
    at: datetime,
) -> None:
    """The lead's own row, on its first decision; a retry finds it there."""
    values = {
        **_owner(lead),
        "workflow_id": lead.workflow_id,
        "first_name": first_name,
        "last_name": last_name,
        "time_zone": time_zone,
        "milestone": milestone,
        "status": status,
        "created_at": at,
        "updated_at": at,
    }
    await conn.execute(insert(Lead).values(values).on_conflict_do_nothing())


async def set_status(
    conn: AsyncConnection, lead: LeadRef, milestone: str, status: str | None, at: datetime
) -> None:
    """Move the row to the milestone and status, unless a later decision already did."""
    await conn.execute(
        update(Lead)
        .where(Lead.account_id == lead.account_id, Lead.lead_id == lead.lead_id)
        .where(Lead.updated_at <= at)
        .values(milestone=milestone, status=status, updated_at=at)
    )


async def add_note(
    conn: AsyncConnection, key: str, lead: LeadRef, note: RecordHistory, at: datetime
) -> None:
    await conn.execute(
        insert(HistoryNote)
        .values(
            key=key,
            **_owner(lead),
            action=note.action,
            milestone=note.milestone,
            status=note.status,
            note=note.note,
            actor=note.actor,
            occurred_at=at,
        )
        .on_conflict_do_nothing()
    )


async def save_parties(conn: AsyncConnection, lead: LeadRef, parties: dict[str, Party]) -> None:
    """The lead's parties as they are now: the rows of parties no longer on it go."""
    await conn.execute(
        delete(LeadParty).where(
            LeadParty.account_id == lead.account_id, LeadParty.lead_id == lead.lead_id
        )
    )
    rows = [
        {
            **_owner(lead),
            "role": role,
            "name": p.name,
            "phone": p.phone,
            "email": p.email,
            "time_zone": p.time_zone,
            "sms_consent": p.sms_consent,
        }
        for role, p in parties.items()
    ]
    if rows:
        await conn.execute(insert(LeadParty).values(rows))


async def save_task(conn: AsyncConnection, key: str, lead: LeadRef, task: CreateTask) -> None:
    """Create the task, or bring it up to date when the lead changed it."""
    values = {
        "subject": task.subject,
        "notes": task.notes,
        "assignee": task.assignee,
        "due_at": task.due_at,
    }
    await conn.execute(
        insert(Task)
        .values(key=key, **_owner(lead), **values)
        .on_conflict_do_update(index_elements=[Task.key], set_=values)
    )


async def complete_task(conn: AsyncConnection, key: str, at: datetime) -> None:
    await conn.execute(
        update(Task).where(Task.key == key, Task.completed_at.is_(None)).values(completed_at=at)
    )


async def add_audits(
    conn: AsyncConnection, lead: LeadRef, entries: list[tuple[str, Audit]], at: datetime
) -> None:
    """A decision's audit lines (each with its row key) in one statement."""
    if not entries:
        return
    rows = [
        {
            "key": key,
            **_owner(lead),
            "at": at,
            "touch_key": entry.key,
            "outcome": entry.outcome,
            "reason": entry.reason,
            "until": entry.until,
        }
        for key, entry in entries
    ]
    await conn.execute(insert(AuditEntry).values(rows).on_conflict_do_nothing())


# ---- read by the API -------------------------------------------------------------------------


async def page(
    engine: AsyncEngine,
    account_id: str,
    *,
    status: str | None = None,
    milestone: str | None = None,
    before: tuple[datetime, str] | None = None,
    limit: int,
) -> list[LeadSummary]:
    """The account's leads, newest change first, from just past `before` (time, lead id)."""
    query = select(
        Lead.lead_id, Lead.first_name, Lead.last_name, Lead.milestone, Lead.status, Lead.updated_at
    ).where(Lead.account_id == account_id)
    if status is not None:
        query = query.where(Lead.status == status)
    if milestone is not None:
        query = query.where(Lead.milestone == milestone)
    if before is not None:
        at, lead_id = before
        after = tuple_(literal(at), literal(lead_id))
        query = query.where(tuple_(Lead.updated_at, Lead.lead_id) < after)
    query = query.order_by(Lead.updated_at.desc(), Lead.lead_id.desc()).limit(limit)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [LeadSummary.model_validate(row._mapping) for row in rows]


async def recent_notes(engine: AsyncEngine, lead: LeadRef, limit: int = NOTES_SHOWN) -> list[Note]:
    """The lead's history notes, newest first."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(
                    HistoryNote.occurred_at,
                    HistoryNote.action,
                    HistoryNote.milestone,
                    HistoryNote.status,
                    HistoryNote.note,
                    HistoryNote.actor,
                )
                .where(
                    HistoryNote.account_id == lead.account_id, HistoryNote.lead_id == lead.lead_id
                )
                .order_by(HistoryNote.occurred_at.desc())
                .limit(limit)
            )
        ).all()
    return [
        Note(
            at=n.occurred_at,
            action=n.action,
            milestone=n.milestone,
            status=n.status,
            note=n.note,
            actor=n.actor,
        )
        for n in rows
    ]


async def unlinked(
    engine: AsyncEngine,
    account_id: str,
    linked: list[tuple[str, str]],
    *,
    after: str | None = None,
    limit: int,
) -> list[Unlinked]:
    """Leads whose milestone and status are not among the `linked` pairs, by lead id."""
    query = select(Lead.lead_id, Lead.milestone, Lead.status).where(
        Lead.account_id == account_id,
        or_(
            Lead.status.is_(None),
            not_(tuple_(Lead.milestone, Lead.status).in_(linked)) if linked else and_(True),
        ),
    )
    if after is not None:
        query = query.where(Lead.lead_id > after)
    async with engine.connect() as conn:
        rows = (await conn.execute(query.order_by(Lead.lead_id).limit(limit))).all()
    return [Unlinked(lead_id=r.lead_id, milestone=r.milestone, status=r.status) for r in rows]


async def parties_reached_at(
    engine: AsyncEngine, account_id: str, *, phone: str | None = None, email: str | None = None
) -> list[tuple[str, str]]:
    """(lead id, role) of every party on the account's leads with this phone or email."""
    column: ColumnElement[bool] = (
        LeadParty.phone == phone if phone is not None else LeadParty.email == email
    )
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(LeadParty.lead_id, LeadParty.role).where(
                    LeadParty.account_id == account_id, column
                )
            )
        ).all()
    return [(r.lead_id, r.role) for r in rows]
