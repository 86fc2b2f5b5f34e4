"""A lead's CRM record: its row, history notes, parties, tasks and audit trail.

The store activity writes them a decision at a time (these functions give it statements,
which it runs together as one); the API reads them. Every written row carries a business
key, so a retried decision leaves exactly one row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import and_, func, literal, not_, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from leadflow.engine.commands import Audit, CreateTask, RecordHistory
from leadflow.engine.refs import LeadRef
from leadflow.engine.state import Party
from leadflow.store.db import Write, execute, rows_insert
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


# ---- written by the store activity: statements it runs together, as one ------------------


def lead_insert(
    lead: LeadRef,
    *,
    first_name: str | None,
    last_name: str | None,
    time_zone: str,
    milestone: str,
    status: str | None,
    at: datetime,
    playbook: tuple[str, int] | None = None,
    source: str | None = None,
) -> Write:
    """The lead's own row, on its first decision; a retry finds it there."""
    values = {
        **_owner(lead),
        "workflow_id": lead.workflow_id,
        "first_name": first_name,
        "last_name": last_name,
        "time_zone": time_zone,
        "milestone": milestone,
        "status": status,
        "playbook": playbook[0] if playbook else None,
        "playbook_version": playbook[1] if playbook else None,
        "created_at": at,
        "updated_at": at,
        "source": source,
        "reached": [milestone],
    }
    return rows_insert(Lead, [values])


def playbook_update(lead: LeadRef, name: str, version: int) -> Write:
    """The lead moved to this version of its playbook (a migration never goes back)."""
    return Write(_PLAYBOOK_UPDATE, (name, version, lead.account_id, lead.lead_id))


_PLAYBOOK_UPDATE = (
    f"UPDATE {Lead.__tablename__} SET playbook = $1, playbook_version = $2 "
    "WHERE account_id = $3 AND lead_id = $4 "
    "AND (playbook_version IS NULL OR playbook_version < $2)"
)


def status_and_playbook_update(
    lead: LeadRef, milestone: str, status: str | None, at: datetime, name: str, version: int
) -> Write:
    """Both at once, for a decision that moves the lead's status and its playbook version (a
    migration whose first decision also changes the status): one UPDATE, since two in one
    statement would leave only one of them on the row. Each part keeps its own guard."""
    return Write(
        _STATUS_AND_PLAYBOOK_UPDATE,
        (milestone, status, at, name, version, lead.account_id, lead.lead_id),
    )


_NEWER_VERSION = "(playbook_version IS NULL OR playbook_version < $5)"
# The milestone joins those the lead reached (the funnel's), even when a later decision
# already moved the row on.
_REACHED = "reached = CASE WHEN $1 = ANY(reached) THEN reached ELSE array_append(reached, $1) END"
_STATUS_AND_PLAYBOOK_UPDATE = (
    f"UPDATE {Lead.__tablename__} SET "
    "milestone = CASE WHEN updated_at <= $3 THEN $1 ELSE milestone END, "
    "status = CASE WHEN updated_at <= $3 THEN $2 ELSE status END, "
    f"updated_at = greatest(updated_at, $3), {_REACHED}, "
    f"playbook = CASE WHEN {_NEWER_VERSION} THEN $4 ELSE playbook END, "
    f"playbook_version = CASE WHEN {_NEWER_VERSION} THEN $5 ELSE playbook_version END "
    "WHERE account_id = $6 AND lead_id = $7"
)


def status_update(lead: LeadRef, milestone: str, status: str | None, at: datetime) -> Write:
    """Move the row to the milestone and status, unless a later decision already did."""
    return Write(_STATUS_UPDATE, (milestone, status, at, lead.account_id, lead.lead_id))


_STATUS_UPDATE = (
    f"UPDATE {Lead.__tablename__} SET "
    "milestone = CASE WHEN updated_at <= $3 THEN $1 ELSE milestone END, "
    "status = CASE WHEN updated_at <= $3 THEN $2 ELSE status END, "
    f"updated_at = greatest(updated_at, $3), {_REACHED} "
    "WHERE account_id = $4 AND lead_id = $5"
)


def notes_insert(lead: LeadRef, notes: list[tuple[str, RecordHistory]], at: datetime) -> Write:
    """History notes, each under its row key."""
    rows = [
        {
            "key": key,
            **_owner(lead),
            "action": note.action,
            "milestone": note.milestone,
            "status": note.status,
            "note": note.note,
            "actor": note.actor,
            "occurred_at": at,
        }
        for key, note in notes
    ]
    return rows_insert(HistoryNote, rows)


def parties_replace(lead: LeadRef, parties: dict[str, Party]) -> list[Write]:
    """The lead's parties as they are now: each role's row brought up to date, the rows of
    roles no longer on it gone (different rows, so both run in one statement)."""
    gone = Write(_PARTIES_GONE, (lead.account_id, lead.lead_id, list(parties)))
    if not parties:
        return [gone]
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
    upsert = rows_insert(
        LeadParty,
        rows,
        conflict=("account_id", "lead_id", "role"),
        update=("name", "phone", "email", "time_zone", "sms_consent"),
    )
    return [gone, upsert]


def tasks_upsert(
    lead: LeadRef, tasks: dict[str, CreateTask], completed: dict[str, datetime]
) -> Write:
    """Create each task, or bring it up to date when the lead changed it; `completed` says
    which of them the same decision also completed."""
    rows = [
        {
            "key": key,
            **_owner(lead),
            "subject": task.subject,
            "notes": task.notes,
            "assignee": task.assignee,
            "due_at": task.due_at,
            "completed_at": completed.get(key),
        }
        for key, task in tasks.items()
    ]
    return rows_insert(
        Task,
        rows,
        conflict=("key",),
        update=("subject", "notes", "assignee", "due_at"),
        keep=("completed_at",),
    )


def tasks_complete(keys: list[str], at: datetime) -> Write:
    return Write(_TASKS_COMPLETE, (at, keys))


_PARTIES_GONE = (
    f"DELETE FROM {LeadParty.__tablename__} "
    "WHERE account_id = $1 AND lead_id = $2 AND role <> ALL($3::varchar[])"
)
_TASKS_COMPLETE = (
    f"UPDATE {Task.__tablename__} SET completed_at = $1 "
    "WHERE key = ANY($2::varchar[]) AND completed_at IS NULL"
)


def audits_insert(lead: LeadRef, entries: list[tuple[str, Audit]], at: datetime) -> Write:
    """A decision's audit lines, each with its row key."""
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
    return rows_insert(AuditEntry, rows)


# ---- read by the API -------------------------------------------------------------------------


async def versions(engine: AsyncEngine, account_id: str, name: str) -> dict[int | None, int]:
    """How many of the account's leads run each version of the playbook (None: a lead
    recorded before rows kept their version, or on no version of this name)."""
    query = (
        select(Lead.playbook_version, func.count())
        .where(Lead.account_id == account_id)
        .where(or_(Lead.playbook == name, Lead.playbook.is_(None)))
        .group_by(Lead.playbook_version)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return {version: count for version, count in rows}


async def below(
    engine: AsyncEngine,
    account_id: str,
    name: str,
    version: int,
    *,
    statuses: Sequence[str] = (),
    milestones: Sequence[str] = (),
) -> list[str]:
    """The ids of the account's leads on an older version of the playbook (or one not known
    here), by id; only those in one of `statuses` and `milestones` when given."""
    query = (
        select(Lead.lead_id)
        .where(Lead.account_id == account_id)
        .where(or_(Lead.playbook == name, Lead.playbook.is_(None)))
        .where(or_(Lead.playbook_version.is_(None), Lead.playbook_version < version))
        .order_by(Lead.lead_id)
    )
    if statuses:
        query = query.where(Lead.status.in_(list(statuses)))
    if milestones:
        query = query.where(Lead.milestone.in_(list(milestones)))
    async with engine.connect() as conn:
        return list((await conn.execute(query)).scalars())


async def record_version(engine: AsyncEngine, lead: LeadRef, name: str, version: int) -> None:
    """The version a lead runs, for a row from before rows kept it (never backwards)."""
    async with engine.begin() as conn:
        await execute(conn, playbook_update(lead, name, version))


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
