"""The call queue for agents: claim the next due call, or give a claim back."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response, status

from leadflow.api.deps import Authenticated, Database
from leadflow.api.errors import error_responses
from leadflow.api.schemas import AgentIn
from leadflow.engine.refs import Identifier
from leadflow.store.queue import ClaimedCall, claim_next, release

router = APIRouter(
    prefix="/v1/queue",
    tags=["queue"],
    responses=error_responses(
        400, 401, 409, 413, 422, 503, e409="the agent holds no claim on the lead"
    ),
)


@router.post(
    "/next", response_model=ClaimedCall, responses={204: {"description": "no call is due"}}
)
async def next_call(
    body: AgentIn, caller: Authenticated, database: Database
) -> ClaimedCall | Response:
    """Claim the next due call: highest priority first, then the longest waiting. The claim
    is a lease; log the call (POST /v1/leads/{id}/calls) or release it."""
    call = await claim_next(database, caller.account_id, body.agent)
    if call is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return call


@router.post("/{lead_id}/release", status_code=status.HTTP_204_NO_CONTENT)
async def release_call(
    lead_id: Identifier, body: AgentIn, caller: Authenticated, database: Database
) -> Response:
    """Give a claimed call back to the queue without logging it."""
    if not await release(database, caller.account_id, lead_id, body.agent):
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"{body.agent!r} holds no claim on lead {lead_id!r}"
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
