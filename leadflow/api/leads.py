"""Lead endpoints: ensure, describe, change milestone/status.

Client errors (LeadNotFound, ChangeRejected, LeadUnavailable) become HTTP answers in
`leadflow.api.errors`, so the endpoints read as the business operation alone.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from leadflow.models.engine import EngineState
from leadflow.models.lead import (
    EnsureLead,
    Identifier,
    LeadProfile,
    LeadRef,
    LeadSnapshot,
    MilestoneChange,
)
from leadflow.starter.client import LeadflowClient

router = APIRouter(prefix="/v1/accounts/{account_id}/leads", tags=["leads"])


def leads(request: Request) -> LeadflowClient:
    client: LeadflowClient = request.app.state.services.leads
    return client


Leads = Annotated[LeadflowClient, Depends(leads)]


@router.put(
    "/{lead_id}",
    response_model=LeadSnapshot,
    responses={201: {"model": LeadSnapshot, "description": "the lead was created"}},
)
async def ensure_lead(
    account_id: Identifier,
    lead_id: Identifier,
    body: LeadProfile,
    client: Leads,
    response: Response,
) -> LeadSnapshot:
    """Create the lead if it does not exist (201); either way return where it stands (200)."""
    request = EnsureLead(
        lead=LeadRef(account_id=account_id, lead_id=lead_id),
        **body.model_dump(exclude_unset=True),
    )
    snapshot = await client.ensure_lead(request)
    response.status_code = status.HTTP_201_CREATED if snapshot.created else status.HTTP_200_OK
    return snapshot


@router.get("/{lead_id}", response_model=EngineState)
async def get_lead(account_id: Identifier, lead_id: Identifier, client: Leads) -> EngineState:
    return await client.describe(LeadRef(account_id=account_id, lead_id=lead_id))


@router.post("/{lead_id}/milestone", response_model=LeadSnapshot)
async def change_milestone(
    account_id: Identifier, lead_id: Identifier, change: MilestoneChange, client: Leads
) -> LeadSnapshot:
    """Apply a history-note update; an invalid one is refused with the reason (422)."""
    return await client.change_milestone(LeadRef(account_id=account_id, lead_id=lead_id), change)
