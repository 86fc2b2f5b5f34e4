"""The do-not-call lists: national data (the US registry, each state's list, Canada's), not
any account's. Beside `tables`, on the same metadata.

A 10-digit NANP number is its block (NPA-NXX, the first six digits) and its line (the last
four). A list keeps one row per block it has numbers in: a dense block as a bitmap of its
10,000 lines (1,250 bytes, bit `line` read with `get_bit`), a sparse one as the sorted list
of its lines (two bytes each), whichever is smaller. The primary key leads with the block,
so one index probe finds a number in every list at once.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from leadflow.store.tables import Base, _now


class DncList(Base):
    """One list: `national` (the FTC's registry), `state:FL`, `ca:national` (the CRTC's)."""

    __tablename__ = "dnc_lists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    # The day the registry's download was current as of: the age the law counts.
    as_of: Mapped[date] = mapped_column(Date)
    imported_at: Mapped[datetime] = _now()
    numbers: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(300))


class DncBlock(Base):
    """The numbers of one list in one NPA-NXX block: `bits` or `lines`, never both."""

    __tablename__ = "dnc_blocks"
    __table_args__ = (
        CheckConstraint("(bits IS NULL) <> (lines IS NULL)", name="one_form"),
        Index("ix_dnc_blocks_list", "list_id"),  # a list's blocks, to replace them
    )

    block: Mapped[int] = mapped_column(Integer, primary_key=True)
    list_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("dnc_lists.id", ondelete="CASCADE"), primary_key=True
    )
    bits: Mapped[bytes | None] = mapped_column(LargeBinary)
    lines: Mapped[list[int] | None] = mapped_column(ARRAY(SmallInteger))


class NumberCheck(Base):
    """What the Reassigned Numbers Database answered about a number since a day: national
    data, as the lists are (the answer depends on the number and the day alone), kept so a
    number is asked again only once the answer is old (`store.reassigned`)."""

    __tablename__ = "number_checks"

    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    since: Mapped[date] = mapped_column(Date, primary_key=True)
    answer: Mapped[str] = mapped_column(String(10))  # yes, no, no data
    checked_at: Mapped[datetime] = _now()
