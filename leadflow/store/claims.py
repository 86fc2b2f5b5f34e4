"""Offers: a first-to-claim rule's lead offered to every eligible user for its claim
window, a pond's to its whole group. The first user to accept takes it, under the account's
routing lock (`leadflow.store.routing.LOCK`), so of two users accepting at once exactly one
wins, and a claim after the routing activity closed the offer (its window ran out) is
refused: the lead has moved on."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.engine.routing import Facts, Routed, may_claim, work_by
from leadflow.playbook.routing import Rule
from leadflow.store.routing import LOCK, find, hold, loads, of_lead, team
from leadflow.store.routing_tables import RoutingAssignment


class ClaimRefused(Exception):
    """An offer the user may not take, in words."""


@dataclass(frozen=True)
class Claimed:
    """An offer taken: the attempt it answers, the designation it fills, the routing."""

    attempt: int
    designation: str
    routed: Routed


async def claim(
    engine: AsyncEngine, account_id: str, lead_id: str, user_id: str, now: datetime
) -> Claimed:
    """The user takes the lead's standing offer, if it is theirs to take now: offered to
    them, still open, nobody before them, and they may (on shift, not away, licensed, under
    the rule's caps). Under the account's lock, so of two users accepting at once exactly
    one wins; the same user accepting twice gets the same answer."""
    async with engine.begin() as conn:
        await conn.execute(LOCK, {"account": account_id})
        rows = await conn.execute(
            select(RoutingAssignment.__table__)
            .where(*of_lead(account_id, lead_id))
            .order_by(RoutingAssignment.attempt.desc())
        )
        found = list(rows.mappings())
        row = found[0] if found else None
        ran_out = f"the offer of lead {lead_id} ran out; it has moved on"
        if row is None or row["offered"] is None or row["terms"] is None:
            if any(r["offered"] is not None for r in found):
                raise ClaimRefused(ran_out)
            raise ClaimRefused(f"lead {lead_id} is not offered to anyone")
        terms = row["terms"]
        if row["closed_at"] is not None and row["agent"] is None:
            raise ClaimRefused(ran_out)
        agents = await team(conn, account_id)
        me = find(agents, user_id)
        if me is None:
            raise ClaimRefused(f"no user {user_id!r} in this account")
        rule = Rule(name=row["rule"], designation=terms["designation"], caps=terms["caps"])
        standing = Routed(
            row["rule"],
            row["why"],
            row["agent"],
            offered=tuple(row["offered"]),
            until=row["expires_at"],
        )
        load = (await loads(conn, account_id, [me], now))[user_id]
        facts = Facts(region=terms.get("region"))
        if (refused := may_claim(me, rule, facts, now, load, standing)) is not None:
            raise ClaimRefused(refused)
        within = terms.get("work_within")
        by = work_by(me, now, timedelta(seconds=within)) if within else None
        if row["agent"] == user_id:  # accepted twice: the first answer
            return Claimed(row["attempt"], rule.designation, replace(standing, work_by=by))
        after = int((now - row["at"]).total_seconds())
        how = "from the pond" if row["expires_at"] is None else "first"
        why = f"{rule.name}: {user_id} took it {how}, {after} s after the offer"
        await conn.execute(
            update(RoutingAssignment)
            .where(*of_lead(account_id, lead_id), RoutingAssignment.attempt == row["attempt"])
            .values(agent=user_id, taken_at=now, why=why)
        )
        await hold(conn, account_id, lead_id, user_id)
    return Claimed(row["attempt"], rule.designation, Routed(rule.name, why, user_id, work_by=by))


async def offers(
    engine: AsyncEngine, account_id: str, user_id: str, now: datetime
) -> list[dict[str, Any]]:
    """The offers standing for the user, oldest first: lead, rule, why, until (none: the
    pond)."""
    query = (
        select(
            RoutingAssignment.lead_id,
            RoutingAssignment.rule,
            RoutingAssignment.why,
            RoutingAssignment.at,
            RoutingAssignment.expires_at.label("until"),
        )
        .where(
            RoutingAssignment.account_id == account_id,
            RoutingAssignment.offered.is_not(None),
            RoutingAssignment.agent.is_(None),
            RoutingAssignment.closed_at.is_(None),
            RoutingAssignment.offered.contains([user_id]),
            or_(RoutingAssignment.expires_at.is_(None), RoutingAssignment.expires_at > now),
        )
        .order_by(RoutingAssignment.at)
        .limit(200)
    )
    async with engine.connect() as conn:
        return [dict(row) for row in (await conn.execute(query)).mappings()]


async def held(engine: AsyncEngine, account_id: str, user_id: str) -> list[dict[str, Any]]:
    """The leads the user holds (given or taken, not moved on), newest first."""
    query = (
        select(RoutingAssignment.lead_id, RoutingAssignment.rule, RoutingAssignment.at)
        .where(
            RoutingAssignment.account_id == account_id,
            RoutingAssignment.agent == user_id,
            RoutingAssignment.closed_at.is_(None),
        )
        .order_by(RoutingAssignment.at.desc())
        .limit(200)
    )
    async with engine.connect() as conn:
        return [dict(row) for row in (await conn.execute(query)).mappings()]
