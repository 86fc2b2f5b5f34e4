"""The state of one lead as the engine sees it: its parties, team, dates, place in the
milestones and the queue, campaigns running and touches waiting."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime

from leadflow.engine.refs import LeadRef
from leadflow.models import Channel, Message, MessageChannel, Strict
from leadflow.playbook.regions import Region
from leadflow.playbook.schema import QueueLabel


class Party(Message):
    """Someone a touch can go to: the borrower, a referral partner, an agent..."""

    name: str | None = None
    phone: str | None = None  # E.164
    email: str | None = None
    time_zone: str | None = None  # where they are, if not where the lead is
    region: Region | None = None  # two-letter state or province code, for the law and caps
    sms_consent: bool = False  # recorded consent to automated texts

    @property
    def first_name(self) -> str | None:
        words = self.name.split() if self.name else []
        return words[0] if words else None


class Member(Message):
    """A team member filling a designation on the lead: whom its touches come from."""

    id: str
    name: str
    phone: str | None = None
    email: str | None = None
    sms_from: str | None = None  # the Twilio number this member texts from, if their own


class FollowUp(Message):
    """A dated task for the team (a call, an email, a meeting...) on the lead."""

    id: str
    subject: str
    start_at: AwareDatetime
    duration: timedelta = timedelta(minutes=15)
    notes: str = ""
    assignee: str | None = None
    priority: Literal["High", "Normal", "Low"] = "Normal"
    lead_requested: bool = False  # the lead asked for this exact time: a Scheduled call
    completed: bool = False


class QueueEntry(Message):
    key: str
    label: QueueLabel
    priority: int
    available_at: datetime
    notes: str = ""
    callable_until: datetime | None = None  # its window's end: queued again after it


class CampaignRun(Message):
    name: str
    run: int  # how many times this lead was enrolled in it: part of every touch key
    started_at: datetime
    next_step: int = 0
    paused_at: datetime | None = None
    shift: timedelta = timedelta(0)  # time spent paused
    # Second state-law table on, for steps at a time of day: the whole days the campaign was
    # held back (each deferral's and pause's own), and the last deferred step and when it
    # went (the steps after it go after that).
    held_days: int = 0
    deferred_step: int | None = None
    deferred_until: datetime | None = None


class PendingTouch(Message):
    """A message that could not go yet (quiet hours, frequency cap, missing designation)."""

    key: str
    channel: MessageChannel
    party: str
    template: str
    media: list[str] = []
    sender_designation: str | None = None
    sender_user: str | None = None
    cause: str
    campaign: str | None = None  # a campaign step's touch: the campaign, and the step
    step: int | None = None
    deferred_at: datetime | None = None  # when it was first deferred


class AgendaItem(Message):
    key: str
    due: datetime
    kind: Literal["touch", "date_rule", "held", "route", "worked"]
    touch: PendingTouch | None = None
    rule: str | None = None
    designation: str | None = None  # "held": waiting for this designation to be assigned


class Sending(Message):
    """A message handed to the send activity whose window may close before the provider
    takes it: if it does, the touch is deferred to the next opening (`contact`)."""

    touch: PendingTouch
    at: datetime  # when it fired
    send_by: datetime


class TouchLog(Message):
    """A touch that counts towards frequency caps: a message sent or a call made."""

    at: datetime
    address: str
    channel: Channel | None = None  # None: a message logged before calls were counted


ConsentMeans = Literal["web_form", "certificate", "signature", "recorded_call", "reply", "other"]
WRITTEN: frozenset[str] = frozenset({"web_form", "certificate", "signature"})  # E-SIGN writing


class ConsentHeld(Message):
    """A party's consent as the engine weighs it (its evidence is kept in PostgreSQL,
    `consent_records`): what it covers, since when, whether it is in writing, and when a
    revocation ended it."""

    id: str
    party: str
    channels: list[Channel]
    scope: Literal["marketing", "informational"] = "marketing"
    given_at: datetime
    means: ConsentMeans
    seller: str | None = None
    ended_at: datetime | None = None

    @property
    def written(self) -> bool:
        return self.means in WRITTEN


class EngineState(Strict):
    lead: LeadRef
    playbook: str
    playbook_version: int
    first_name: str | None = None
    last_name: str | None = None
    time_zone: str
    region: Region | None = None
    loan_purpose: str | None = None
    parties: dict[str, Party] = {}
    designations: dict[str, Member] = {}
    key_dates: dict[str, date] = {}
    milestone: str
    status: str
    contacted: bool = False
    replied: bool = False
    reached_at: datetime | None = None  # the last reply or call that reached the lead
    consent_doubt: str | None = None  # a reply that may revoke consent: texts wait for a person
    consent_task: str | None = None  # the task asking that person
    consent_doubt_calls: bool = False  # and it may say the number is not the lead's: calls wait
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
    sending: list[Sending] = []  # messages fired but not yet past their window's end
    changes: int = 0
    next_due: datetime | None = None
    # The state-law table the gate applies (`leadflow.engine.law`): 0 before it existed
    # (the playbook's windows and caps only); the workflow moves a lead to the current table
    # at a decision, behind a patch, so recorded histories replay as they ran.
    law: int = 0
    # Consent on record, and the established business relationship's two dates (an inquiry,
    # the last transaction): what lets a solicitation reach a number on a do-not-call list.
    consents: list[ConsentHeld] = []
    inquired_at: datetime | None = None
    transacted_at: datetime | None = None
    # What routing reads of a new lead (`leadflow.engine.routing.Facts`), and its routings:
    # the attempt asked last and what came of it.
    source: str | None = None
    tags: list[str] = []
    language: str | None = None
    price: int | None = None
    routing_attempt: int = 0
    routed: Literal["agent", "waiting", "offered", "closed"] | None = None
    routing_rule: str | None = None  # the rule of the last answer
    routing_tried: list[str] = []  # rules whose offer ran out or whose user did not work it
    routed_to: str | None = None  # the user given the lead
    worked_at: datetime | None = None  # their first human action on it since
    # Speed to lead: when the lead came in (leads created since routing) and the first
    # human action on it (a call or text logged, a change by a person).
    created_at: datetime | None = None
    first_touch_at: datetime | None = None
    # Numbers the Reassigned Numbers Database said were disconnected since they were known
    # to be a party's: no text or call goes to them (a new number for the party does).
    reassigned: list[str] = []
    # An unknown sender's first text, for a lead held for a person to read (the account's
    # `unknown_senders: {become: task}`): nothing runs on it until a person acts.
    review: str | None = None
