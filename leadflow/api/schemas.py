"""What the HTTP API accepts and returns, beyond the shared models: validated at the door."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from leadflow.engine.contacts import Phone
from leadflow.engine.preview import Entry
from leadflow.engine.vocabulary import Audit, Member, Party
from leadflow.workflows.messages import LeadProfile, LeadSnapshot, TimeZone

T = TypeVar("T")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PartyIn(_In):
    name: Annotated[str, Field(max_length=200)] | None = None
    phone: Phone | None = None
    email: EmailStr | None = None
    time_zone: TimeZone | None = None
    region: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None
    sms_consent: bool = False

    def party(self) -> Party:
        return Party(**self.model_dump())


class MemberIn(_In):
    id: Annotated[str, Field(min_length=1, max_length=128)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    phone: Phone | None = None
    email: EmailStr | None = None
    sms_from: Phone | None = None

    def member(self) -> Member:
        return Member(**self.model_dump())


class LeadIn(_In):
    """A lead as a backend service sends it; anything left out comes from the playbook."""

    playbook: str | None = None
    first_name: Annotated[str, Field(max_length=200)] | None = None
    last_name: Annotated[str, Field(max_length=200)] | None = None
    time_zone: TimeZone | None = None
    region: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None
    loan_purpose: Annotated[str, Field(max_length=100)] | None = None
    milestone: str | None = None
    status: str | None = None
    parties: dict[str, PartyIn] = {}
    designations: dict[str, MemberIn] = {}
    key_dates: dict[str, date] = {}
    horizon: date | None = Field(default=None, description="when the lead means to buy or sell")

    def profile(self, default_playbook: str) -> LeadProfile:
        data: dict[str, Any] = self.model_dump(
            exclude_unset=True, exclude={"parties", "designations"}
        )
        data["playbook"] = self.playbook or default_playbook
        data["parties"] = {role: p.party() for role, p in self.parties.items()}
        data["designations"] = {name: m.member() for name, m in self.designations.items()}
        return LeadProfile(**data)


class KeyDatesIn(_In):
    dates: dict[str, date | None]


class PartiesIn(_In):
    parties: dict[str, PartyIn | None]


class DesignationsIn(_In):
    """Each designation gets a member inline, a user id from /v1/users, or null to clear."""

    assignments: dict[str, MemberIn | Annotated[str, Field(min_length=1)] | None]


class UserIn(_In):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    phone: Phone | None = None
    email: EmailStr | None = None
    designations: list[str] = []


class UserOut(UserIn):
    id: str


class CampaignIn(_In):
    op: str = Field(pattern="^(start|switch|pause|resume|cancel)$")
    campaign: str
    switch_from: str | None = None
    actor: str = "api"


class ReplyIn(_In):
    channel: Literal["sms", "mms", "email"] = "sms"
    party: Annotated[str, Field(min_length=1, max_length=100)] = "borrower"
    body: Annotated[str, Field(max_length=1600)]


class AgentIn(_In):
    agent: Annotated[str, Field(min_length=1, max_length=200)]


class HistoryOut(BaseModel):
    at: datetime
    action: str
    milestone: str
    status: str | None
    note: str
    actor: str


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
    history: list[HistoryOut]
    agenda: list[Entry]
    audit: list[Audit]


class LeadSummary(BaseModel):
    lead_id: str
    first_name: str | None
    last_name: str | None
    milestone: str
    status: str | None
    updated_at: datetime


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        default=None, description="pass as ?cursor= for the next page; absent on the last"
    )
