"""The call queue for agents: claim the next due call, or give a claim back."""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Response, status
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.activities import reassigned
from leadflow.api.deps import Authenticated, Database, Leads, Metrics, Rnd
from leadflow.api.errors import error_responses
from leadflow.api.schemas import AgentIn
from leadflow.client import LeadflowClient, LeadNotFound
from leadflow.engine.refs import Identifier, LeadRef
from leadflow.providers.reassigned import ReassignedNumbers, RndUnavailable
from leadflow.store.queue import ClaimedCall, claim_next, release, waiting

router = APIRouter(
    prefix="/v1/queue",
    tags=["queue"],
    responses=error_responses(
        400, 401, 409, 413, 422, 503, e409="the agent holds no claim on the lead"
    ),
)


log = logging.getLogger(__name__)
REASSIGNED_TRIES = 5  # calls passed over in one claim for numbers reported reassigned
UNCHECKED_WAIT = timedelta(minutes=15)  # a call that must ask the database first, unasked
NEXT_AT = "Leadflow-Next-Call-At"
NEXT_WHY = "Leadflow-Next-Call"
# What a header value may hold as it is; anything else is percent-encoded (`%` too, so the
# value decodes back exactly).
_PRINTABLE_ASCII = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")
NOTHING_DUE = {
    "description": "no call is due now; the headers say when the next one is and why it waits",
    "headers": {
        NEXT_AT: {
            "description": "when the soonest waiting call becomes due (ISO 8601); absent when "
            "the queue is empty",
            "schema": {"type": "string", "format": "date-time"},
        },
        NEXT_WHY: {
            "description": "that call's label and lead and why it waits, e.g. `Redial for "
            "L-9: held after the last call (Contact Attempted) until ...; then outside "
            "calling hours (window 08:00-21:00 America/Chicago)`. A header holds ASCII only: "
            "any other character (a name in another script, a curly quote) and `%` come "
            "percent-encoded as UTF-8, as in a URL",
            "schema": {"type": "string"},
        },
    },
}


@router.post("/next", response_model=ClaimedCall, responses={204: NOTHING_DUE})
async def next_call(
    body: AgentIn,
    caller: Authenticated,
    database: Database,
    leads: Leads,
    rnd: Rnd,
    metrics: Metrics,
) -> ClaimedCall | Response:
    """Claim the next due call: highest priority first, then the longest waiting. The claim
    is a lease; log the call (POST /v1/leads/{id}/calls) or release it. When nothing is due,
    204 with the soonest waiting call in its headers."""
    with metrics.claims.labels(caller.account_id).time():
        call = await _claim(database, leads, rnd, caller.account_id, body.agent)
    if call is not None:
        return call
    headers = {}
    for soonest in await waiting(database, caller.account_id, agent=body.agent):
        headers[NEXT_AT] = soonest.available_at.isoformat()
        why = f"{soonest.label} for {soonest.lead_id}: {soonest.why or 'queued'}"
        headers[NEXT_WHY] = quote(why, safe=_PRINTABLE_ASCII)
    return Response(status_code=status.HTTP_204_NO_CONTENT, headers=headers)


async def _claim(
    database: AsyncEngine,
    leads: LeadflowClient,
    rnd: ReassignedNumbers | None,
    account_id: str,
    agent: str,
) -> ClaimedCall | None:
    """The next due call whose number was not reported reassigned: one that was is given
    back (the claim passes over it from now on) and its lead told, and the next is taken."""
    for _ in range(REASSIGNED_TRIES):
        call = await claim_next(database, account_id, agent)
        if call is None:
            return None
        try:
            found = await reassigned.at_claim(database, rnd, account_id, call.lead_id)
        except RndUnavailable as exc:
            log.warning("claim for %s: handed out unchecked: %s", call.lead_id, exc)
            return call
        except reassigned.Unchecked as exc:  # the law says ask first: the call waits
            until = datetime.now(UTC) + UNCHECKED_WAIT
            await release(database, account_id, call.lead_id, agent, until=until, why=str(exc))
            log.warning("claim for %s: put off: %s", call.lead_id, exc)
            continue
        if found is None:
            return call
        await release(database, account_id, call.lead_id, agent)
        phone, why = found
        with contextlib.suppress(LeadNotFound):  # a lead whose workflow has ended
            lead = LeadRef(account_id=account_id, lead_id=call.lead_id)
            await leads.number_reassigned(lead, phone, why)
    return None


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
