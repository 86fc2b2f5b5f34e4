"""What the engine asks for: the commands of a decision, run by the workflow's activities."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from leadflow.engine.state import EngineState, Member, Party
from leadflow.models import Channel, Message, MessageChannel
from leadflow.playbook.schema import QueueLabel


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


class RecordHistory(Message):
    kind: Literal["record_history"] = "record_history"
    key: str
    action: str
    milestone: str
    status: str
    note: str
    actor: str


class RecordOptOut(Message):
    """Remember across the account that these addresses opted out (or back in)."""

    kind: Literal["record_opt_out"] = "record_opt_out"
    channels: list[Channel]
    addresses: list[str]
    source: str
    opted_in: bool = False


class SaveParties(Message):
    """The lead's parties as they are now, for the CRM record and the agent's view."""

    kind: Literal["save_parties"] = "save_parties"
    parties: dict[str, Party]


class Audit(Message):
    """Why a touch fired, was deferred, held or skipped: the audit trail."""

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
    | SetPlaybook
    | RecordHistory
    | SaveParties
    | RecordOptOut
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
