"""An account's playbook: its milestones, statuses, campaigns and rules, as validated data.

Field-level rules live on the models; rules that relate one part of the file to another
(a link to an unknown milestone, a campaign chain that never ends) are in `problems()`,
so `leadflow playbook check` can report every one with its path.
"""

from __future__ import annotations

from datetime import time, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from leadflow.models import Channel, Message, Name, TimeZone
from leadflow.playbook.durations import Duration
from leadflow.playbook.regions import Region
from leadflow.playbook.routing import Routing
from leadflow.playbook.sender_identity import Identity

QueueLabel = Literal["CallASAP", "Redial", "Callback", "Scheduled", "FollowUp", "SetCallback"]


# What a playbook may hold (README, "Limits"): each is far beyond any real cadence, and
# keeps what a lead carries and a worker holds small.
MAX_CAMPAIGNS = 100
MAX_STEPS = 200  # per campaign
MAX_TEMPLATES = 500
MAX_TEMPLATE_CHARS = 20_000  # an email body; a text is cut into 1,600-character segments
MAX_SUBJECT_CHARS = 300


class Status(Message):
    name: Name
    requires_follow_up: bool = False  # e.g. Hot, Follow Up: a change to it needs a follow-up
    contacted: bool = False  # contact made: call cadences stop
    blocks: list[Channel] = []  # e.g. Do Not Call, Bad Phone Number
    queue: QueueLabel | None = None  # entering it puts the lead in the queue (e.g. Hot)
    priority: int = 0  # added to the queue priority of leads in this status


class Sender(Message):
    """Whom a touch or task is from: a designation on the lead, or a named user of the team."""

    designation: Name | None = None
    user: Name | None = None

    @model_validator(mode="after")
    def _one(self) -> Sender:
        if (self.designation is None) == (self.user is None):
            raise ValueError("give exactly one of designation or user")
        return self


class StopWindow(Message):
    """Stop communication: suppress the action from `within` before the key date on."""

    key_date: Name
    within: Duration


class Action(Message):
    """What a milestone, a new lead or a date rule makes happen."""

    do: Literal["sms", "mms", "email", "task", "campaign", "queue_call"]
    template: Name | None = None
    subject: str | None = None  # task subject
    media: list[str] = []
    share_with: list[Name] = []
    share_from: Sender | None = None
    assignee: Sender | None = None
    due_in: Duration = timedelta(0)
    campaign: Name | None = None
    label: QueueLabel | None = None
    stop_communication: StopWindow | None = None

    @model_validator(mode="after")
    def _complete(self) -> Action:
        needs: dict[str, list[str]] = {
            "sms": ["template", "share_with"],
            "mms": ["template", "share_with", "media"],
            "email": ["template", "share_with"],
            "task": ["subject"],
            "campaign": ["campaign"],
            "queue_call": ["label"],
        }
        missing = [field for field in needs[self.do] if not getattr(self, field)]
        if missing:
            raise ValueError(f"a {self.do!r} action needs {', '.join(missing)}")
        return self


class MilestoneWorkflow(Message):
    """A milestone's actions, and variants chosen by the lead's loan purpose (exact match)."""

    actions: list[Action] = []
    variants: dict[Name, list[Action]] = {}


class Step(Message):
    """One touch of a campaign, `after` its enrollment, optionally at a local time of day."""

    after: Duration
    at: time | None = None
    do: Literal["sms", "mms", "email", "call", "task"]
    template: Name | None = None
    subject: str | None = None
    media: list[str] = []
    share_with: list[Name] = ["borrower"]
    share_from: Sender | None = None
    label: QueueLabel | None = None

    @model_validator(mode="after")
    def _complete(self) -> Step:
        if self.after < timedelta(0):
            raise ValueError("a step cannot come before its campaign starts")
        if self.do in ("sms", "mms", "email") and not self.template:
            raise ValueError(f"a {self.do!r} step needs a template")
        if self.do == "task" and not self.subject:
            raise ValueError("a 'task' step needs a subject")
        return self


class Outcome(Message):
    """What a campaign sets when it completes with no reply."""

    milestone: Name | None = None
    status: Name | None = None


class Campaign(Message):
    description: str = ""
    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS)
    stop_on_reply: bool = True  # a reply from the lead ends it
    stop_on_contact: bool = False  # call cadences run until contact
    on_complete: Outcome | None = None
    # What an agent's own text or email to the lead does to it: it goes on, it pauses
    # until a person resumes it, or it stops.
    on_agent_message: Literal["continue", "pause", "stop"] = "continue"

    @model_serializer(mode="wrap")
    def _as_before(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Going on after an agent's message, the JSON as before it (`Compliance._as_before`)."""
        body: dict[str, Any] = handler(self)
        if self.on_agent_message == "continue":
            body.pop("on_agent_message", None)
        return body

    @field_validator("steps")
    @classmethod
    def _in_order(cls, steps: list[Step]) -> list[Step]:
        offsets = [step.after for step in steps]
        if offsets != sorted(offsets):
            raise ValueError("steps must be in the order of their `after` offsets")
        return steps


class Disposition(Message):
    """What logging a call with this disposition does to the lead."""

    status: Name
    hold: Duration  # out of the queue for this long
    contact: bool = False  # a conversation happened
    # After the hold the lead is back in the queue (Redial before contact, Callback after).
    # False: only the call cadence, a follow-up or the contact prompt brings it back.
    requeue: bool = True


class LoggedText(Message):
    """What a text logged in the communication log without a disposition does: it is a
    contact attempt, which moves a lead at one of `moves_from` (any status when empty) to
    `status`, and its call comes back after `hold`."""

    status: Name
    moves_from: list[Name] = []
    hold: Duration = timedelta(0)


class FollowUpRules(Message):
    """Follow-ups: the subjects and durations allowed, and how far before the lead's
    buy/sell horizon the first check-in must be (a fraction of the time to it)."""

    subjects: list[Name] = ["Call", "Email", "Letter", "Quote", "Meeting", "Other"]
    durations: list[Duration] = [timedelta(minutes=15), timedelta(minutes=30), timedelta(hours=1)]
    horizon_fraction: float = Field(default=1 / 3, gt=0, le=1)


class ContactPrompt(Message):
    """Once contact is made the agent sets the next call (a Callback, or a
    Scheduled Call when the lead named the time), so the lead is never re-queued on a guess.
    Until a call follow-up is set, a task and a SetCallback queue entry say so."""

    subject: Name = "Set a Callback or Scheduled Call"
    assignee: Sender | None = None  # the defaults' sender when not given


class CallbackPeriod(Message):
    """After a call, the lead returns to the queue within [min, max]."""

    min: Duration
    max: Duration

    @model_validator(mode="after")
    def _ordered(self) -> CallbackPeriod:
        if not timedelta(0) < self.min <= self.max:
            raise ValueError("need 0 < min <= max")
        return self


class CycleBand(Message):
    """The production cycle: on these days of the month, leads matching `milestones`/`contacted` get
    shorter callback intervals and a higher priority."""

    first_day: int = Field(ge=1, le=31)
    last_day: int = Field(ge=1, le=31)
    milestones: list[Name] = []
    contacted: bool | None = None
    interval_factor: float = Field(default=1.0, gt=0, le=10)
    priority_boost: int = 0

    @model_validator(mode="after")
    def _ordered(self) -> CycleBand:
        if self.first_day > self.last_day:
            raise ValueError("first_day must not be after last_day")
        return self


class Window(Message):
    start: time
    end: time

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.start >= self.end:
            raise ValueError("start must be before end (same day)")
        return self


class FrequencyCap(Message):
    max: int = Field(ge=1)
    per: Duration


class Compliance(Message):
    """When a lead may be touched, as data. State and province keys are two-letter codes."""

    quiet_hours: Window = Window(start=time(8), end=time(21))  # federal (TCPA) default
    state_quiet_hours: dict[Region, Window] = {}  # by state or province
    frequency_caps: dict[Region, FrequencyCap] = {}  # by state or province; "default" for all
    sms_requires_consent: bool = True
    identity: Identity | None = None  # the sender's business and help contact, if given

    @model_serializer(mode="wrap")
    def _as_before(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Without an identity, the same JSON as before there was one: a playbook's digest
        (`leadflow.playbook.shelf`) is of its JSON, and running leads find theirs by it."""
        body: dict[str, Any] = handler(self)
        if self.identity is None:
            body.pop("identity", None)
        return body


class DateRule(Message):
    """An action at an offset from a key date, at a local time of day."""

    name: Name
    key_date: Name
    offset: Duration
    at: time = time(9)
    action: Action


class Template(Message):
    body: str = Field(max_length=MAX_TEMPLATE_CHARS)
    subject: str | None = Field(default=None, max_length=MAX_SUBJECT_CHARS)  # a template too
    purpose: Literal["marketing", "informational"] = "marketing"  # a sale, or a transaction's news

    @model_serializer(mode="wrap")
    def _as_before(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A marketing template's JSON as before `purpose` (`Compliance._as_before`)."""
        body: dict[str, Any] = handler(self)
        if self.purpose == "marketing":
            body.pop("purpose", None)
        return body


class Defaults(Message):
    milestone: Name
    status: Name
    sender: Sender  # when an action names no share_from
    time_zone: TimeZone = "America/Chicago"


class User(Message):
    name: Name
    phone: str | None = None
    email: str | None = None


class UnknownSenders(Message):
    """What an inbound text becomes when none of the account's leads has the number it came
    from (on a number the account holds): a new `lead`, run like any (routed, its
    `on_new_lead`), or a `task`: a lead that runs nothing (no routing, campaign or call)
    until a person reads the text, with a task asking who wrote, for `assignee` (a user)."""

    become: Literal["lead", "task"]
    party: Name | None = None  # the sender's role on the lead (default: the first party)
    assignee: Name | None = None  # the task's user (default: nobody in particular)


class Conversion(Message):
    """What the reports count as a conversion: a lead reaching one of these milestones or
    statuses (`leadflow.store.reports.converted_by` says what counts when none is set)."""

    milestones: list[Name] = []
    statuses: list[Name] = []


MAX_SPREAD = timedelta(hours=2)  # past it, a 10:00 step would be a noon one


class Playbook(Message):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    version: int = Field(ge=1)
    description: str = ""
    actions: list[Name]  # history-note actions
    milestones: list[Name]  # in order
    statuses: list[Status]
    links: dict[Name, list[Name]]  # milestone -> the statuses allowed with it
    parties: list[Name]  # whom touches can go to
    designations: list[Name]  # the team roles a lead is assigned
    users: dict[Name, User] = {}
    key_dates: list[Name] = []
    defaults: Defaults
    on_new_lead: list[Action] = []
    milestone_actions: dict[Name, MilestoneWorkflow] = {}
    campaigns: dict[Name, Campaign] = Field(default={}, max_length=MAX_CAMPAIGNS)
    dispositions: dict[Name, Disposition] = {}
    follow_ups: FollowUpRules = FollowUpRules()
    contact_prompt: ContactPrompt | None = None
    callback_periods: dict[Name, CallbackPeriod] = {}
    production_cycle: list[CycleBand] = []
    priorities: dict[QueueLabel, int] = {
        "CallASAP": 100,
        "SetCallback": 95,
        "Scheduled": 90,
        "Callback": 80,
        "FollowUp": 70,
        "Redial": 50,
    }
    date_rules: list[DateRule] = []
    compliance: Compliance = Compliance()
    templates: dict[Name, Template] = Field(default={}, max_length=MAX_TEMPLATES)
    routing: Routing | None = None  # who gets a new lead (`leadflow.playbook.routing`)
    conversion: Conversion | None = None  # for the reports
    logged_text: LoggedText | None = None  # a text logged with no disposition
    unknown_senders: UnknownSenders | None = None  # None: such a text reaches nobody
    # Each lead's fixed-time steps, date rules and window openings come up to this much
    # later, by an offset of its own (`leadflow.engine.spread`): a zone's leads drain smoothly.
    spread: Duration | None = None

    @model_serializer(mode="wrap")
    def _as_before(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Without the settings added since (routing, a conversion, a logged text's rule,
        unknown senders', a spread), the JSON as before them (`Compliance._as_before`)."""
        body: dict[str, Any] = handler(self)
        for name in ("routing", "conversion", "logged_text", "unknown_senders", "spread"):
            if getattr(self, name) is None:
                body.pop(name, None)
        return body

    @field_validator("spread")
    @classmethod
    def _spread(cls, spread: timedelta | None) -> timedelta | None:
        if spread is not None and not timedelta(minutes=2) <= spread <= MAX_SPREAD:
            raise ValueError("a spread is from 2 minutes to 2 hours, e.g. 15m")
        if spread is not None and spread % timedelta(minutes=1):
            raise ValueError("a spread is whole minutes, e.g. 15m")
        return spread

    def status(self, name: str) -> Status:
        return next(status for status in self.statuses if status.name == name)

    def has_status(self, name: str) -> bool:
        return any(status.name == name for status in self.statuses)
