"""Routing's records: when and where each user works (and whether they are away), each
rule's rotation (one row per account and rule, written under the account's lock), and every
assignment with its reason. Beside `tables`, on the same metadata."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    Time,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from leadflow.store.tables import Base, _now


class Availability(Base):
    """A user as routing sees them: their zone, working hours and days, away or not, and
    the states they hold a licence in (None: any)."""

    __tablename__ = "user_availability"
    __table_args__ = (
        ForeignKeyConstraint(
            ["account_id", "user_id"], ["users.account_id", "users.id"], ondelete="CASCADE"
        ),
    )

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    hours_start: Mapped[time | None] = mapped_column(Time)
    hours_end: Mapped[time | None] = mapped_column(Time)
    work_days: Mapped[list[int]] = mapped_column(JSONB, default=lambda: list(range(7)))
    away: Mapped[bool] = mapped_column(Boolean, default=False)
    licensed: Mapped[list[str] | None] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = _now()


class RoutingRotation(Base):
    """A rule's round-robin state in an account: who was given its last lead, and each
    user's running weight."""

    __tablename__ = "routing_rotations"

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    rule: Mapped[str] = mapped_column(String(100), primary_key=True)
    last: Mapped[str | None] = mapped_column(String(128))
    current: Mapped[dict[str, int]] = mapped_column(JSONB, default=dict)
    updated_at: Mapped[datetime] = _now()


class FirstTouch(Base):
    """Speed to lead: a lead's first human action (a call or text logged, a change by a
    person), who took it, and the seconds since the lead came in. One row a lead, kept once;
    leads from before it was recorded have none."""

    __tablename__ = "first_touches"
    __table_args__ = (
        ForeignKeyConstraint(
            ["account_id", "lead_id"], ["leads.account_id", "leads.lead_id"], ondelete="CASCADE"
        ),
        Index("ix_first_touches_at", "account_id", "at"),
    )

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    lead_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    by: Mapped[str] = mapped_column(String(100))
    seconds: Mapped[int] = mapped_column(Integer)
    # The same in the working hours of the user who took it (NULL: no hours on record).
    business_seconds: Mapped[int | None] = mapped_column(Integer)


class RoutingAssignment(Base):
    """One routing of a lead (its `attempt`: the first, then each time it asks again): the
    rule, the user given it (none: it waits, or is offered), and why. Written once by the
    routing activity (a retried one reads it); an offer's row is taken by the first user to
    accept (`agent`, `taken_at`) or closed when its window runs out. `terms` keeps what a
    claim is checked against (designation, caps, the lead's region, work_within)."""

    __tablename__ = "routing_assignments"
    __table_args__ = (
        Index("ix_routing_assignments_agent", "account_id", "agent", "at"),
        Index(
            "ix_routing_assignments_offers",
            "account_id",
            "at",
            postgresql_where=text("offered IS NOT NULL AND agent IS NULL AND closed_at IS NULL"),
        ),
    )

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    lead_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule: Mapped[str | None] = mapped_column(String(100))
    agent: Mapped[str | None] = mapped_column(String(128))
    why: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    offered: Mapped[list[str] | None] = mapped_column(JSONB)  # first to claim, the pond
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    terms: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    decided_at: Mapped[datetime] = _now()  # the database's clock, for speed-to-offer figures
    notices: Mapped[list[str] | None] = mapped_column(JSONB)  # the outbox keys it wrote
