"""Routing against the account's team, once per lead and attempt, one writer at a time.

`assign` runs in one transaction under the account's advisory lock, so the rotation, the
day's counts and the open leads it reads are the ones it writes after: a thousand leads
arriving together are given in a line, never two to one turn, never past a cap. The
assignment's row is its key: the same lead and attempt asked again (a retried activity, a
worker that died after the commit) reads the answer it got, and nothing moves twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import RowMapping, and_, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from leadflow.engine.commands import FirstTouch as FirstTouchCommand
from leadflow.engine.commands import RouteLead
from leadflow.engine.refs import LeadRef
from leadflow.engine.routing import (
    Agent,
    Facts,
    Load,
    Rotation,
    Routed,
    route,
    work_by,
    worked_seconds,
)
from leadflow.playbook.routing import Routing
from leadflow.playbook.schema import Window
from leadflow.store import notices
from leadflow.store.access_tables import User
from leadflow.store.db import Write, rows_insert
from leadflow.store.routing_tables import (
    Availability,
    FirstTouch,
    RoutingAssignment,
    RoutingRotation,
)
from leadflow.store.tables import CallQueueEntry, Lead

DAY_REACH = timedelta(hours=38)  # the longest a user's day may have begun before now (UTC-14..+12)
LOCK = text("SELECT pg_advisory_xact_lock(hashtext('routing:' || :account))")


async def assign(
    engine: AsyncEngine,
    account_id: str,
    lead_id: str,
    ask: RouteLead,
    routing: Routing,
    now: datetime,
) -> Routed:
    """Where the lead goes on this attempt: the answer on record, else decided now against
    the team as it is, and kept with the rule's new rotation. The lead's earlier routings
    close (the lead moves on); an offer whose window ran out but that a user took in the
    meantime is the answer (the taker, heard late)."""
    async with engine.begin() as conn:
        kept = await _kept(conn, account_id, lead_id, ask.attempt)
        if kept is not None:
            return kept
        agents = await team(conn, account_id)  # as it is when the lead asks
        await conn.execute(LOCK, {"account": account_id})
        kept = await _kept(conn, account_id, lead_id, ask.attempt)  # decided while we waited
        if kept is not None:
            return kept
        earlier = [] if ask.attempt == 1 else await _open(conn, account_id, lead_id)
        taken = [r for r in earlier if r["offered"] is not None and r["agent"] is not None]
        facts = Facts.of(ask)
        if ask.reason == "claim_window" and taken:
            row = taken[-1]
            routed = Routed(
                row["rule"], f"{row['rule']}: {row['agent']} took it first", row["agent"]
            )
            routed = replace(routed, work_by=_work_by(row["terms"], agents, routed.agent, now))
        else:
            held = await loads(conn, account_id, agents, now)
            rotations = await _rotations(conn, account_id)
            routed = route(routing, facts, agents, now, held, rotations, ask.tried)
            rule = routing.rule(routed.rule) if routed.rule else None
            if rule is not None and rule.work_within is not None and routed.agent is not None:
                by = work_by(find(agents, routed.agent), now, rule.work_within)
                routed = replace(routed, work_by=by)
        if earlier:
            await conn.execute(
                update(RoutingAssignment)
                .where(*of_lead(account_id, lead_id), RoutingAssignment.closed_at.is_(None))
                .values(closed_at=now)
            )
        if routed.rotation is not None and routed.rule is not None:
            values = {"last": routed.rotation.last, "current": dict(routed.rotation.current)}
            await conn.execute(
                insert(RoutingRotation)
                .values(account_id=account_id, rule=routed.rule, **values)
                .on_conflict_do_update(
                    index_elements=[RoutingRotation.account_id, RoutingRotation.rule],
                    set_={**values, "updated_at": func.now()},
                )
            )
        if routing.notify and not (ask.reason == "claim_window" and taken):  # none: took it
            lead = LeadRef(account_id=account_id, lead_id=lead_id)
            found = await notices.write(
                conn, lead, ask.attempt, routed, routing.notify, agents, now
            )
            routed = replace(routed, notices=tuple(found))
        await conn.execute(
            insert(RoutingAssignment).values(
                account_id=account_id,
                lead_id=lead_id,
                attempt=ask.attempt,
                rule=routed.rule,
                agent=routed.agent,
                why=routed.why,
                at=now,
                offered=list(routed.offered) if routed.offered else None,
                expires_at=routed.until,
                taken_at=taken[-1]["taken_at"] if routed.agent and taken else None,
                terms=_terms(routing, routed.rule, facts),
                decided_at=func.clock_timestamp(),
                notices=list(routed.notices) or None,
            )
        )
        await hold(conn, account_id, lead_id, routed.agent)
    return routed


async def hold(conn: AsyncConnection, account_id: str, lead_id: str, user: str | None) -> None:
    """The lead's queued call, if it has one, is now `user`'s (None: anyone's): their claims
    take it first, and no other agent's while they are on duty (`store.callable`). A user
    given the lead is kept on its row too, for the reports (`leads.agent`)."""
    await conn.execute(
        update(CallQueueEntry)
        .where(CallQueueEntry.account_id == account_id, CallQueueEntry.lead_id == lead_id)
        .values(holder=user)
    )
    if user is not None:
        await conn.execute(
            update(Lead)
            .where(Lead.account_id == account_id, Lead.lead_id == lead_id)
            .values(agent=user)
        )


def of_lead(account_id: str, lead_id: str) -> tuple[Any, Any]:
    return (RoutingAssignment.account_id == account_id, RoutingAssignment.lead_id == lead_id)


def find(agents: Sequence[Agent], user_id: str | None) -> Agent | None:
    return next((a for a in agents if a.id == user_id), None)


def _terms(routing: Routing, name: str | None, facts: Facts) -> dict[str, Any] | None:
    if name is None:
        return None
    rule = routing.rule(name)
    within = rule.work_within
    return {
        "designation": rule.designation,
        "caps": rule.caps.model_dump(),
        "region": facts.region,
        "work_within": None if within is None else int(within.total_seconds()),
    }


def _work_by(
    terms: dict[str, Any] | None, agents: Sequence[Agent], user: str | None, now: datetime
) -> datetime | None:
    within = (terms or {}).get("work_within")
    return work_by(find(agents, user), now, timedelta(seconds=within)) if within else None


async def _open(conn: AsyncConnection, account_id: str, lead_id: str) -> list[RowMapping]:
    rows = await conn.execute(
        select(RoutingAssignment.__table__)
        .where(*of_lead(account_id, lead_id), RoutingAssignment.closed_at.is_(None))
        .order_by(RoutingAssignment.attempt)
    )
    return list(rows.mappings())


async def team(conn: AsyncConnection, account_id: str, only: str | None = None) -> list[Agent]:
    """The account's users as routing sees them (`only`: that one user, if they are one):
    a user with no availability on record works any hour, any day, anywhere."""
    query = (
        select(User.id, User.designations, Availability.__table__)
        .select_from(User)
        .outerjoin(
            Availability,
            and_(Availability.account_id == User.account_id, Availability.user_id == User.id),
        )
        .where(User.account_id == account_id)
    )
    rows = await conn.execute(query if only is None else query.where(User.id == only))
    found = []
    for row in rows.mappings():
        start, end = row["hours_start"], row["hours_end"]
        found.append(
            Agent(
                id=row["id"],
                designations=frozenset(row["designations"] or []),
                time_zone=row["time_zone"] or "UTC",
                hours=Window(start=start, end=end) if start and end else None,
                days=frozenset(row["work_days"] if row["work_days"] is not None else range(7)),
                away=bool(row["away"]),
                licensed=None if row["licensed"] is None else frozenset(row["licensed"]),
            )
        )
    return found


async def set_availability(
    engine: AsyncEngine,
    account_id: str,
    user_id: str,
    *,
    time_zone: str,
    hours: tuple[time, time] | None,
    days: Sequence[int],
    away: bool,
    licensed: Sequence[str] | None,
) -> None:
    values = {
        "time_zone": time_zone,
        "hours_start": hours[0] if hours else None,
        "hours_end": hours[1] if hours else None,
        "work_days": sorted(set(days)),
        "away": away,
        "licensed": None if licensed is None else sorted(set(licensed)),
    }
    async with engine.begin() as conn:
        await conn.execute(
            insert(Availability)
            .values(account_id=account_id, user_id=user_id, **values)
            .on_conflict_do_update(
                index_elements=[Availability.account_id, Availability.user_id],
                set_={**values, "updated_at": func.now()},
            )
        )


def first_touch_insert(
    lead: LeadRef, at: datetime, by: str, seconds: int, business: int | None = None
) -> Write:
    """Speed to lead, kept once (a retried decision writes the same row again, harmlessly);
    `business`: the same in the working hours of the user who took it."""
    row = {**lead.model_dump(include={"account_id", "lead_id"}), "at": at, "by": by}
    return rows_insert(FirstTouch, [{**row, "seconds": seconds, "business_seconds": business}])


async def business_seconds(
    engine: AsyncEngine, lead: LeadRef, touch: FirstTouchCommand
) -> int | None:
    """A first touch's seconds in the working hours of the user who took it (None: not a
    user of the account, or one with no hours on record)."""
    async with engine.connect() as conn:
        found = await team(conn, lead.account_id, only=touch.by)
    came = touch.at - timedelta(seconds=touch.seconds)
    return worked_seconds(found[0] if found else None, came, touch.at)


def close_write(lead: LeadRef, at: datetime) -> Write:
    """The lead's open routings close (a closed status, given to another user by hand);
    the same decision frees its queued call (`queue.unhold`)."""
    return Write(_CLOSE, (at, lead.account_id, lead.lead_id))


_CLOSE = (
    f"UPDATE {RoutingAssignment.__tablename__} SET closed_at = $1 "
    "WHERE account_id = $2 AND lead_id = $3 AND closed_at IS NULL"
)


async def set_away(engine: AsyncEngine, account_id: str, user_id: str, away: bool) -> None:
    """The user's switch: away (no new leads, no offers) or back, the rest kept."""
    async with engine.begin() as conn:
        await conn.execute(
            insert(Availability)
            .values(account_id=account_id, user_id=user_id, time_zone="UTC", away=away)
            .on_conflict_do_update(
                index_elements=[Availability.account_id, Availability.user_id],
                set_={"away": away, "updated_at": func.now()},
            )
        )


async def is_away(engine: AsyncEngine, account_id: str, user_id: str) -> bool:
    query = select(Availability.away).where(
        Availability.account_id == account_id, Availability.user_id == user_id
    )
    async with engine.connect() as conn:
        return bool((await conn.execute(query)).scalar())


async def history(engine: AsyncEngine, account_id: str, lead_id: str) -> list[dict[str, Any]]:
    """The lead's routings as rows (attempt, rule, agent, why, at), first to last."""
    query = (
        select(
            RoutingAssignment.attempt,
            RoutingAssignment.rule,
            RoutingAssignment.agent,
            RoutingAssignment.why,
            RoutingAssignment.at,
            RoutingAssignment.offered,
            RoutingAssignment.expires_at.label("until"),
            RoutingAssignment.taken_at,
            RoutingAssignment.closed_at,
            RoutingAssignment.notices,
        )
        .where(RoutingAssignment.account_id == account_id, RoutingAssignment.lead_id == lead_id)
        .order_by(RoutingAssignment.attempt)
    )
    async with engine.connect() as conn:
        return [dict(row) for row in (await conn.execute(query)).mappings()]


async def assignments(engine: AsyncEngine, account_id: str, lead_id: str) -> list[Routed]:
    """The lead's routings, first to last."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(RoutingAssignment.__table__)
            .where(RoutingAssignment.account_id == account_id, RoutingAssignment.lead_id == lead_id)
            .order_by(RoutingAssignment.attempt)
        )
        return [_routed(row) for row in rows.mappings()]


async def _kept(
    conn: AsyncConnection, account_id: str, lead_id: str, attempt: int
) -> Routed | None:
    row = (
        (
            await conn.execute(
                select(RoutingAssignment.__table__).where(
                    RoutingAssignment.account_id == account_id,
                    RoutingAssignment.lead_id == lead_id,
                    RoutingAssignment.attempt == attempt,
                )
            )
        )
        .mappings()
        .one_or_none()
    )
    return None if row is None else _routed(row)


def _routed(row: RowMapping) -> Routed:
    return Routed(
        rule=row["rule"],
        why=row["why"],
        agent=row["agent"],
        offered=tuple(row["offered"] or ()),
        until=row["expires_at"],
        notices=tuple(row["notices"] or ()),
    )


_LOADS = text("""
SELECT a.agent,
       count(DISTINCT a.lead_id) FILTER (
           WHERE CAST(coalesce(a.taken_at, a.at) AT TIME ZONE coalesce(u.time_zone, 'UTC') AS date)
               = CAST(CAST(:now AS timestamptz) AT TIME ZONE coalesce(u.time_zone, 'UTC') AS date)
       ) AS today,
       count(DISTINCT a.lead_id) FILTER (WHERE a.closed_at IS NULL) AS open
FROM routing_assignments AS a
LEFT JOIN user_availability AS u ON u.account_id = a.account_id AND u.user_id = a.agent
WHERE a.account_id = :account AND a.agent IS NOT NULL
  AND (a.closed_at IS NULL OR a.at > CAST(:since AS timestamptz))
GROUP BY a.agent
""")


async def loads(
    conn: AsyncConnection, account_id: str, agents: list[Agent], now: datetime
) -> dict[str, Load]:
    """What each user holds: leads given since their own midnight, and leads still open,
    counted in PostgreSQL (a row a user, not a row an assignment)."""
    params = {"account": account_id, "now": now, "since": now - DAY_REACH}
    counted = {
        row.agent: Load(today=row.today, open=row.open)
        for row in await conn.execute(_LOADS, params)
    }
    return {a.id: counted.get(a.id, Load()) for a in agents}


async def _rotations(conn: AsyncConnection, account_id: str) -> dict[str, Rotation]:
    rows = await conn.execute(
        select(RoutingRotation.rule, RoutingRotation.last, RoutingRotation.current).where(
            RoutingRotation.account_id == account_id
        )
    )
    return {rule: Rotation(last=last, current=dict(current or {})) for rule, last, current in rows}
