"""The call queue agents work from: one call per lead, claimed by one agent at a time.

At most one row per lead (the workflow keeps it in step). An agent claims the next call:
the calls of leads routing gave them first, then highest priority first and the longest
available, passing over calls of leads routing gave another user on duty (what may be
handed out is `store.callable`); `FOR UPDATE SKIP LOCKED` keeps two agents from ever
taking the same row, and the claim is a lease that lapses if the agent disappears.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.engine.commands import QueueCall
from leadflow.engine.refs import LeadRef
from leadflow.store.callable import (
    callable_sql,
    held_elsewhere,
    holder_sql,
    listed,
    over_cap,
    pick,
)
from leadflow.store.db import Write, fetch_one, rows_insert
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


# What an agent sees of the call `claimed` (a CTE of the row it leased): the lead, its
# contacts and its recent notes ($1 account, $5 notes shown).
_GATHER = """
SELECT c.lead_id, c.label, c.priority, c.available_at, c.notes, c.claimed_until,
    l.first_name, l.last_name, l.time_zone, l.milestone, l.status,
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

# Records the call made to the leased row's number, for the caps ($1 account, $2 now,
# $3 agent).
_MADE = """
    INSERT INTO calls_made (account_id, phone, lead_id, agent, at, lease_until)
    SELECT $1, c.phone, c.lead_id, $3, $2, c.claimed_until FROM claimed AS c
    WHERE c.phone IS NOT NULL
"""

_LEASED = "q.lead_id, q.label, q.priority, q.available_at, q.notes, q.claimed_until, q.phone"

# The claim: one statement, committed as it runs ($1 account, $2 now, $3 agent, $4 lease
# until, $5 notes shown). It picks the next call an agent may take (SKIP LOCKED: concurrent
# claims pass over a row another agent is taking), leases it, records the call made and
# gathers what the agent sees, unless a cap on the person counts calls to its number: then
# it only says so (`capped`), and the claim takes that call under the account's lock on the
# number (`PICK_SQL`, `CAPPED_SQL`).
CLAIM_SQL = f"""
WITH {pick("q.lead_id, q.caps IS NOT NULL AND q.phone IS NOT NULL AS capped", "$2", "$3")},
claimed AS (
    UPDATE call_queue AS q
    SET claimed_by = $3, claimed_until = $4
    FROM picked
    WHERE q.account_id = $1 AND q.lead_id = picked.lead_id AND NOT picked.capped
    RETURNING {_LEASED}
), made AS ({_MADE}), gathered AS ({_GATHER})
SELECT picked.capped, gathered.* FROM picked LEFT JOIN gathered ON true
"""

# A call under a cap, in one transaction of two statements. The first picks the next call
# agent $4 may take ($3: calls a cap stopped already) and, when caps count calls to its
# number, takes the account's lock on the number, the one the send activity counts texts
# under. The second ($6 the picked lead), whose snapshot comes after that lock, counts the
# caps again and leases, records and gathers as the claim does; it returns nothing when the
# count passed a cap meanwhile, and the claim picks again without that call.
_PASSED = "q.lead_id <> ALL($3::varchar[])"
PICK_SQL = f"""
WITH {pick("q.account_id, q.lead_id, q.phone, q.caps", "$2", "$4", _PASSED)}
SELECT lead_id,
    CASE WHEN caps IS NOT NULL AND phone IS NOT NULL THEN (
        SELECT true
        FROM pg_advisory_xact_lock(hashtextextended('caps|' || account_id || '|' || phone, 0))
    ) END AS locked
FROM picked
"""

CAPPED_SQL = f"""
WITH claimed AS (
    UPDATE call_queue AS q
    SET claimed_by = $3, claimed_until = $4
    WHERE q.account_id = $1 AND q.lead_id = $6 AND NOT {over_cap("$2")}
    RETURNING {_LEASED}
), made AS ({_MADE})
{_GATHER}
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
    row: Any = await fetch_one(engine, CLAIM_SQL, params)  # one statement
    if row is None:
        return None
    if row["capped"]:
        row = await _claim_capped(engine, params)
        if row is None:
            return None
    data = dict(row)
    for field in ("contacts", "recent_notes"):
        if isinstance(data[field], str):
            data[field] = json.loads(data[field])
    return ClaimedCall.model_validate(data)


async def _claim_capped(engine: AsyncEngine, params: tuple[object, ...]) -> Any:
    """The claim of a call under a cap on its number, counted under the account's lock on it."""
    account_id, at, agent = params[:3]
    passed: list[str] = []  # calls a cap stopped since they were picked
    async with engine.begin() as conn:
        while True:
            picked = (await conn.exec_driver_sql(PICK_SQL, (account_id, at, passed, agent))).first()
            if picked is None:
                return None
            found = await conn.exec_driver_sql(CAPPED_SQL, (*params, picked.lead_id))
            row = found.mappings().one_or_none()
            if row is not None:
                return row
            passed.append(picked.lead_id)


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


NEXT_WAITING = text(f"""
SELECT q.lead_id, q.label, q.priority, q.why, l.time_zone, q.claimed_until,
    {listed(":now")} AS listed,
    CASE WHEN {held_elsewhere(":now", ":agent")} THEN q.holder END AS holder,
    CASE WHEN q.claimed_until >= :now THEN q.claimed_by END AS claimed_by,
    CASE WHEN q.claimed_until >= :now THEN greatest(q.available_at, q.claimed_until)
         ELSE q.available_at END AS available_at
FROM call_queue AS q
JOIN leads AS l ON l.account_id = q.account_id AND l.lead_id = q.lead_id
WHERE q.account_id = :account AND (
    q.available_at > :now OR q.claimed_until >= :now
    OR (q.available_at <= :now AND (
        {over_cap(":now")} OR {listed(":now")} OR {held_elsewhere(":now", ":agent")})))
ORDER BY 10, q.priority DESC
LIMIT :limit
""")


async def waiting(
    engine: AsyncEngine,
    account_id: str,
    *,
    agent: str | None = None,
    now: datetime | None = None,
    limit: int = 1,
) -> list[Waiting]:
    """The calls no agent (or `agent`) can take now, soonest first: what an agent told
    "nothing is due" waits for. A claimed call waits for its claim's lease to lapse (or to
    be logged); a due one under a cap on its number, for the cap to allow it; for `agent`,
    one whose lead routing gave another user on duty, for that user."""
    at = now or datetime.now(UTC)
    params = {"account": account_id, "agent": agent, "now": at, "limit": limit}
    async with engine.connect() as conn:
        rows = (await conn.execute(NEXT_WAITING, params)).mappings().all()
    found = []
    for row in rows:
        data = dict(row)
        lease, held, owner = data.pop("claimed_until"), data.pop("listed"), data.pop("holder")
        if data["claimed_by"]:
            data["why"] = f"claimed by {data['claimed_by']} until {lease.isoformat()}"
        elif data["available_at"] <= at and held:
            data["why"] = (
                "a do-not-call list holds the number (no written consent, no live business "
                "relationship), or a list that reaches it is more than 31 days old"
            )
        elif data["available_at"] <= at and owner is not None:
            data["why"] = f"{owner} holds its lead and is on duty"
        elif data["available_at"] <= at:
            data["why"] = "a cap on calls and texts to this number, counting every lead with it"
        found.append(Waiting.model_validate(data))
    return found


DUE_NOW = text(f"""
SELECT q.lead_id, q.label, q.priority, q.available_at, q.notes AS why, l.time_zone
FROM call_queue AS q
JOIN leads AS l ON l.account_id = q.account_id AND l.lead_id = q.lead_id
WHERE q.account_id = :account AND {callable_sql(":now")}
  AND NOT {held_elsewhere(":now", ":agent")}
ORDER BY q.priority DESC, q.available_at
LIMIT :limit
""")


async def due(
    engine: AsyncEngine,
    account_id: str,
    *,
    agent: str | None = None,
    now: datetime | None = None,
    limit: int = 10,
) -> list[Waiting]:
    """The calls due now (that `agent` may take), by priority; `why` says why each is here
    (a new lead, back after a call, a follow-up)."""
    at = now or datetime.now(UTC)
    params = {"account": account_id, "agent": agent, "now": at, "limit": limit}
    async with engine.connect() as conn:
        rows = (await conn.execute(DUE_NOW, params)).mappings().all()
    return [Waiting.model_validate(dict(row)) for row in rows]


# Give the claim back and forget the call it recorded: it was not made.
_RELEASE = """
WITH held AS (
    SELECT claimed_until FROM call_queue
    WHERE account_id = $1 AND lead_id = $2 AND claimed_by = $3
    FOR UPDATE
), released AS (
    UPDATE call_queue AS q SET claimed_by = NULL, claimed_until = NULL,
        available_at = greatest(q.available_at, coalesce($4, q.available_at)),
        why = coalesce($5, q.why)
    FROM held WHERE q.account_id = $1 AND q.lead_id = $2
    RETURNING held.claimed_until
), uncalled AS (
    DELETE FROM calls_made AS m USING released AS r
    WHERE m.account_id = $1 AND m.lead_id = $2 AND m.agent = $3
      AND m.lease_until = r.claimed_until
)
SELECT count(*) FROM released
"""


async def release(
    engine: AsyncEngine,
    account_id: str,
    lead_id: str,
    agent: str,
    *,
    until: datetime | None = None,
    why: str | None = None,
) -> bool:
    """Give a claimed call back to the queue, uncalled (the caps no longer count it), or
    put it off `until` a later time and say `why`; False if this agent does not hold it."""
    async with engine.begin() as conn:
        found = await conn.exec_driver_sql(_RELEASE, (account_id, lead_id, agent, until, why))
    return bool(found.scalar_one())


def entry_upsert(
    lead: LeadRef, call: QueueCall, at: datetime, *, release: bool = False, held: bool = True
) -> Write:
    """Put the lead's next call in the queue, replacing the one it had (a statement for the
    store activity, which runs a decision's writes together). An agent's claim on the row
    stays (a call replaced while they are on the phone), unless `release`: they logged the
    call they claimed, in the same decision. Its holder is the user routing gave the lead
    to, if any (`store.routing` keeps it in step as the lead moves on), unless not `held`:
    the same decision closed the lead's routing."""
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
        "caps": [cap.model_dump(mode="json") for cap in call.caps] or None,
        "do_not_call": call.lists or None,
        "exemption": call.exemption,
        "reassigned_since": call.reassigned_since,
    }
    if release:
        values |= {"claimed_by": None, "claimed_until": None}
    row = {"account_id": lead.account_id, "lead_id": lead.lead_id, **values}
    return rows_insert(
        CallQueueEntry,
        [row],
        conflict=("account_id", "lead_id"),
        update=tuple(values),
        computed=(("holder", holder_sql() if held else "CAST(NULL AS varchar)"),),
    )


def unhold(lead: LeadRef) -> Write:
    """The lead's queued call is no longer held for a user: its routing closed."""
    return Write(
        f"UPDATE {CallQueueEntry.__tablename__} SET holder = NULL "
        "WHERE account_id = $1 AND lead_id = $2",
        (lead.account_id, lead.lead_id),
    )


def entry_delete(lead: LeadRef) -> Write:
    return Write(
        f"DELETE FROM {CallQueueEntry.__tablename__} WHERE account_id = $1 AND lead_id = $2",
        (lead.account_id, lead.lead_id),
    )
