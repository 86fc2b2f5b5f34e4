"""A lead, the requests that change it, and the state its workflow carries."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    Field,
    StringConstraints,
    model_validator,
)
from temporalio.exceptions import ApplicationError

from leadflow.engine.commands import Audit
from leadflow.engine.events import (
    AgentWrote,
    CallLogged,
    FollowUpCompleted,
    FollowUpScheduled,
    HorizonStated,
    PlaybookChanged,
    StatusChanged,
)
from leadflow.engine.refs import LeadRef
from leadflow.engine.state import ConsentHeld, EngineState, FollowUp, Member, Party
from leadflow.models import Message, Name, Public, Strict, TimeZone
from leadflow.playbook.regions import Region
from leadflow.playbook.schema import Playbook
from leadflow.playbook.shelf import SHELF, PlaybookMissing, PlaybookRef

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
    region: Annotated[Region, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None
    loan_purpose: Annotated[str, StringConstraints(max_length=100)] | None = None
    milestone: Name | None = None
    status: Name | None = None
    parties: dict[Name, Party] = {}
    designations: dict[Name, Member] = {}
    key_dates: dict[Name, date] = {}
    horizon: date | None = None  # when the lead means to buy or sell, if they said
    # What the playbook's routing reads (`routing.rules[].when`).
    source: Annotated[str, StringConstraints(max_length=100)] | None = None
    tags: list[Annotated[str, StringConstraints(max_length=100)]] = Field(default=[], max_length=50)
    language: Annotated[str, StringConstraints(max_length=20)] | None = None
    price: int | None = Field(default=None, ge=0)


class EnsureLead(LeadProfile):
    """Create the lead if it is new; otherwise describe it. Facts it gives must match the
    lead's: an existing lead changes through its own updates, never silently."""

    lead: LeadRef
    # Consents that came with the lead (a form's, with its certificate): kept with their
    # evidence by whoever took the request (the API, in `consent_records`), weighed from the
    # first decision; a lead that exists takes them as it takes any consent, by id.
    consents: list[ConsentHeld] = Field(default=[], max_length=20)
    # An unknown sender's first text (the Twilio webhook's, as the account's playbook says):
    # the lead is held for a person to read it, with a task; nothing else runs.
    review: Annotated[str, StringConstraints(max_length=1600)] | None = None

    def differences(self, state: EngineState) -> list[str]:
        """The facts this request gives that the lead has otherwise, by field name."""
        found = [
            name
            for name in PROFILE_FACTS
            if (given := getattr(self, name)) is not None and given != getattr(state, name)
        ]
        for name in ("parties", "designations", "key_dates"):
            given, have = getattr(self, name), getattr(state, name)
            if any(have.get(key) != value for key, value in given.items()):
                found.append(name)
        return found


# Facts of a lead that an ensure request may give; milestone and status are read as given.
PROFILE_FACTS = (
    "playbook",
    "first_name",
    "last_name",
    "time_zone",
    "region",
    "loan_purpose",
    "milestone",
    "status",
    "horizon",
    "source",
    "language",
    "price",
)


class FollowUpRequest(Message):
    """A follow-up as a person schedules it: a call or meeting at a time, for someone."""

    subject: Name = "Call"
    start_at: AwareDatetime
    duration: timedelta = timedelta(minutes=15)
    notes: Annotated[str, StringConstraints(max_length=4000)] = ""
    assignee: Name | None = None
    priority: Literal["High", "Normal", "Low"] = "Normal"
    lead_requested: bool = False

    def for_lead(self, id: str) -> FollowUp:
        return FollowUp(id=id, **self.model_dump())


REQUEST_ID = r"^[A-Za-z0-9][A-Za-z0-9._:@+\-]{0,127}$"
RequestId = Annotated[
    str,
    StringConstraints(pattern=REQUEST_ID),
    Field(description="idempotency key: repeating a request returns the first answer"),
]


class MilestoneChange(Message):
    """A history-note update: action + milestone + status + text, by someone."""

    milestone: Name | None = None
    status: Name | None = None
    action: Name = "Lead Update"
    note: Annotated[str, StringConstraints(max_length=4000)] = ""
    actor: Name = "system"
    follow_up: FollowUpRequest | None = None
    request_id: RequestId

    def event(self) -> StatusChanged:
        return StatusChanged(
            milestone=self.milestone,
            status=self.status,
            action=self.action,
            note=self.note,
            actor=self.actor,
            follow_up=self.follow_up.for_lead(self.request_id) if self.follow_up else None,
        )


class CallLog(Message):
    """A call or text logged with its disposition (a text may have none: a contact attempt,
    as the playbook's `logged_text` says); the answer says the new status and when the lead
    is back in the call queue."""

    disposition: Name | None = None
    channel: Literal["call", "sms"] = "call"
    direction: Literal["outbound", "inbound"] = "outbound"
    comments: Annotated[str, StringConstraints(max_length=4000)] = ""
    actor: Name = "agent"
    follow_up: FollowUpRequest | None = None
    request_id: RequestId

    @model_validator(mode="after")
    def _a_call_has_its_disposition(self) -> CallLog:
        if self.disposition is None and self.channel == "call":
            raise ValueError("a call is logged with its disposition (only a text may have none)")
        return self

    def event(self) -> CallLogged:
        return CallLogged(
            disposition=self.disposition,
            channel=self.channel,
            direction=self.direction,
            comments=self.comments,
            actor=self.actor,
            follow_up=self.follow_up.for_lead(self.request_id) if self.follow_up else None,
        )


class AgentMessage(Message):
    """An agent's own text or email to a party of the lead: sent now through the gate, or
    refused with why; the answer is the lead as it stands."""

    channel: Literal["sms", "email"] = "sms"
    party: Name = "borrower"
    body: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
    subject: Annotated[str, StringConstraints(max_length=300)] | None = None
    actor: Name = "agent"
    request_id: RequestId

    def event(self) -> AgentWrote:
        return AgentWrote(
            key=f"message:{self.request_id}",
            channel=self.channel,
            party=self.party,
            body=self.body,
            subject=self.subject,
            actor=self.actor,
        )


class MigratePlaybook(Message):
    """Move the lead to a newer version of its playbook, between two decisions. The version
    travels by reference: the worker's codec shelves it before the workflow task runs."""

    playbook_ref: PlaybookRef
    actor: Name = "migration"
    request_id: RequestId

    def event(self) -> PlaybookChanged:
        return PlaybookChanged(version=self.playbook_ref.version, actor=self.actor)

    def newer(self) -> Playbook:
        """The version moved to, from the shelf (an update no worker can serve is refused)."""
        try:
            return SHELF.take(self.playbook_ref)
        except PlaybookMissing as exc:
            raise ApplicationError(str(exc), type="PlaybookMissing", non_retryable=True) from None


class ScheduleFollowUp(Message):
    follow_up: FollowUpRequest
    actor: Name = "agent"
    request_id: RequestId

    def event(self) -> FollowUpScheduled:
        return FollowUpScheduled(
            follow_up=self.follow_up.for_lead(self.request_id), actor=self.actor
        )


class StateHorizon(Message):
    """The lead said when they mean to buy or sell: the next check-in comes no later than a
    third (the playbook's fraction) of the time to it."""

    horizon: date
    actor: Name = "agent"
    request_id: RequestId

    def event(self) -> HorizonStated:
        return HorizonStated(horizon=self.horizon, actor=self.actor)


class CompleteFollowUp(Message):
    id: Name
    actor: Name = "agent"
    request_id: RequestId

    def event(self) -> FollowUpCompleted:
        return FollowUpCompleted(id=self.id, actor=self.actor)


class LeadSnapshot(Public):
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


class LeadCarry(Strict):
    """What continue-as-new hands to the next run, besides the input it started with."""

    engine: EngineState
    processed: list[str] = []
    fingerprints: dict[str, str] = {}  # request id -> what it asked for (see `fingerprint`)
    decisions: int = 0
    runs: int = 1  # how many runs this lead's workflow has had (continue-as-new)
    audit: list[Audit] = []

    def reused(self, request_id: str, digest: str | None) -> bool:
        """True when this request id was processed for a request that asked for something
        else (an idempotency key reused for another change)."""
        known = self.fingerprints.get(request_id)
        return known is not None and digest is not None and known != digest

    def remember(self, request_id: str, digest: str | None = None) -> None:
        self.processed.append(request_id)
        if digest is not None:
            self.fingerprints[request_id] = digest
        for forgotten in self.processed[:-REMEMBERED_REQUESTS]:
            self.fingerprints.pop(forgotten, None)
        del self.processed[:-REMEMBERED_REQUESTS]


def fingerprint(request: BaseModel) -> str:
    """What a request asks for, without its request id: a reused id must ask the same."""
    body = request.model_dump_json(exclude={"request_id"})
    return f"{type(request).__name__}:{hashlib.sha256(body.encode()).hexdigest()[:32]}"


REVISION = 6  # what new runs (a new lead, a continued one) start at; see LeadInput.revision


class LeadInput(Message):
    """Workflow input: a new lead and its pinned playbook, or a run carried over by
    continue-as-new.

    The playbook travels by reference (`playbook_ref`: name, version, digest); leads started
    before references carry it whole (`playbook`) and keep doing so. A carried run needs no
    `ensure` (its state has everything), so later runs' histories do not repeat it."""

    ensure: EnsureLead | None = None
    playbook: Playbook | None = None
    playbook_ref: PlaybookRef | None = None
    carried: LeadCarry | None = None
    history_limit: int = Field(default=8_000, ge=100)
    sends_task_queue: str = "leadflow-sends"  # where the rate-limited send activity runs
    sender_queues: dict[str, str] = {}  # sending numbers with a queue (and rate) of their own
    # Which path the run's code takes. 0: runs started before revisions, whose history says
    # by patch markers how they write and send. From 1: decisions written in the workflow
    # task, sends on, search attributes set at the start: no markers, fewer events. From 2:
    # a new lead's facts come once, in the ensure update it starts with (not also in this
    # input), and it starts with the search attributes its first decision leaves it with.
    # From 3: a new lead starts on the state-law table (no patch marker), and a decision's
    # messages that share a send queue go in one activity (a text and an email at most).
    # From 4: a new lead starts on the second table (the law at the moment of contact); from
    # 5, on the third (written consent for marketing texts, Maine's reassigned-number check).
    # From 6: a new lead keeps when it came in, so its first human touch is recorded.
    revision: int = 0

    @model_validator(mode="after")
    def _new_or_carried(self) -> LeadInput:
        if self.ensure is None and self.carried is None and self.revision < 2:
            raise ValueError("a new lead needs its ensure request; a carried run its state")
        return self

    def pinned_playbook(self) -> Playbook:
        """The playbook whole (leads started before references), or from the shelf the
        worker's codec filled from the reference before the workflow task ran."""
        if self.playbook is not None:
            return self.playbook
        assert self.playbook_ref is not None  # one or the other, never neither
        return SHELF.take(self.playbook_ref)

    @model_validator(mode="after")
    def _one_playbook(self) -> LeadInput:
        if (self.playbook is None) == (self.playbook_ref is None):
            raise ValueError("give the playbook or a reference to it, not both or neither")
        return self
