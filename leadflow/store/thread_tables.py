"""What leads wrote to the account: each inbound text or email reply, its words kept for
the lead's thread (the outbox keeps what the account sent, `history_notes` the calls and
notes). Beside `tables`, on the same metadata."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKeyConstraint, Index, Integer, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from leadflow.store.tables import Base, OutboxMessage


class InboundMessage(Base):
    """A message from a party of a lead, once per lead and provider message (`key`:
    "twilio:<MessageSid>", "sendgrid:<Message-ID>", "api:<id>")."""

    __tablename__ = "inbound_messages"
    __table_args__ = (
        ForeignKeyConstraint(
            ["account_id", "lead_id"], ["leads.account_id", "leads.lead_id"], ondelete="CASCADE"
        ),
        Index("ix_inbound_messages_lead", "account_id", "lead_id", "received_at"),
    )

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    lead_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))
    party: Mapped[str] = mapped_column(String(100))
    from_address: Mapped[str] = mapped_column(String(320))
    to_address: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    keyword: Mapped[str | None] = mapped_column(String(20))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The lead's last campaign message before it, for the per-step report (`store.answered`).
    answered_key: Mapped[str | None] = mapped_column(String(400))
    answered_campaign: Mapped[str | None] = mapped_column(String(100))
    answered_step: Mapped[int | None] = mapped_column(Integer)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# Whom an email reply answers: the emails sent to its sender's address (`outbox.emails_to`).
Index(
    "ix_outbox_emails_to",
    func.lower(OutboxMessage.to_address),
    OutboxMessage.created_at,
    postgresql_where=text("channel = 'email'"),
)
