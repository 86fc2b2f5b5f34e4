"""A lead's routing as the API reads and moves it: each time it asked who takes it (the
rule that decided, the user given it or offered it, and why), and a user accepting a
standing offer (first to claim, the pond): the store decides under the account's lock who
was first, then the lead hears it."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.activities.routing import member
from leadflow.api.deps import Authenticated, Database, Leads
from leadflow.api.errors import error_responses
from leadflow.api.routes.leads import LeadId
from leadflow.api.schemas import Input
from leadflow.client import LeadflowClient
from leadflow.engine.events import LeadReleased, LeadRouted
from leadflow.engine.refs import Identifier, LeadRef
from leadflow.store import routing
from leadflow.store.claims import Claimed, ClaimRefused, claim

router = APIRouter(
    prefix="/v1/leads", tags=["leads"], responses=error_responses(400, 401, 404, 413, 422, 503)
)


class RoutingOut(BaseModel):
    """One routing of the lead."""

    attempt: int = Field(description="1 for the first, then each time it asked again")
    rule: str | None = Field(description="the rule that decided; none: past every chain")
    agent: str | None = Field(description="the user given the lead; none: it waited")
    why: str = Field(description="the reason, as the lead's audit says it")
    at: datetime = Field(description="when it was decided")
    offered: list[str] | None = Field(
        None, description="first to claim or the pond: the users it was offered to"
    )
    until: datetime | None = Field(None, description="when the claim window ends or ended")
    taken_at: datetime | None = Field(None, description="when a user accepted the offer")
    closed_at: datetime | None = Field(None, description="when the lead moved on from it")
    notices: list[str] | None = Field(
        None,
        description="the notices it sent users (the routing's notify), as their outbox keys: "
        "<lead's workflow id>:notice:<attempt>:<user>:<channel>",
    )


class AcceptIn(Input):
    """A user accepting the lead's standing offer."""

    user: Identifier = Field(description="the user who takes the lead (from /v1/users)")


class ReleaseIn(Input):
    """A user giving back a lead routing gave them."""

    user: Identifier = Field(description="the user who holds the lead")
    why: str = Field("", max_length=200, description="why, for the lead's audit")


class NotHeld(Exception):
    """The user does not hold the lead: nothing to give back."""


async def give_back(client: LeadflowClient, lead: LeadRef, user_id: str, why: str = "") -> None:
    """The lead goes on along its chain, past the rule that gave it to the user."""
    state = await client.describe(lead)
    if state.routed != "agent" or state.routed_to != user_id:
        raise NotHeld(f"{user_id} does not hold lead {lead.lead_id}")
    await client.routing(lead, LeadReleased(user=user_id, why=why))


async def take_offer(
    database: AsyncEngine, client: LeadflowClient, lead: LeadRef, user_id: str
) -> Claimed:
    """The user takes the offer if it is theirs to take; the lead hears who took it. If the
    lead does not hear it (a lost signal), its claim window's end reads it from the store."""
    taken = await claim(database, lead.account_id, lead.lead_id, user_id, datetime.now(UTC))
    given = taken.routed
    event = LeadRouted(
        attempt=taken.attempt,
        rule=given.rule,
        designation=taken.designation,
        agent=await member(database, lead.account_id, user_id),
        why=given.why,
        work_by=given.work_by,
    )
    await client.routing(lead, event)
    return taken


@router.get("/{lead_id}/routing")
async def lead_routing(
    lead_id: LeadId, caller: Authenticated, client: Leads, database: Database
) -> list[RoutingOut]:
    """The lead's routings, first to last (none: it came assigned, or its playbook does
    not route)."""
    await client.describe(caller.lead(lead_id))  # 404 for a lead the account does not have
    rows = await routing.history(database, caller.account_id, lead_id)
    return [RoutingOut.model_validate(row) for row in rows]


@router.post(
    "/{lead_id}/routing/accept",
    responses=error_responses(409, e409="the offer is not the user's to take now, and why"),
)
async def accept_offer(
    lead_id: LeadId, body: AcceptIn, caller: Authenticated, client: Leads, database: Database
) -> RoutingOut:
    """The user accepts the lead's standing offer: the first to accept takes it; anyone
    after, or after the claim window, or not eligible now (away, off shift, unlicensed,
    capped) is refused with the reason (409)."""
    lead = caller.lead(lead_id)
    await client.describe(lead)  # 404 for a lead the account does not have
    try:
        taken = await take_offer(database, client, lead, body.user)
    except ClaimRefused as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    [row] = [
        r
        for r in await routing.history(database, caller.account_id, lead_id)
        if r["attempt"] == taken.attempt
    ]
    return RoutingOut.model_validate(row)


@router.post(
    "/{lead_id}/routing/release",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(409, e409="the user does not hold the lead"),
)
async def release_lead(
    lead_id: LeadId, body: ReleaseIn, caller: Authenticated, client: Leads
) -> dict[str, str]:
    """The user gives back a lead routing gave them: it goes on along the rule's chain (the
    next rule, the owner, or it waits), and the audit says who gave it back and why."""
    try:
        await give_back(client, caller.lead(lead_id), body.user, body.why)
    except NotHeld as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return {"status": "accepted"}
