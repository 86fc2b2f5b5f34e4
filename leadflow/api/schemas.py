"""What the HTTP API accepts and returns, beyond the shared models: validated at the door."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Generic, Literal, Self, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    EmailStr,
    Field,
    StringConstraints,
    model_validator,
)

from leadflow.api.passwords import MAX_LENGTH, MIN_LENGTH
from leadflow.api.scopes import Role
from leadflow.api.standing import Standing
from leadflow.engine import bounds
from leadflow.engine.commands import Audit
from leadflow.engine.contacts import Phone
from leadflow.engine.preview import Entry
from leadflow.engine.state import Member, Party
from leadflow.models import NUL_REFUSED, MessageChannel, Strict, TimeZone, nul_at
from leadflow.store.leads import Note
from leadflow.workflows.messages import LeadSnapshot

T = TypeVar("T")

# A person's name that shows something (not spaces alone); a date a lead may hold.
PersonName = Annotated[
    str, Field(min_length=1, max_length=200), AfterValidator(lambda v: bounds.name(v, "name"))
]
Day = Annotated[date, AfterValidator(lambda v: bounds.day(v, "date"))]


class Input(Strict):
    """A request body: strict, and refusing text PostgreSQL cannot store."""

    @model_validator(mode="after")
    def _no_nul(self) -> Self:
        where = nul_at(self)
        if where:
            raise ValueError(f"{NUL_REFUSED}: at {where}")
        return self


class PartyIn(Input):
    name: PersonName | None = None
    phone: Phone | None = None
    email: EmailStr | None = None
    time_zone: TimeZone | None = None
    region: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None
    sms_consent: bool = False

    def party(self) -> Party:
        return Party(**self.model_dump())


class MemberIn(Input):
    id: Annotated[str, Field(min_length=1, max_length=128)]
    name: PersonName
    phone: Phone | None = None
    email: EmailStr | None = None
    sms_from: Phone | None = None

    def member(self) -> Member:
        return Member(**self.model_dump())


class KeyDatesIn(Input):
    dates: dict[str, Day | None]


class PartiesIn(Input):
    parties: dict[str, PartyIn | None]


class DesignationsIn(Input):
    """Each designation gets a member inline, a user id from /v1/users, or null to clear."""

    assignments: dict[str, MemberIn | Annotated[str, Field(min_length=1)] | None]


class UserIn(Input):
    name: PersonName
    phone: Phone | None = None
    email: EmailStr | None = None
    designations: list[str] = []
    role: Role = Field(
        default="agent", description="agent, manager or admin: what they may do when signed in"
    )


class UserOut(UserIn):
    id: str
    has_password: bool = Field(description="whether they can sign in to the workspace")


class PasswordIn(Input):
    password: Annotated[
        str,
        Field(
            description=f"{MIN_LENGTH} to {MAX_LENGTH} characters, not only spaces",
            min_length=MIN_LENGTH,
            max_length=MAX_LENGTH,
        ),
    ]


class CampaignIn(Input):
    op: str = Field(pattern="^(start|switch|pause|resume|cancel)$")
    campaign: Annotated[str, Field(min_length=1, max_length=100)]
    switch_from: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    actor: Annotated[str, Field(min_length=1, max_length=100)] = "api"


class ReplyIn(Input):
    channel: MessageChannel = "sms"
    party: Annotated[str, Field(min_length=1, max_length=100)] = "borrower"
    body: Annotated[str, Field(max_length=1600)]


Stated = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class OptInIn(Input):
    """An opt-in recorded for a lead, on evidence: the lead's own words reach leadflow only
    through the provider's signed inbound, so anything else says what shows they asked."""

    channel: Literal["sms", "email", "call"] = Field(description="what they may be contacted by")
    party: Annotated[Stated, Field(max_length=100, description="the party's role on the lead")]
    evidence: Annotated[
        Stated,
        Field(
            max_length=1000,
            description="what shows the person asked",
            examples=["signed web form 2026-12-01 14:02 UTC, IP 203.0.113.7"],
        ),
    ]
    actor: Annotated[Stated, Field(max_length=200, description="who records it")]


class AgentIn(Input):
    agent: Annotated[str, Field(min_length=1, max_length=200)]


class LeadView(BaseModel):
    """GET /v1/leads/{id}: where the lead stands, who is on it, what happened, what is next."""

    lead_id: str
    snapshot: LeadSnapshot
    first_name: str | None
    last_name: str | None
    time_zone: str
    loan_purpose: str | None
    parties: dict[str, Party]
    designations: dict[str, Member]
    key_dates: dict[str, date]
    history: list[Note]
    agenda: list[Entry]
    audit: list[Audit]
    standing: Standing


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        default=None, description="pass as ?cursor= for the next page; absent on the last"
    )
