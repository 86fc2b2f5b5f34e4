"""What the reports read beyond the CRM rows: each logged call's facts (`call_logs`), and
the indexes the reports walk. Beside `tables`, on the same metadata.

The lead's row keeps the milestones it ever reached (`leads.reached`, for the funnel) and
its source; an outbox row of a campaign step keeps the campaign and the step; a first touch
keeps its seconds in the working hours of the user who took it (`first_touches`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKeyConstraint, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from leadflow.store.tables import Base, Lead, OutboxMessage

_COUNTED = ["attempt", "contact", "actor"]


class CallLog(Base):
    """A call (or a text) logged with its disposition, once per history note (`key`): whether
    it reached the lead, and which of the lead's outbound calls it was (1 for the first)."""

    __tablename__ = "call_logs"
    __table_args__ = (
        ForeignKeyConstraint(
            ["account_id", "lead_id"], ["leads.account_id", "leads.lead_id"], ondelete="CASCADE"
        ),
        # What the reports count of a call, read from the index alone.
        Index("ix_call_logs_at", "account_id", "at", postgresql_include=_COUNTED),
        Index("ix_call_logs_lead", "account_id", "lead_id", "at", postgresql_include=_COUNTED),
    )

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(128))
    lead_id: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    channel: Mapped[str] = mapped_column(String(10))
    direction: Mapped[str] = mapped_column(String(10))
    disposition: Mapped[str] = mapped_column(String(100))
    contact: Mapped[bool] = mapped_column(Boolean)
    attempt: Mapped[int | None] = mapped_column(Integer)  # outbound calls only
    actor: Mapped[str] = mapped_column(String(200))
    # A contact's: the lead's last campaign message before it (`store.answered`).
    answered_key: Mapped[str | None] = mapped_column(String(400))
    answered_campaign: Mapped[str | None] = mapped_column(String(100))
    answered_step: Mapped[int | None] = mapped_column(Integer)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# The leads that came in over a period, and the dashboard's milestone x status counts.
Index("ix_leads_created", Lead.account_id, Lead.created_at)
Index("ix_leads_disposition", Lead.account_id, Lead.milestone, Lead.status)
# A period's campaign messages, with what the per-step report counts (their state and what
# came after them), read from the index.
Index(
    "ix_outbox_steps",
    OutboxMessage.account_id,
    OutboxMessage.created_at,
    postgresql_include=["campaign", "step", "status", "answered"],
    postgresql_where=text("campaign IS NOT NULL"),
)
