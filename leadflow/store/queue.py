"""The call queue agents work from: one call per lead, claimed by one agent at a time.

At most one row per lead (the workflow keeps it in step). An agent claims the next call:
highest priority first, then the longest available; `FOR UPDATE SKIP LOCKED` keeps two
agents from ever taking the same row, and the claim is a lease that lapses if the agent
disappears.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.engine.commands import QueueCall
from leadflow.engine.refs import LeadRef
from leadflow.store.db import Write, rows_insert
from leadflow.store.leads import Note
from leadflow.store.tables import CallQueueEntry

LEASE = timedelta(minutes=15)
RECENT_NOTES = 5


class Contact(BaseModel):
    role: str
    name: str | None
    phone: str | None
    email: str | None


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


# One round trip: pick, lease, and gather what the agent sees. Never a call whose window has
# closed (its lead moves it on to the next one) or whose number is opted out of calls
# anywhere in the account (a Do Not Call on another lead holds here). SKIP LOCKED lets concurrent
# claims pass over a row another agent is taking instead of waiting for it. The driver runs
# it as it is ($1 account, $2 now, $3 agent, $4 lease until, $5 notes shown).
CLAIM_SQL = """
WITH picked AS (
    SELECT lead_id FROM call_queue AS q
    WHERE account_id = $1 AND available_at <= $2
      AND (claimed_until IS NULL OR claimed_until < $2)
      AND (callable_until IS NULL OR callable_until > $2)
      AND NOT EXISTS (
          SELECT 1 FROM opt_outs AS o
          WHERE o.account_id = $1 AND o.channel = 'call' AND o.address = q.phone)
    ORDER BY priority DESC, available_at
    LIMIT 1
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE call_queue AS q
    SET claimed_by = $3, claimed_until = $4
    FROM picked
    WHERE q.account_id = $1 AND q.lead_id = picked.lead_id
    RETURNING q.lead_id, q.label, q.priority, q.available_at, q.notes, q.claimed_until
)
SELECT c.*, l.first_name, l.last_name, l.time_zone, l.milestone, l.status,
    (SELECT coalesce(json_agg(json_build_object(
                'role', p.role, 'name', p.name, 'phone', p.phone, 'email', p.email)
            ORDER BY p.role), '[]')
     FROM parties AS p WHERE p.account_id = $1 AND p.lead_id = c.lead_id) AS contacts,
    (SELECT coalesce(json_agg(json_build_object(
                'at', n.occurred_at, 'action', n.action, 'milestone', n.milestone,
                'status', n.status, 'note', n.note, 'actor', n.actor)
            ORDER BY n.occurred_at DESC), '[]')
     FROM (SELECT * FROM history_notes AS h
           WHERE h.account_id = $1 AND h.lead_id = c.lead_id
           ORDER BY h.occurred_at DESC LIMIT $5) AS n) AS recent_notes
FROM claimed AS c
JOIN leads AS l ON l.account_id = $1 AND l.lead_id = c.lead_id
"""


async def claim_next(
    engine: AsyncEngine,
    account_id: str,
    agent: str,
    *,
    lease: timedelta = LEASE,
    now: datetime | None = None,
) -> ClaimedCall | None:
    """Take the next due call for `agent`, or None when nothing is due."""
    at = now or datetime.now(UTC)
    params = (account_id, at, agent, at + lease, RECENT_NOTES)
    # One statement, committed as it runs: one round trip, no BEGIN and COMMIT around it.
    async with engine.connect() as conn:
        single = await conn.execution_options(isolation_level="AUTOCOMMIT")
        row = (await single.exec_driver_sql(CLAIM_SQL, params)).mappings().one_or_none()
    if row is None:
        return None
    data = dict(row)
    for field in ("contacts", "recent_notes"):
        if isinstance(data[field], str):
            data[field] = json.loads(data[field])
    return ClaimedCall.model_validate(data)


class Waiting(BaseModel):
    """A call in the queue: one no agent can take yet and why it waits, or one due now and
    why it is there."""

    lead_id: str
    label: str
    priority: int
    available_at: datetime
    why: str  # a hold, calling hours, a follow-up time; or who holds its claim
    claimed_by: str | None = None
    time_zone: str = "UTC"  # the lead's


NEXT_WAITING = text("""
SELECT q.lead_id, q.label, q.priority, q.why, l.time_zone, q.claimed_until,
    CASE WHEN q.claimed_until >= :now THEN q.claimed_by END AS claimed_by,
    CASE WHEN q.claimed_until >= :now THEN greatest(q.available_at, q.claimed_until)
         ELSE q.available_at END AS available_at
FROM call_queue AS q
JOIN leads AS l ON l.account_id = q.account_id AND l.lead_id = q.lead_id
WHERE q.account_id = :account AND (q.available_at > :now OR q.claimed_until >= :now)
ORDER BY 8, q.priority DESC
LIMIT :limit
""")


async def waiting(
    engine: AsyncEngine, account_id: str, *, now: datetime | None = None, limit: int = 1
) -> list[Waiting]:
    """The calls no agent can take now, soonest first: what an agent told "nothing is due"
    waits for. A claimed call waits for its claim's lease to lapse (or to be logged)."""
    at = now or datetime.now(UTC)
    params = {"account": account_id, "now": at, "limit": limit}
    async with engine.connect() as conn:
        rows = (await conn.execute(NEXT_WAITING, params)).mappings().all()
    found = []
    for row in rows:
        data = dict(row)
        lease = data.pop("claimed_until")
        if data["claimed_by"]:
            data["why"] = f"claimed by {data['claimed_by']} until {lease.isoformat()}"
        found.append(Waiting.model_validate(data))
    return found


DUE_NOW = text("""
SELECT q.lead_id, q.label, q.priority, q.available_at, q.notes AS why, l.time_zone
FROM call_queue AS q
JOIN leads AS l ON l.account_id = q.account_id AND l.lead_id = q.lead_id
WHERE q.account_id = :account AND q.available_at <= :now
  AND (q.claimed_until IS NULL OR q.claimed_until < :now)
  AND (q.callable_until IS NULL OR q.callable_until > :now)
  AND NOT EXISTS (
      SELECT 1 FROM opt_outs AS o
      WHERE o.account_id = q.account_id AND o.channel = 'call' AND o.address = q.phone)
ORDER BY q.priority DESC, q.available_at
LIMIT :limit
""")


async def due(
    engine: AsyncEngine, account_id: str, *, now: datetime | None = None, limit: int = 10
) -> list[Waiting]:
    """The calls due now, in the order agents take them; `why` says why each is here (a new
    lead, back after a call, a follow-up)."""
    params = {"account": account_id, "now": now or datetime.now(UTC), "limit": limit}
    async with engine.connect() as conn:
        rows = (await conn.execute(DUE_NOW, params)).mappings().all()
    return [Waiting.model_validate(dict(row)) for row in rows]


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


def entry_upsert(lead: LeadRef, call: QueueCall, at: datetime, *, release: bool = False) -> Write:
    """Put the lead's next call in the queue, replacing the one it had (a statement for the
    store activity, which runs a decision's writes together). An agent's claim on the row
    stays (a call replaced while they are on the phone), unless `release`: they logged the
    call they claimed, in the same decision."""
    values: dict[str, object] = {
        "key": call.key,
        "label": call.label,
        "priority": call.priority,
        "available_at": call.available_at,
        "notes": call.notes,
        "why": call.why,
        "queued_at": at,
        "callable_until": call.callable_until,
        "phone": call.phone,
    }
    if release:
        values |= {"claimed_by": None, "claimed_until": None}
    row = {"account_id": lead.account_id, "lead_id": lead.lead_id, **values}
    return rows_insert(
        CallQueueEntry, [row], conflict=("account_id", "lead_id"), update=tuple(values)
    )


def entry_delete(lead: LeadRef) -> Write:
    return Write(
        f"DELETE FROM {CallQueueEntry.__tablename__} WHERE account_id = $1 AND lead_id = $2",
        (lead.account_id, lead.lead_id),
    )
