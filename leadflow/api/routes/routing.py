"""A lead's routing as the API reads it: each time it asked who takes it, the rule that
decided, the user given it (none: it waited) and why."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from leadflow.api.deps import Authenticated, Database, Leads
from leadflow.api.errors import error_responses
from leadflow.api.routes.leads import LeadId
from leadflow.store import routing

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


@router.get("/{lead_id}/routing")
async def lead_routing(
    lead_id: LeadId, caller: Authenticated, client: Leads, database: Database
) -> list[RoutingOut]:
    """The lead's routings, first to last (none: it came assigned, or its playbook does
    not route)."""
    await client.describe(caller.lead(lead_id))  # 404 for a lead the account does not have
    rows = await routing.history(database, caller.account_id, lead_id)
    return [RoutingOut.model_validate(row) for row in rows]
