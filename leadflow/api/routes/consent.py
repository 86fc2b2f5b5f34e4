"""Consent as a record, and the business relationship's dates, on a lead.

A consent is kept with what shows it was given (the form and the address it came from, a
certificate, a recorded call, the words agreed to and the seller they name) in
`consent_records`, never overwritten: a revocation ends it beside it. The lead is told
before the record commits, or nothing is kept. The relationship's dates (an inquiry, the
last transaction) decide, with written consent, whether a number on a do-not-call list may
be solicited (`leadflow.engine.consent`).
"""

from __future__ import annotations

import ipaddress
import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal, Self

from fastapi import APIRouter, HTTPException, status
from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field, model_validator

from leadflow.api.deps import Authenticated, Book, Database, Leads, known
from leadflow.api.errors import error_responses
from leadflow.api.routes.leads import LeadId
from leadflow.api.schemas import Input, Stated
from leadflow.engine.events import RelationshipDates
from leadflow.engine.state import ConsentHeld, ConsentMeans
from leadflow.models import Channel
from leadflow.store import consents

router = APIRouter(
    prefix="/v1/leads", tags=["leads"], responses=error_responses(400, 401, 404, 413, 422, 503)
)


def _as_text(value: object) -> object:
    """A time arrives as ISO 8601 text, never as a number read as seconds since 1970."""
    if not isinstance(value, str | datetime):
        raise ValueError("a time is ISO 8601 text with its offset: 2026-12-01T10:00:00-05:00")
    return value


Moment = Annotated[AwareDatetime, BeforeValidator(_as_text)]
Past = Annotated[Moment, Field(description="when (ISO 8601 with its offset); not ahead")]


class ConsentIn(Input):
    """A party's consent and what shows it was given."""

    party: Annotated[Stated, Field(max_length=100, description="the party's role on the lead")]
    channels: list[Channel] = Field(min_length=1, description="what they agreed to be sent")
    scope: Literal["marketing", "informational"] = Field(
        "marketing", description="marketing covers sales follow-up; informational does not"
    )
    given_at: Past
    means: ConsentMeans = Field(
        description="how it was given: web_form, certificate, signature (written, E-SIGN), "
        "recorded_call, reply, other (not in writing)"
    )
    form_url: str | None = Field(None, max_length=2000, description="the form's address")
    ip: str | None = Field(None, max_length=45, description="the address the form came from")
    certificate: str | None = Field(
        None, max_length=200, description="a TrustedForm or Jornaya certificate id"
    )
    disclosure: Annotated[
        Stated, Field(max_length=5000, description="the words agreed to, or their version")
    ]
    seller: Annotated[Stated, Field(max_length=200, description="whom the consent names")]
    actor: Annotated[Stated, Field(max_length=200, description="who records it")]

    @model_validator(mode="after")
    def _evidence(self) -> Self:
        if self.given_at > datetime.now(UTC):
            raise ValueError("given_at is ahead of now: consent is recorded once it was given")
        if self.means == "web_form" and not self.form_url:
            raise ValueError("a web_form consent names the form: give form_url")
        if self.means == "certificate" and not self.certificate:
            raise ValueError("a certificate consent names it: give certificate")
        if self.ip is not None:
            try:
                ipaddress.ip_address(self.ip)
            except ValueError:
                raise ValueError(f"ip {self.ip!r} is not an IPv4 or IPv6 address") from None
        return self


class ConsentOut(BaseModel):
    """A consent on record, and its end if a revocation ended it."""

    id: str = Field(description="the record's id")
    party: str = Field(description="the party's role on the lead")
    channels: list[str] = Field(description="what they agreed to be sent")
    scope: str = Field(description="marketing or informational")
    means: str = Field(description="how it was given")
    written: bool = Field(description="whether it is in writing (what a solicitation needs)")
    given_at: datetime = Field(description="when it was given")
    form_url: str | None = Field(description="the form's address")
    ip: str | None = Field(description="the address the form came from")
    certificate: str | None = Field(description="a TrustedForm or Jornaya certificate id")
    disclosure: str = Field(description="the words agreed to, or their version")
    seller: str = Field(description="whom the consent names")
    recorded_by: str = Field(description="who recorded it, and with which key")
    ended_at: datetime | None = Field(description="when a revocation ended it")
    ended_why: str | None = Field(description="the revocation that ended it")


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
    lead = caller.lead(lead_id)
    party = (await client.describe(lead)).parties.get(body.party)
    wants_phone = any(c != "email" for c in body.channels)
    address = None if party is None else party.phone if wants_phone else party.email
    if address is None:
        kind = "phone" if wants_phone else "email"
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"lead {lead_id!r} has no {body.party} {kind} for consent to "
            f"{', '.join(body.channels)}; set it with PUT /v1/leads/{lead_id}/parties first",
        )
    held = ConsentHeld(
        id=uuid.uuid4().hex,
        party=body.party,
        channels=sorted(set(body.channels)),
        scope=body.scope,
        given_at=body.given_at,
        means=body.means,
        seller=body.seller,
    )
    values = body.model_dump(exclude={"actor", "channels"}) | {
        "id": held.id,
        "account_id": caller.account_id,
        "lead_id": lead_id,
        "address": address,
        "channels": held.channels,
        "recorded_by": f"{body.actor} with {caller.actor}"[:200],
    }
    async with database.begin() as conn:  # the lead is told before this commits, or nothing is
        await consents.record(conn, **values)
        await client.record_consent(lead, held)
    return {"status": "accepted", "id": held.id}


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
