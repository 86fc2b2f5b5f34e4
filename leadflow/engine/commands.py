"""What the engine asks for: the commands of a decision, run by the workflow's activities."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import Field

from leadflow.engine.state import EngineState, Member, Party
from leadflow.models import Channel, Message, MessageChannel
from leadflow.playbook.schema import QueueLabel


class CapCheck(Message):
    """A cap the send activity checks again, across the account's leads, at the moment of
    contact: at most `max` messages per `per` to the address, of the channels in `counts`
    (None: the address's messages)."""

    max: int
    per: timedelta
    counts: list[Channel] | None = None
    why: str


class SendMessage(Message):
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
    # From the second state-law table: the end of the window the decision found open (the
    # provider is never called at or after it) and the caps the account's other leads count
    # towards. None and none for leads on earlier tables.
    send_by: datetime | None = None
    caps: list[CapCheck] = []
    # The do-not-call lists that reach it (`national`, `state:FL`, `ca:national`), which the
    # send checks at the moment of contact, unless `exemption` says why none holds it (the
    # party's written consent, a live business relationship). Empty before the second
    # state-law table, and where no list reaches.
    lists: list[str] = []
    exemption: str | None = None
    # The day since which the number is known to be the party's (the consent, the inquiry,
    # the last reply or call that reached them): the send asks the Reassigned Numbers
    # Database whether it was disconnected since. None: no check (not a US number, email,
    # leads before the second state-law table).
    reassigned_since: date | None = None


class CreateTask(Message):
    kind: Literal["create_task"] = "create_task"
    key: str
    subject: str
    assignee: str | None
    due_at: datetime
    notes: str = ""


class CompleteTask(Message):
    kind: Literal["complete_task"] = "complete_task"
    key: str


class QueueCall(Message):
    kind: Literal["queue_call"] = "queue_call"
    key: str
    label: QueueLabel
    priority: int
    available_at: datetime
    notes: str = ""
    why: str = ""  # why it is not due at once, when it is not (calling hours, a hold)
    # From the second state-law table: when its window closes (no agent is handed it from
    # then on; the lead queues it again for the next window) and the number it dials (no
    # agent is handed a number opted out of calls anywhere in the account).
    callable_until: datetime | None = None
    phone: str | None = None
    moved: bool = False  # the queued call moved on to its next window, not a new call
    # The caps on the person that count calls: the claim counts them again across the
    # account's leads (calls handed out and texts tried to the number).
    caps: list[CapCheck] = []
    lists: list[str] = []  # as `SendMessage.lists`, for the claim
    exemption: str | None = None
    reassigned_since: date | None = None  # as `SendMessage.reassigned_since`, for the claim


class DequeueCall(Message):
    kind: Literal["dequeue_call"] = "dequeue_call"
    reason: str
    ends_claim: bool = False  # the call was logged: an agent's claim on the lead ends


class SetStatus(Message):
    kind: Literal["set_status"] = "set_status"
    milestone: str
    status: str


class SetPlaybook(Message):
    """The lead now runs this version of its playbook (its row says so)."""

    kind: Literal["set_playbook"] = "set_playbook"
    name: str
    version: int


class CallFacts(Message):
    """A logged call's (or text's) facts, for the reports: its disposition, whether it
    reached the lead, and which of the lead's outbound calls it was (None otherwise)."""

    channel: str
    direction: str
    disposition: str
    contact: bool
    attempt: int | None = None


class RecordHistory(Message):
    kind: Literal["record_history"] = "record_history"
    key: str
    action: str
    milestone: str
    status: str
    note: str
    actor: str
    call: CallFacts | None = None  # a call logged with its disposition


class RecordOptOut(Message):
    """Remember across the account that these addresses opted out (or back in)."""

    kind: Literal["record_opt_out"] = "record_opt_out"
    channels: list[Channel]
    addresses: list[str]
    source: str
    opted_in: bool = False
    # When the party said it (a webhook's moment); the rows are ordered by it, so an opt-in
    # written late never clears an opt-out said after it. None: the decision's time.
    at: datetime | None = None


class EndConsents(Message):
    """Consents a revocation ended: their records get the moment and why, beside them."""

    kind: Literal["end_consents"] = "end_consents"
    ids: list[str]
    at: datetime
    why: str


class SaveParties(Message):
    """The lead's parties as they are now, for the CRM record and the agent's view."""

    kind: Literal["save_parties"] = "save_parties"
    parties: dict[str, Party]


class FirstTouch(Message):
    """The first human action on the lead (speed to lead: from its creation to this)."""

    kind: Literal["first_touch"] = "first_touch"
    at: datetime
    by: str
    seconds: int  # since the lead came in


class CloseRouting(Message):
    """The lead's routing assignments no longer count as open (a closed status, or the
    lead given to another user by hand)."""

    kind: Literal["close_routing"] = "close_routing"
    why: str


class Audit(Message):
    """Why a touch fired, was deferred, held or skipped: the audit trail."""

    kind: Literal["audit"] = "audit"
    key: str
    outcome: Literal["fired", "deferred", "held", "skipped", "stopped", "completed", "note"]
    reason: str
    until: datetime | None = None


class RouteLead(Message):
    """Ask the account's routing who takes the lead (the routing activity, under the
    account's lock); the answer comes back as `LeadRouted` with the same attempt."""

    kind: Literal["route_lead"] = "route_lead"
    attempt: int
    # Why it asks again: the first time (`new`), nobody could take it (`retry`), an offer's
    # claim window ran out (`claim_window`: if it was taken, the answer is who took it), the
    # user given it did not work it in time (`unworked`). The rules already tried are passed.
    reason: Literal["new", "retry", "claim_window", "unworked", "released"] = "new"
    tried: list[str] = []
    source: str | None = None
    loan_purpose: str | None = None
    region: str | None = None
    tags: list[str] = []
    language: str | None = None
    price: int | None = None


Command = Annotated[
    SendMessage
    | CreateTask
    | CompleteTask
    | QueueCall
    | DequeueCall
    | SetStatus
    | SetPlaybook
    | RecordHistory
    | SaveParties
    | RecordOptOut
    | EndConsents
    | RouteLead
    | FirstTouch
    | CloseRouting
    | Audit,
    Field(discriminator="kind"),
]


class Decision(Message):
    state: EngineState
    commands: list[Command]


class InvalidChange(ValueError):
    """An event the lead refuses; the message says what was wrong and what to do."""

    def __init__(self, message: str, reason: str = "InvalidChange") -> None:
        super().__init__(message)
        self.reason = reason
