"""What happens to a lead: the events `decide` reacts to."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field

from leadflow.engine.keywords import Keyword
from leadflow.engine.state import ConsentHeld, FollowUp, Member, Party
from leadflow.models import Message, MessageChannel


class LeadCreated(Message):
    type: Literal["lead_created"] = "lead_created"


class StatusChanged(Message):
    """A history-note update: milestone and/or status."""

    type: Literal["status_changed"] = "status_changed"
    milestone: str | None = None
    status: str | None = None
    action: str = "Lead Update"
    note: str = ""
    actor: str = "system"
    follow_up: FollowUp | None = None


class CallLogged(Message):
    """A call or text logged with its disposition (the communication log)."""

    type: Literal["call_logged"] = "call_logged"
    disposition: str | None = None  # None: a text logged without one (`Playbook.logged_text`)
    channel: Literal["call", "sms"] = "call"
    direction: Literal["outbound", "inbound"] = "outbound"
    comments: str = ""
    actor: str = "agent"
    follow_up: FollowUp | None = None


class FollowUpScheduled(Message):
    type: Literal["follow_up_scheduled"] = "follow_up_scheduled"
    follow_up: FollowUp
    actor: str = "agent"


class FollowUpCompleted(Message):
    type: Literal["follow_up_completed"] = "follow_up_completed"
    id: str
    actor: str = "agent"


class HorizonStated(Message):
    """The lead said when they want to buy or sell."""

    type: Literal["horizon_stated"] = "horizon_stated"
    horizon: date
    actor: str = "agent"


class ReplyReceived(Message):
    """A reply from a party. A text that is a keyword (STOP, START, HELP) is read as one;
    `keyword` says so when the provider detected it in other words (Twilio's OptOutType)."""

    type: Literal["reply_received"] = "reply_received"
    channel: MessageChannel = "sms"
    party: str = "borrower"
    body: str = ""
    keyword: Keyword | None = None
    at: datetime | None = None  # when the webhook heard it: opt-outs and opt-ins are ordered by it


class OptedOut(Message):
    type: Literal["opted_out"] = "opted_out"
    channel: Literal["sms", "email", "call", "all"] = "sms"
    source: str = "lead"
    at: datetime | None = None  # when the party said it, if something recorded the moment


class OptedIn(Message):
    type: Literal["opted_in"] = "opted_in"
    channel: Literal["sms", "email", "call", "all"] = "sms"
    source: str = "lead"  # the lead's own word, or the evidence an opt-in was recorded on
    at: datetime | None = None


class ConsentRecorded(Message):
    """A party's consent, recorded with its evidence (`consent_records`): the engine keeps
    what decides (`ConsentHeld`)."""

    type: Literal["consent_recorded"] = "consent_recorded"
    consent: ConsentHeld


class RelationshipDates(Message):
    """The established business relationship's dates: the lead's inquiry (by default, when
    the lead came in) and its last transaction with the business (a purchase, a closed
    loan, a policy)."""

    type: Literal["relationship_dates"] = "relationship_dates"
    inquired_at: datetime | None = None
    transacted_at: datetime | None = None


class LeadRouted(Message):
    """The routing's answer to an attempt: the user given the lead (with what a touch from
    them needs, and when their time to work it ends), the users it is offered to (until
    when: none for a pond), or nobody yet; and why. An offer taken is a second answer to
    the same attempt, with the user who took it."""

    type: Literal["lead_routed"] = "lead_routed"
    attempt: int
    rule: str | None = None
    designation: str | None = None
    agent: Member | None = None
    why: str
    offered: list[str] = []
    until: datetime | None = None
    work_by: datetime | None = None


class LeadReleased(Message):
    """The user routing gave the lead gives it back: it goes on along the chain."""

    type: Literal["lead_released"] = "lead_released"
    user: str
    why: str = ""


class NumberReassigned(Message):
    """The Reassigned Numbers Database said a party's number was disconnected since the day
    it was known to be theirs (asked at the moment of contact: a send, an agent's claim)."""

    type: Literal["number_reassigned"] = "number_reassigned"
    phone: str
    detail: str = ""  # in words, for the audit: what was asked and answered


class KeyDatesChanged(Message):
    type: Literal["key_dates_changed"] = "key_dates_changed"
    dates: dict[str, date | None]


class PartiesChanged(Message):
    type: Literal["parties_changed"] = "parties_changed"
    parties: dict[str, Party | None]


class DesignationsChanged(Message):
    type: Literal["designations_changed"] = "designations_changed"
    assignments: dict[str, Member | None]


class CampaignChanged(Message):
    """Start, switch, pause, resume or cancel a campaign on a running lead."""

    type: Literal["campaign_changed"] = "campaign_changed"
    op: Literal["start", "switch", "pause", "resume", "cancel"]
    campaign: str
    switch_from: str | None = None
    actor: str = "system"


class TimerFired(Message):
    type: Literal["timer_fired"] = "timer_fired"


class DeliveryFailed(Message):
    type: Literal["delivery_failed"] = "delivery_failed"
    key: str
    channel: MessageChannel
    reason: Literal[
        "bad_number",
        "opted_out",
        "bounced",
        "undeliverable",
        "filtered",
        "not_sent",
        "listed",
        "reassigned",
    ]  # not_sent: its window closed first, or the provider let it expire or rate-limited it;
    # listed: the number is on a do-not-call list and nothing exempts the message;
    # reassigned: the number was disconnected since it was known to be the party's
    detail: str = ""  # in words, for the audit: the list and the rule
    address: str | None = None  # the number, where the reason is about it (reassigned)


class PlaybookChanged(Message):
    """The lead moves to a newer version of its playbook (a migration), given to `decide`
    with that version: it goes on from where it is."""

    type: Literal["playbook_changed"] = "playbook_changed"
    version: int
    actor: str = "migration"


class AgentWrote(Message):
    """An agent's own text or email to a party of the lead (written on its page or through
    the API): it goes now, through the same gate as a campaign's touch, or is refused with
    why; `key` keeps it once."""

    type: Literal["agent_wrote"] = "agent_wrote"
    key: str
    channel: Literal["sms", "email"]
    party: str
    body: str
    subject: str | None = None
    actor: str


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
    | DeliveryFailed
    | PlaybookChanged
    | ConsentRecorded
    | RelationshipDates
    | NumberReassigned
    | LeadRouted
    | LeadReleased
    | AgentWrote,
    Field(discriminator="type"),
]
