"""The engine's vocabulary: the state of one lead, the events it reacts to, the commands it
issues. Pure data; `leadflow.engine.rules.decide` is the only thing that interprets it."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from leadflow.engine.keywords import Keyword
from leadflow.engine.refs import LeadRef
from leadflow.playbook.schema import QueueLabel

Channel = Literal["sms", "mms", "email", "call"]
MessageChannel = Literal["sms", "mms", "email"]


class Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---- the lead --------------------------------------------------------------------------


class Party(Data):
    """Someone a touch can go to (M7): the borrower, a referral partner, an agent..."""

    name: str | None = None
    phone: str | None = None  # E.164
    email: str | None = None
    time_zone: str | None = None  # where they are, if not where the lead is
    region: str | None = None  # two-letter state code, for state quiet hours and caps
    sms_consent: bool = False  # recorded consent to automated texts (B2)

    @property
    def first_name(self) -> str | None:
        return self.name.split()[0] if self.name else None


class Member(Data):
    """A team member filling a designation on the lead (M8)."""

    id: str
    name: str
    phone: str | None = None
    email: str | None = None
    sms_from: str | None = None  # the Twilio number this member texts from, if their own


class FollowUp(Data):
    """M20."""

    id: str
    subject: str
    start_at: AwareDatetime
    duration: timedelta = timedelta(minutes=15)
    notes: str = ""
    assignee: str | None = None
    priority: Literal["High", "Normal", "Low"] = "Normal"
    lead_requested: bool = False  # the lead asked for this exact time: a Scheduled call (M17)
    completed: bool = False


class QueueEntry(Data):
    key: str
    label: QueueLabel
    priority: int
    available_at: datetime
    notes: str = ""


class CampaignRun(Data):
    name: str
    run: int  # how many times this lead was enrolled in it: part of every touch key
    started_at: datetime
    next_step: int = 0
    paused_at: datetime | None = None
    shift: timedelta = timedelta(0)  # time spent paused


class PendingTouch(Data):
    """A message that could not go yet (quiet hours, frequency cap, missing designation)."""

    key: str
    channel: MessageChannel
    party: str
    template: str
    media: list[str] = []
    sender_designation: str | None = None
    sender_user: str | None = None
    cause: str


class AgendaItem(Data):
    key: str
    due: datetime
    kind: Literal["touch", "date_rule", "held"]
    touch: PendingTouch | None = None
    rule: str | None = None
    designation: str | None = None  # "held": waiting for this designation to be assigned


class TouchLog(Data):
    at: datetime
    address: str


class EngineState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lead: LeadRef
    playbook: str
    playbook_version: int
    first_name: str | None = None
    last_name: str | None = None
    time_zone: str
    region: str | None = None
    loan_purpose: str | None = None
    parties: dict[str, Party] = {}
    designations: dict[str, Member] = {}
    key_dates: dict[str, date] = {}
    milestone: str
    status: str
    contacted: bool = False
    replied: bool = False
    call_attempts: int = 0
    opted_out: list[Channel] = []
    unreachable: list[Channel] = []  # bad number, bounced address
    campaigns: dict[str, CampaignRun] = {}
    campaign_runs: dict[str, int] = {}
    queue: QueueEntry | None = None
    hold_until: datetime | None = None
    follow_ups: list[FollowUp] = []
    horizon: date | None = None
    agenda: list[AgendaItem] = []
    touches: list[TouchLog] = []
    changes: int = 0
    next_due: datetime | None = None


# ---- events ------------------------------------------------------------------------------


class LeadCreated(Data):
    type: Literal["lead_created"] = "lead_created"


class StatusChanged(Data):
    """A history-note update: milestone and/or status (M2-M4)."""

    type: Literal["status_changed"] = "status_changed"
    milestone: str | None = None
    status: str | None = None
    action: str = "Lead Update"
    note: str = ""
    actor: str = "system"
    follow_up: FollowUp | None = None


class CallLogged(Data):
    """The communication log (M19)."""

    type: Literal["call_logged"] = "call_logged"
    disposition: str
    channel: Literal["call", "sms"] = "call"
    direction: Literal["outbound", "inbound"] = "outbound"
    comments: str = ""
    actor: str = "agent"
    follow_up: FollowUp | None = None


class FollowUpScheduled(Data):
    type: Literal["follow_up_scheduled"] = "follow_up_scheduled"
    follow_up: FollowUp
    actor: str = "agent"


class FollowUpCompleted(Data):
    type: Literal["follow_up_completed"] = "follow_up_completed"
    id: str
    actor: str = "agent"


class HorizonStated(Data):
    """M21: the lead said when they want to buy or sell."""

    type: Literal["horizon_stated"] = "horizon_stated"
    horizon: date
    actor: str = "agent"


class ReplyReceived(Data):
    """A reply from a party. A text that is a keyword (STOP, START, HELP) is read as one;
    `keyword` says so when the provider detected it in other words (Twilio's OptOutType)."""

    type: Literal["reply_received"] = "reply_received"
    channel: MessageChannel = "sms"
    party: str = "borrower"
    body: str = ""
    keyword: Keyword | None = None


class OptedOut(Data):
    type: Literal["opted_out"] = "opted_out"
    channel: Literal["sms", "email", "call", "all"] = "sms"
    source: str = "lead"


class OptedIn(Data):
    type: Literal["opted_in"] = "opted_in"
    channel: Literal["sms", "email", "call", "all"] = "sms"


class KeyDatesChanged(Data):
    type: Literal["key_dates_changed"] = "key_dates_changed"
    dates: dict[str, date | None]


class PartiesChanged(Data):
    type: Literal["parties_changed"] = "parties_changed"
    parties: dict[str, Party | None]


class DesignationsChanged(Data):
    type: Literal["designations_changed"] = "designations_changed"
    assignments: dict[str, Member | None]


class CampaignChanged(Data):
    """M15: start, switch, pause, resume or cancel a campaign on a running lead."""

    type: Literal["campaign_changed"] = "campaign_changed"
    op: Literal["start", "switch", "pause", "resume", "cancel"]
    campaign: str
    switch_from: str | None = None
    actor: str = "system"


class TimerFired(Data):
    type: Literal["timer_fired"] = "timer_fired"


class DeliveryFailed(Data):
    type: Literal["delivery_failed"] = "delivery_failed"
    key: str
    channel: MessageChannel
    reason: Literal["bad_number", "opted_out", "bounced", "undeliverable", "filtered"]


Event = Annotated[
    LeadCreated
    | StatusChanged
    | CallLogged
    | FollowUpScheduled
    | FollowUpCompleted
    | HorizonStated
    | ReplyReceived
    | OptedOut
    | OptedIn
    | KeyDatesChanged
    | PartiesChanged
    | DesignationsChanged
    | CampaignChanged
    | TimerFired
    | DeliveryFailed,
    Field(discriminator="type"),
]


# ---- commands ----------------------------------------------------------------------------


class SendMessage(Data):
    kind: Literal["send_message"] = "send_message"
    key: str
    channel: MessageChannel
    party: str
    to: str
    sender: Member
    template: str
    subject: str | None = None
    body: str
    media: list[str] = []


class CreateTask(Data):
    kind: Literal["create_task"] = "create_task"
    key: str
    subject: str
    assignee: str | None
    due_at: datetime
    notes: str = ""


class CompleteTask(Data):
    kind: Literal["complete_task"] = "complete_task"
    key: str


class QueueCall(Data):
    kind: Literal["queue_call"] = "queue_call"
    key: str
    label: QueueLabel
    priority: int
    available_at: datetime
    notes: str = ""


class DequeueCall(Data):
    kind: Literal["dequeue_call"] = "dequeue_call"
    reason: str


class SetStatus(Data):
    kind: Literal["set_status"] = "set_status"
    milestone: str
    status: str


class RecordHistory(Data):
    kind: Literal["record_history"] = "record_history"
    key: str
    action: str
    milestone: str
    status: str
    note: str
    actor: str


class RecordOptOut(Data):
    """Remember across the account that these addresses opted out (or back in)."""

    kind: Literal["record_opt_out"] = "record_opt_out"
    channels: list[Channel]
    addresses: list[str]
    source: str
    opted_in: bool = False


class SaveParties(Data):
    """The lead's parties as they are now, for the CRM record and the agent's view (M24)."""

    kind: Literal["save_parties"] = "save_parties"
    parties: dict[str, Party]


class Audit(Data):
    """B5: why a touch fired, was deferred, held or skipped."""

    kind: Literal["audit"] = "audit"
    key: str
    outcome: Literal["fired", "deferred", "held", "skipped", "stopped", "completed", "note"]
    reason: str
    until: datetime | None = None


Command = Annotated[
    SendMessage
    | CreateTask
    | CompleteTask
    | QueueCall
    | DequeueCall
    | SetStatus
    | RecordHistory
    | SaveParties
    | RecordOptOut
    | Audit,
    Field(discriminator="kind"),
]


class Decision(Data):
    state: EngineState
    commands: list[Command]


class InvalidChange(ValueError):
    """An event the lead refuses; the message says what was wrong and what to do."""

    def __init__(self, message: str, reason: str = "InvalidChange") -> None:
        super().__init__(message)
        self.reason = reason
