"""Bulk imports: a file of leads (`imports`), each of its rows with what became of it
(`import_rows`), so an import resumes where it stopped and its report lists every line.
Beside `tables`, on the same metadata; with the parties' indexes duplicates are found by."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from leadflow.store.tables import Base, LeadParty

# What became of a row: waiting to start; started (a new lead); there already (its lead id
# was taken: an earlier try of this import, or a lead from before); invalid (the line's
# problem in `detail`); held as a duplicate (of a line, or of an account's lead); refused
# by the playbook or the lead's own checks at its start.
STATES = ("pending", "started", "existing", "invalid", "duplicate", "refused")


class LeadImport(Base):
    """One file brought in for an account: the same file (and mapping) again is the same
    import, so running it again resumes it."""

    __tablename__ = "imports"
    __table_args__ = (UniqueConstraint("account_id", "digest", name="uq_imports_file"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))  # the file's name, as given
    digest: Mapped[str] = mapped_column(String(64))  # of the file and its mapping
    total: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ImportRow(Base):
    """A line of an import's file (1 is the header's), its lead, and what became of it."""

    __tablename__ = "import_rows"
    __table_args__ = (
        Index(
            "ix_import_rows_pending",
            "import_id",
            "line",
            postgresql_where=text("state = 'pending'"),
        ),
    )

    import_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("imports.id", ondelete="CASCADE"), primary_key=True
    )
    line: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[str | None] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(Text)
    body: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # the lead, until it starts
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# An account's leads by a party's phone, and by email in any case: what a duplicate is.
Index("ix_parties_phone", LeadParty.account_id, LeadParty.phone)
Index("ix_parties_email", LeadParty.account_id, func.lower(LeadParty.email))
