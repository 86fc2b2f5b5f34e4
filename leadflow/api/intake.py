"""A new lead as a backend service sends it, and a consent with its evidence: with the lead
(`PUT /v1/leads/{id}`'s `consents`, as a web form sends them) or on its own endpoint
(`POST /v1/leads/{id}/consents`), checked at the door."""

from __future__ import annotations

import hashlib
import ipaddress
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field, model_validator
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.api.schemas import Day, Input, MemberIn, PartyIn, Stated
from leadflow.client import LeadflowClient
from leadflow.engine.refs import LeadRef
from leadflow.engine.state import ConsentHeld, ConsentMeans, Member, Party
from leadflow.models import Channel, Name
from leadflow.playbook.schema import Playbook
from leadflow.store import consents, playbooks
from leadflow.workflows.messages import EnsureLead, LeadProfile, LeadSnapshot


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

    def kind(self) -> str:
        return "phone" if any(c != "email" for c in self.channels) else "email"

    def address(self, party: Party) -> str | None:
        """The party's phone or email the consent covers."""
        return party.phone if self.kind() == "phone" else party.email

    def kept(
        self, account_id: str, lead_id: str, address: str, actor: str
    ) -> tuple[ConsentHeld, dict[str, Any]]:
        """The consent as the lead weighs it, and its row in `consent_records`. Its id is its
        evidence's digest: the same consent sent again (a retried request) is kept once."""
        channels = sorted(set(self.channels))
        evidence = [account_id, lead_id, self.party, *channels, self.scope, self.means]
        evidence += [self.given_at.isoformat(), self.certificate or "", self.form_url or ""]
        held = ConsentHeld(
            id=hashlib.sha256("\x1f".join(evidence).encode()).hexdigest()[:32],
            party=self.party,
            channels=channels,
            scope=self.scope,
            given_at=self.given_at,
            means=self.means,
            seller=self.seller,
        )
        row = self.model_dump(exclude={"actor", "channels"}) | {
            "id": held.id,
            "account_id": account_id,
            "lead_id": lead_id,
            "address": address,
            "channels": channels,
            "recorded_by": f"{self.actor} with {actor}"[:200],
        }
        return held, row

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


def _checked_at_door(model: type[BaseModel]) -> BeforeValidator:
    """Read a contact as the API's own input model does, with its checks and messages."""
    return BeforeValidator(
        lambda value: model.model_validate(value).model_dump() if isinstance(value, dict) else value
    )


class LeadIn(LeadProfile):
    """A lead as a backend service sends it: its profile, with every contact checked at the
    door as on the other endpoints. Anything left out comes from the playbook."""

    parties: dict[Name, Annotated[Party, _checked_at_door(PartyIn)]] = {}
    designations: dict[Name, Annotated[Member, _checked_at_door(MemberIn)]] = {}
    key_dates: dict[Name, Day] = {}
    horizon: Day | None = None
    consents: list[ConsentIn] = Field(
        default=[],
        max_length=20,
        description="consents the lead arrives with (a web form's, with its certificate): "
        "kept with their evidence and weighed from the lead's first touch",
    )

    @model_validator(mode="after")
    def _consented(self) -> Self:
        for i, given in enumerate(self.consents):
            party = self.parties.get(given.party)
            if party is None or given.address(party) is None:
                raise ValueError(
                    f"consents[{i}]: the lead has no {given.party} {given.kind()} for consent "
                    f"to {', '.join(given.channels)}: give it in parties"
                )
        return self

    def held(
        self, account_id: str, lead_id: str, actor: str
    ) -> list[tuple[ConsentHeld, dict[str, Any]]]:
        """Each consent as the lead weighs it and as `consent_records` keeps it."""
        found = []
        for given in self.consents:
            address = given.address(self.parties[given.party])
            assert address is not None  # checked at the door
            found.append(given.kept(account_id, lead_id, address, actor))
        return found


async def keep_consent(
    database: AsyncEngine, leads: LeadflowClient, lead: LeadRef, body: ConsentIn, actor: str
) -> str:
    """Keep a consent with its evidence and tell the lead before the record commits, or keep
    nothing; its id. `ConsentProblem` when the lead lacks the phone or email it covers."""
    party = (await leads.describe(lead)).parties.get(body.party)
    address = None if party is None else body.address(party)
    if address is None:
        raise ConsentProblem(
            f"lead {lead.lead_id!r} has no {body.party} {body.kind()} for consent to "
            f"{', '.join(body.channels)}; set it first"
        )
    held, row = body.kept(lead.account_id, lead.lead_id, address, actor)
    async with database.begin() as conn:
        await consents.record(conn, **row)
        await leads.record_consent(lead, held)
    return held.id


class ConsentProblem(ValueError):
    """A consent the lead cannot hold: no phone or email of the party for it."""


async def start_lead(
    database: AsyncEngine,
    leads: LeadflowClient,
    book: Playbook,
    lead: LeadRef,
    actor: str,
    body: LeadIn,
    *,
    bulk: bool = False,
) -> LeadSnapshot:
    """Start the lead on the account's playbook, with the consents it arrives with kept
    before they commit (a lead that was there is told of them after), or answer where it
    stands. `bulk`: one of many (an import), behind live leads in Temporal's queues."""
    facts = body.model_dump(exclude_unset=True, exclude={"consents"})
    facts["playbook"] = book.name
    given = body.held(lead.account_id, lead.lead_id, actor)
    request = EnsureLead(lead=lead, consents=[held for held, _ in given], **facts)
    await playbooks.keep(database, book)  # where every worker can load it by digest
    async with database.begin() as conn:  # the lead holds its consents before they commit
        for _, row in given:
            await consents.record(conn, **row)
        snapshot = await leads.ensure_lead(request, playbook=book, bulk=bulk)
        for held, _ in given if not snapshot.created else ():  # a lead that was there
            await leads.record_consent(lead, held)
    return snapshot
