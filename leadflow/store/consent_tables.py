"""Consent as a record: each party's consent with its evidence, kept with history (a row is
never overwritten; a revocation ends it beside it). Beside `tables`, on the same metadata."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from leadflow.store.tables import Base, _now


class ConsentRecord(Base):
    """A party's consent to be contacted on some channels, and what shows it was given: the
    web form and the address it was sent from, a certificate (TrustedForm, Jornaya), a
    recorded call, a reply; the words they agreed to, and the seller they name."""

    __tablename__ = "consent_records"
    __table_args__ = (Index("ix_consent_records_lead", "account_id", "lead_id", "given_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(128))
    lead_id: Mapped[str] = mapped_column(String(128))
    party: Mapped[str] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(320))  # the phone or email it covers
    channels: Mapped[list[str]] = mapped_column(ARRAY(String(10)))
    scope: Mapped[str] = mapped_column(String(20))  # marketing or informational
    means: Mapped[str] = mapped_column(String(20))  # web_form, certificate, recorded_call...
    given_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    form_url: Mapped[str | None] = mapped_column(Text)
    ip: Mapped[str | None] = mapped_column(String(45))
    certificate: Mapped[str | None] = mapped_column(String(200))  # a TrustedForm/Jornaya id
    disclosure: Mapped[str] = mapped_column(Text)  # the words agreed to, or their version
    seller: Mapped[str] = mapped_column(String(200))  # whom it allows to call or text
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = _now()
    # Set once, by the revocation that ended it: the grant itself is never changed.
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_why: Mapped[str | None] = mapped_column(String(200))
