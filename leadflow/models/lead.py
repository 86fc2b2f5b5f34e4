"""A lead, the requests that change it, and the state its workflow carries."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from leadflow.models.engine import Audit, Command, EngineState, FollowUp, Member, Party
from leadflow.models.playbook import Playbook
from leadflow.models.refs import Identifier, LeadRef, Message
from leadflow.models.timezones import check_time_zone

__all__ = ["Identifier", "LeadRef", "Message"]

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
TimeZone = Annotated[str, AfterValidator(check_time_zone)]

# Processed request ids kept for de-duplication across continue-as-new; older ones age out.
REMEMBERED_REQUESTS = 512


class LeadProfile(Message):
    """Who the lead is and where it starts: the body of an ensure request.

    Anything left out comes from the account's playbook (default milestone, status, zone).
    """

    playbook: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]*$")] | None = None
    first_name: Annotated[str, StringConstraints(max_length=200)] | None = None
    last_name: Annotated[str, StringConstraints(max_length=200)] | None = None
    time_zone: TimeZone | None = None
    region: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None
    loan_purpose: Annotated[str, StringConstraints(max_length=100)] | None = None
    milestone: Name | None = None
    status: Name | None = None
    parties: dict[Name, Party] = {}
    designations: dict[Name, Member] = {}
    key_dates: dict[Name, date] = {}


class EnsureLead(LeadProfile):
    """Create the lead if it is new; otherwise leave it as it is and describe it (M26)."""

    lead: LeadRef


class FollowUpRequest(Message):
    """M20: a follow-up as a person schedules it."""

    subject: Name = "Call"
    start_at: AwareDatetime
    duration: timedelta = timedelta(minutes=15)
    notes: Annotated[str, StringConstraints(max_length=4000)] = ""
    assignee: Name | None = None
    priority: Literal["High", "Normal", "Low"] = "Normal"
    lead_requested: bool = False

    def for_lead(self, id: str) -> FollowUp:
        return FollowUp(id=id, **self.model_dump())


RequestId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@+\-]{0,127}$"),
    Field(description="idempotency key: repeating a request returns the first answer"),
]


class MilestoneChange(Message):
    """A history-note update: action + milestone + status + text, by someone (M2)."""

    milestone: Name | None = None
    status: Name | None = None
    action: Name = "Lead Update"
    note: Annotated[str, StringConstraints(max_length=4000)] = ""
    actor: Name = "system"
    follow_up: FollowUpRequest | None = None
    request_id: RequestId


class CallLog(Message):
    """The communication log (M19)."""

    disposition: Name
    channel: Literal["call", "sms"] = "call"
    direction: Literal["outbound", "inbound"] = "outbound"
    comments: Annotated[str, StringConstraints(max_length=4000)] = ""
    actor: Name = "agent"
    follow_up: FollowUpRequest | None = None
    request_id: RequestId


class ScheduleFollowUp(Message):
    follow_up: FollowUpRequest
    actor: Name = "agent"
    request_id: RequestId


class CompleteFollowUp(Message):
    id: Name
    actor: Name = "agent"
    request_id: RequestId


class LeadSnapshot(Message):
    """What callers get back from an update: where the lead stands now."""

    workflow_id: str
    milestone: str
    status: str
    contacted: bool
    campaigns: list[str]
    queue_label: str | None = None
    back_in_queue_at: datetime | None = None
    next_due: datetime | None = None
    changes: int
    runs: int = 1
    created: bool = False

    @classmethod
    def of(cls, state: EngineState, *, runs: int = 1, created: bool = False) -> LeadSnapshot:
        queue = state.queue
        return cls(
            workflow_id=state.lead.workflow_id,
            milestone=state.milestone,
            status=state.status,
            contacted=state.contacted,
            campaigns=sorted(state.campaigns),
            queue_label=queue.label if queue else None,
            back_in_queue_at=queue.available_at if queue else None,
            next_due=state.next_due,
            changes=state.changes,
            runs=runs,
            created=created,
        )


class LeadCarry(BaseModel):
    """What continue-as-new hands to the next run, besides the input it started with."""

    model_config = ConfigDict(extra="forbid")

    engine: EngineState
    processed: list[str] = []
    decisions: int = 0
    runs: int = 1  # how many runs this lead's workflow has had (continue-as-new)
    audit: list[Audit] = []

    def remember(self, request_id: str) -> None:
        self.processed.append(request_id)
        del self.processed[:-REMEMBERED_REQUESTS]


class LeadInput(Message):
    """Workflow input: a new lead and its pinned playbook, or a run carried over (B3)."""

    ensure: EnsureLead
    playbook: Playbook
    carried: LeadCarry | None = None
    history_limit: int = Field(default=8_000, ge=100)
    sends_task_queue: str = "leadflow-sends"  # where the rate-limited send activity runs
    sender_queues: dict[str, str] = {}  # sending numbers with a queue (and rate) of their own


class SendRequest(Message):
    """Send one outbox message (its key: `<workflow id>:<touch key>`)."""

    lead: LeadRef
    key: str


class SendResult(Message):
    provider_id: str
    resent: bool = False  # True when an earlier attempt had not reached the provider


class ApplyDecision(Message):
    """One decision's commands, written in one transaction by the store activity."""

    lead: LeadRef
    decision: int  # the lead's decision counter: with the index, the key of each row
    at: datetime
    commands: list[Command]
    record: LeadRecord | None = None  # the lead's own row, on its first decision


class LeadRecord(Message):
    """Row written to `leads` by the store activity."""

    lead: LeadRef
    first_name: str | None
    last_name: str | None
    time_zone: str
    milestone: str
    status: str | None
    at: datetime
