"""Lead endpoints: ensure, describe, change milestone/status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status

from leadflow.models.lead import (
    EnsureLead,
    Identifier,
    LeadProfile,
    LeadRef,
    LeadSnapshot,
    LeadState,
    MilestoneChange,
)
from leadflow.starter.client import ChangeRejected, LeadflowClient, LeadNotFound

router = APIRouter(prefix="/v1/accounts/{account_id}/leads", tags=["leads"])


def leads(request: Request) -> LeadflowClient:
    client: LeadflowClient = request.app.state.services.leads
    return client


Leads = Annotated[LeadflowClient, Depends(leads)]


def _ref(account_id: str, lead_id: str) -> LeadRef:
    return LeadRef(account_id=account_id, lead_id=lead_id)


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
    """Create the lead if it does not exist; either way return where it stands."""
    request = EnsureLead(lead=_ref(account_id, lead_id), **body.model_dump(exclude_unset=True))
    try:
        snapshot = await client.ensure_lead(request)
    except ChangeRejected as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    response.status_code = status.HTTP_201_CREATED if snapshot.created else status.HTTP_200_OK
    return snapshot


@router.get("/{lead_id}", response_model=LeadState)
async def get_lead(account_id: Identifier, lead_id: Identifier, client: Leads) -> LeadState:
    try:
        return await client.describe(_ref(account_id, lead_id))
    except LeadNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None


@router.post("/{lead_id}/milestone", response_model=LeadSnapshot)
async def change_milestone(
    account_id: Identifier, lead_id: Identifier, change: MilestoneChange, client: Leads
) -> LeadSnapshot:
    """Apply a history-note update; an invalid one is refused with the reason (422)."""
    try:
        return await client.change_milestone(_ref(account_id, lead_id), change)
    except LeadNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except ChangeRejected as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
