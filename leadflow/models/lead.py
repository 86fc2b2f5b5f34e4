"""A lead, the requests that change it, and the state its workflow carries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from leadflow.models.timezones import check_time_zone

Identifier = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@+\-]{0,127}$"),
    Field(description="1-128 characters: letters, digits and . _ @ + -, starting alphanumeric"),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
TimeZone = Annotated[str, AfterValidator(check_time_zone)]

# Processed request ids kept for de-duplication across continue-as-new; older ones age out.
REMEMBERED_REQUESTS = 512


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LeadRef(Message):
    """Which lead: unique per account; the workflow id is derived from it (M25)."""

    account_id: Identifier
    lead_id: Identifier

    @property
    def workflow_id(self) -> str:
        return f"lead:{self.account_id}:{self.lead_id}"


class LeadProfile(Message):
    """Who the lead is and where it starts: the body of an ensure request."""

    first_name: Annotated[str, StringConstraints(max_length=200)] | None = None
    last_name: Annotated[str, StringConstraints(max_length=200)] | None = None
    time_zone: TimeZone = "America/Chicago"
    milestone: Name = "No Milestone"
    status: Name | None = "New"


class EnsureLead(LeadProfile):
    """Create the lead if it is new; otherwise leave it as it is and describe it (M26)."""

    lead: LeadRef


class MilestoneChange(Message):
    """A history-note update: action + milestone + status + text, by someone (M2)."""

    milestone: Name
    status: Name | None = None
    action: Name = "Lead Update"
    note: Annotated[str, StringConstraints(max_length=4000)] = ""
    actor: Name = "system"
    follow_up_at: AwareDatetime | None = None
    request_id: Identifier = Field(description="idempotency key: a repeat returns the first answer")


class HistoryEntry(Message):
    key: str
    action: str
    milestone: str
    status: str | None
    note: str
    actor: str
    occurred_at: datetime


class LeadState(BaseModel):
    """Everything the lead's workflow knows; continue-as-new carries it whole."""

    model_config = ConfigDict(extra="forbid")

    lead: LeadRef
    first_name: str | None = None
    last_name: str | None = None
    time_zone: str
    milestone: str
    status: str | None
    follow_up_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    changes: int = 0
    processed_requests: list[str] = Field(default_factory=list)

    def remember(self, request_id: str) -> None:
        self.processed_requests.append(request_id)
        del self.processed_requests[:-REMEMBERED_REQUESTS]


class LeadInput(Message):
    """Workflow input: a new lead, or the state carried over by continue-as-new."""

    ensure: EnsureLead
    carried: LeadState | None = None


class LeadSnapshot(Message):
    """What callers get back from ensure/change: where the lead stands now."""

    workflow_id: str
    milestone: str
    status: str | None
    follow_up_at: datetime | None
    changes: int
    created: bool = False


class LeadRecord(Message):
    """Row written to `leads` by the store activity."""

    lead: LeadRef
    first_name: str | None
    last_name: str | None
    time_zone: str
    milestone: str
    status: str | None
    at: datetime


class MilestoneRecord(Message):
    lead: LeadRef
    key: str
    change: MilestoneChange
    at: datetime


class FollowUpDue(Message):
    lead: LeadRef
    key: str
    due_at: datetime
    subject: str = "Follow up"
    notes: str = ""
