"""Consent as a record, and the business relationship's dates, on a lead.

A consent is kept with what shows it was given (the form and the address it came from, a
certificate, a recorded call, the words agreed to and the seller they name) in
`consent_records`, never overwritten: a revocation ends it beside it. The lead is told
before the record commits, or nothing is kept. The relationship's dates (an inquiry, the
last transaction) decide, with written consent, whether a number on a do-not-call list may
be solicited (`leadflow.engine.consent`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Self

from fastapi import APIRouter, HTTPException, status
from pydantic import Field, model_validator

from leadflow.api.deps import Authenticated, Book, Database, Leads, known
from leadflow.api.errors import error_responses
from leadflow.api.intake import ConsentIn, ConsentOut, ConsentProblem, Moment, keep_consent
from leadflow.api.routes.leads import LeadId
from leadflow.api.schemas import Input
from leadflow.engine.events import RelationshipDates
from leadflow.store import consents

router = APIRouter(
    prefix="/v1/leads", tags=["leads"], responses=error_responses(400, 401, 404, 413, 422, 503)
)


class RelationshipIn(Input):
    """The established business relationship's dates (at least one)."""

    inquired_at: Moment | None = Field(
        None, description="the lead's inquiry or application (ISO 8601 with its offset)"
    )
    transacted_at: Moment | None = Field(
        None, description="the lead's last purchase or transaction with the business"
    )

    @model_validator(mode="after")
    def _dates(self) -> Self:
        given = [d for d in (self.inquired_at, self.transacted_at) if d is not None]
        if not given:
            raise ValueError("give inquired_at, transacted_at or both")
        if any(d > datetime.now(UTC) for d in given):
            raise ValueError("a relationship's date is not ahead of now")
        return self


@router.post("/{lead_id}/consents", status_code=status.HTTP_202_ACCEPTED)
async def record_consent(
    lead_id: LeadId,
    body: ConsentIn,
    caller: Authenticated,
    client: Leads,
    book: Book,
    database: Database,
) -> dict[str, str]:
    """Record a party's consent with its evidence; the lead weighs it at once. An unknown
    lead (404), party, or a party without the phone or email it covers (422) keeps nothing."""
    known([body.party], book.parties, "party")
    try:
        found = await keep_consent(database, client, caller.lead(lead_id), body, caller.actor)
    except ConsentProblem as exc:
        detail = f"{exc} with PUT /v1/leads/{lead_id}/parties"
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail) from None
    return {"status": "accepted", "id": found}


@router.get("/{lead_id}/consents")
async def list_consents(
    lead_id: LeadId, caller: Authenticated, client: Leads, database: Database
) -> list[ConsentOut]:
    """The lead's consents with their evidence, oldest first; ended ones say when and why."""
    await client.describe(caller.lead(lead_id))  # 404 for a lead the account does not have
    async with database.connect() as conn:
        rows = await consents.of_lead(conn, caller.account_id, lead_id)
    return [
        ConsentOut(
            id=r.id,
            party=r.party,
            channels=list(r.channels),
            scope=r.scope,
            means=r.means,
            written=r.means in ("web_form", "certificate", "signature"),
            given_at=r.given_at,
            form_url=r.form_url,
            ip=r.ip,
            certificate=r.certificate,
            disclosure=r.disclosure,
            seller=r.seller,
            recorded_by=r.recorded_by,
            ended_at=r.ended_at,
            ended_why=r.ended_why,
        )
        for r in rows
    ]


@router.put("/{lead_id}/relationship", status_code=status.HTTP_202_ACCEPTED)
async def set_relationship(
    lead_id: LeadId, body: RelationshipIn, caller: Authenticated, client: Leads
) -> dict[str, str]:
    """The lead's inquiry and last transaction: an established business relationship lets
    a solicitation reach a number on a do-not-call list for 3 months after an inquiry and
    18 after a transaction (6 and 18 in Canada), until a do-not-call request."""
    lead = caller.lead(lead_id)
    await client.describe(lead)  # 404 for a lead the account does not have
    event = RelationshipDates(inquired_at=body.inquired_at, transacted_at=body.transacted_at)
    await client.set_relationship(lead, event)
    return {"status": "accepted"}
