"""The routing activity: who takes a new lead, decided against the account's team under its
lock (`leadflow.store.routing.assign`), once per lead and attempt. A retried activity, or a
worker that died after the commit, reads the answer on record: nothing is given twice.

The time it decides at is the workflow's (`RouteRequest.at`), so a lead decides by the
moment it asked, whatever the worker's clock says when a retry runs.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

from leadflow.activities.payloads import RouteRequest, RouteResult
from leadflow.engine.routing import Facts, Routed, first_rule
from leadflow.engine.state import Member
from leadflow.store import routing as store
from leadflow.store.access_tables import User


def result(request: RouteRequest, routed: Routed, member: Member | None) -> RouteResult:
    rule = request.routing.rule(routed.rule) if routed.rule else None
    designation = (rule or first_rule(request.routing, Facts.of(request.ask))).designation
    return RouteResult(
        rule=routed.rule,
        designation=designation,
        agent=member,
        why=routed.why,
        offered=list(routed.offered),
        until=routed.until,
        work_by=routed.work_by,
        notices=list(routed.notices),
    )


async def member(engine: AsyncEngine, account_id: str, user_id: str) -> Member:
    """The user as a lead's designation holds them (what a touch from them needs)."""
    query = select(User.id, User.name, User.phone, User.email).where(
        User.account_id == account_id, User.id == user_id
    )
    async with engine.connect() as conn:
        row = (await conn.execute(query)).one_or_none()
    if row is None:  # the owner named by the playbook, not (yet) a user
        return Member(id=user_id, name=user_id)
    return Member(id=user_id, name=row.name, phone=row.phone, email=row.email)


async def route_lead(engine: AsyncEngine, request: RouteRequest) -> RouteResult:
    lead = request.lead
    routed = await store.assign(
        engine, lead.account_id, lead.lead_id, request.ask, request.routing, request.at
    )
    given = None if routed.agent is None else await member(engine, lead.account_id, routed.agent)
    return result(request, routed, given)


class RoutingActivities:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @activity.defn(name="route_lead")
    async def route_lead(self, request: RouteRequest) -> RouteResult:
        return await route_lead(self._engine, request)
