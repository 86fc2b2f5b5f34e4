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
    )


async def route_lead(engine: AsyncEngine, request: RouteRequest) -> RouteResult:
    lead = request.lead
    routed = await store.assign(
        engine,
        lead.account_id,
        lead.lead_id,
        request.ask.attempt,
        request.routing,
        Facts.of(request.ask),
        request.at,
    )
    member = None
    if routed.agent is not None:
        query = select(User.id, User.name, User.phone, User.email).where(
            User.account_id == lead.account_id, User.id == routed.agent
        )
        async with engine.connect() as conn:
            row = (await conn.execute(query)).one_or_none()
        name = row.name if row is not None else routed.agent
        member = Member(
            id=routed.agent,
            name=name,
            phone=row.phone if row is not None else None,
            email=row.email if row is not None else None,
        )
    return result(request, routed, member)


class RoutingActivities:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @activity.defn(name="route_lead")
    async def route_lead(self, request: RouteRequest) -> RouteResult:
        return await route_lead(self._engine, request)
