"""The CRM tables. Every row an activity writes carries a business key, so retries upsert."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _of_a_lead() -> ForeignKeyConstraint:
    """Rows that belong to a lead go when the lead goes."""
    return ForeignKeyConstraint(
        ["account_id", "lead_id"], ["leads.account_id", "leads.lead_id"], ondelete="CASCADE"
    )


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class Lead(Base):
    """One row per lead; the workflow with `workflow_id` is the source of truth for its schedule."""

    __tablename__ = "leads"
    __table_args__ = (
        Index("ix_leads_playbook_version", "account_id", "playbook", "playbook_version"),
    )

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    lead_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(300), unique=True)
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    milestone: Mapped[str] = mapped_column(String(100))
    status: Mapped[str | None] = mapped_column(String(100))
    time_zone: Mapped[str] = mapped_column(String(64))
    # The playbook version the lead runs (NULL: recorded before versions were kept here).
    playbook: Mapped[str | None] = mapped_column(String(100))
    playbook_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    source: Mapped[str | None] = mapped_column(String(100))  # for the reports, as routing's
    agent: Mapped[str | None] = mapped_column(String(128))  # the user routing gave it last
    reached: Mapped[list[str]] = mapped_column(ARRAY(String(100)), server_default="{}")


class HistoryNote(Base):
    """Every update to a lead leaves a note (action, milestone, status, text, who, when)."""

    __tablename__ = "history_notes"
    __table_args__ = (
        _of_a_lead(),
        Index("ix_history_notes_lead", "account_id", "lead_id", "occurred_at"),
    )

    # Business key of the change that wrote the note: a retried activity hits the same key.
    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(128))
    lead_id: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(100))
    milestone: Mapped[str] = mapped_column(String(100))
    status: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(200))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = _now()


class Task(Base):
    """Work for a person on the team: a follow-up that came due, an assignment to make."""

    __tablename__ = "tasks"
    __table_args__ = (
        _of_a_lead(),
        Index("ix_tasks_open_due", "account_id", "due_at", postgresql_where="completed_at IS NULL"),
    )

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(128))
    lead_id: Mapped[str] = mapped_column(String(128))
    subject: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str] = mapped_column(Text, default="")
    assignee: Mapped[str | None] = mapped_column(String(200))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()


class CallQueueEntry(Base):
    """At most one entry per lead, the call an agent should make next."""

    __tablename__ = "call_queue"
    __table_args__ = (
        _of_a_lead(),
        Index("ix_call_queue_next", "account_id", text("priority DESC"), "available_at"),
        Index(
            "ix_call_queue_held",
            "account_id",
            "holder",
            text("priority DESC"),
            "available_at",
            postgresql_where=text("holder IS NOT NULL"),
        ),
    )

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    lead_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    key: Mapped[str] = mapped_column(String(400))
    label: Mapped[str] = mapped_column(String(20))
    priority: Mapped[int] = mapped_column(Integer)
    available_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    notes: Mapped[str] = mapped_column(Text, default="")
    # Why it is not due at once, when it is not: a hold after a call, calling hours...
    why: Mapped[str] = mapped_column(Text, default="", server_default="")
    queued_at: Mapped[datetime] = _now()
    # A claim is a lease: past `claimed_until` the call is back for anyone to take.
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When its window closes (no claim from then on) and the number it dials (no claim while
    # that number is opted out of calls anywhere in the account). NULL: rows from before.
    callable_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    phone: Mapped[str | None] = mapped_column(String(32))
    # The caps on the person that count calls (`CapCheck`s): checked across the account's
    # leads at the claim. NULL: none.
    caps: Mapped[list[dict[str, object]] | None] = mapped_column(JSONB)
    # The do-not-call lists the claim checks the number on, unless `exemption` says why none
    # holds it (the party's written consent, a live business relationship): `engine.consent`.
    do_not_call: Mapped[list[str] | None] = mapped_column(ARRAY(String(40)))
    exemption: Mapped[str | None] = mapped_column(Text)
    # The day since which the number is known to be the party's: the claim asks the
    # Reassigned Numbers Database about it (`activities.reassigned`). NULL: no check.
    reassigned_since: Mapped[date | None] = mapped_column(Date)
    # The user routing gave the lead to, now: their claims take its call first, and no
    # other agent's while they are on duty (`store.callable`). NULL: nobody.
    holder: Mapped[str | None] = mapped_column(String(128))


class CallMade(Base):
    """A call handed to an agent, with the number it dials: the caps on a person count these
    across the account's leads, beside the texts in the outbox. Written by the claim (the
    moment of contact for a call); a claim given back uncalled removes its row."""

    __tablename__ = "calls_made"
    __table_args__ = (Index("ix_calls_made_phone", "account_id", "phone", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(128))
    phone: Mapped[str] = mapped_column(String(32))
    lead_id: Mapped[str] = mapped_column(String(128))
    agent: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OutboxMessage(Base):
    """Every message a lead is to receive, written before any provider is called, and
    routing's notices to users about a lead (`audience` "agent": `store.notices`)."""

    __tablename__ = "outbox"
    __table_args__ = (
        _of_a_lead(),
        Index("ix_outbox_lead", "account_id", "lead_id", "created_at"),
        # What provider webhooks route by: a status callback's message id, and the texts
        # sent to the address an inbound text came from.
        Index(
            "ix_outbox_provider_id",
            "provider_id",
            postgresql_where=text("provider_id IS NOT NULL"),
        ),
        Index(
            "ix_outbox_texts_to",
            "to_address",
            "created_at",
            postgresql_where=text("channel IN ('sms', 'mms')"),
        ),
        # What the account's caps count: the messages it tried to an address, by when.
        Index(
            "ix_outbox_reached",
            "account_id",
            "to_address",
            "attempted_at",
            postgresql_where=text("attempted_at IS NOT NULL"),
        ),
    )

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(128))
    lead_id: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(10))
    party: Mapped[str] = mapped_column(String(100))
    to_address: Mapped[str] = mapped_column(String(320))
    sender_id: Mapped[str] = mapped_column(String(200))
    from_number: Mapped[str | None] = mapped_column(String(32))  # texts: the sender's own
    template: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    media: Mapped[list[str]] = mapped_column(JSONB, default=list)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    provider_id: Mapped[str | None] = mapped_column(String(100))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    attempted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    # The end of its window (never sent at or after it), the caps it counts towards. NULL: none.
    send_by: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    caps: Mapped[list[dict[str, object]] | None] = mapped_column(JSONB)
    do_not_call: Mapped[list[str] | None] = mapped_column(ARRAY(String(40)))  # as the queue's
    exemption: Mapped[str | None] = mapped_column(Text)
    reassigned_since: Mapped[date | None] = mapped_column(Date)  # as the queue's
    # "lead" (a party), or "agent" (a user routing told of it: no event of theirs, no cap).
    audience: Mapped[str] = mapped_column(String(10), default="lead", server_default="lead")
    campaign: Mapped[str | None] = mapped_column(String(100))  # a campaign step's message
    step: Mapped[int | None] = mapped_column(Integer)
    # What came after it (`store.answered`): 1 a reply, 2 an opt-out, 4 a call reached the lead.
    answered: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")


class AuditEntry(Base):
    """Why each touch fired, was deferred, held or skipped."""

    __tablename__ = "audit_log"
    __table_args__ = (
        _of_a_lead(),
        Index("ix_audit_log_lead", "account_id", "lead_id", "at"),
    )

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(128))
    lead_id: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    touch_key: Mapped[str] = mapped_column(String(400))
    outcome: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Account(Base):
    """A team using leadflow: its playbook and its API keys."""

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    playbook: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = _now()


class LeadParty(Base):
    """The people on a lead, with the contact data an agent sees in the queue."""

    __tablename__ = "parties"
    __table_args__ = (_of_a_lead(),)

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    lead_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    role: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(320))
    time_zone: Mapped[str | None] = mapped_column(String(64))
    sms_consent: Mapped[bool] = mapped_column(Boolean, default=False)


class PlaybookVersion(Base):
    """Every version of an account's playbook; a lead keeps the one it started with."""

    __tablename__ = "playbook_versions"

    account_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    body: Mapped[dict[str, object]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _now()


class PlaybookContent(Base):
    """Every playbook a lead may run, by its content's digest (one digest, one content)."""

    __tablename__ = "playbook_contents"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    body: Mapped[dict[str, object]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _now()


class EncryptionKeyCheck(Base):
    """A value sealed once with each encryption key id: a process started with another key
    under that id is stopped before it writes anything it could not read back."""

    __tablename__ = "encryption_key_checks"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = _now()


class TextCount(Base):
    """Texts an account sent, per hour: no account sends past SMS_DAILY_LIMIT a day."""

    __tablename__ = "text_counts"

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    texts: Mapped[int] = mapped_column(Integer)


class OptInRecord(Base):
    """An opt-in given through the API: who recorded it, for which lead, on what evidence."""

    __tablename__ = "opt_in_records"
    __table_args__ = (Index("ix_opt_in_records_address", "account_id", "channel", "address"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("accounts.id", ondelete="CASCADE")
    )
    lead_id: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(10))
    address: Mapped[str] = mapped_column(String(320))
    actor: Mapped[str] = mapped_column(String(200))
    evidence: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = _now()


class _AddressFact:
    """What an address said about a channel, account-wide: who recorded it, and when."""

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    channel: Mapped[str] = mapped_column(String(10), primary_key=True)
    address: Mapped[str] = mapped_column(String(320), primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OptOut(_AddressFact, Base):
    """An address that asked not to be contacted on a channel, across the account."""

    __tablename__ = "opt_outs"


class Consent(_AddressFact, Base):
    """Recorded consent to automated texts, per address."""

    __tablename__ = "consents"


class UnsubscribeLink(Base):
    """The link in every email to an address that unsubscribes it from the account's emails
    (RFC 8058 one-click): one per account and address, kept for as long as emails may be
    read, a random token that names nothing in the URL."""

    __tablename__ = "unsubscribe_links"
    __table_args__ = (Index("ix_unsubscribe_links_token", "token", unique=True),)

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    address: Mapped[str] = mapped_column(String(320), primary_key=True)
    token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()


class WebhookEvent(Base):
    """Provider events already handled: a repeated delivery is acknowledged and ignored."""

    __tablename__ = "webhook_events"

    source: Mapped[str] = mapped_column(String(20), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    received_at: Mapped[datetime] = _now()
