"""The Reassigned Numbers Database's answers, kept: a number is asked again about a day only
once its answer is older than `FRESH_DAYS` (the database takes the carriers' disconnections
every month), and a "yes" is kept for good (a disconnection is permanent)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.store.dnc_tables import NumberCheck

FRESH_DAYS = 30


@dataclass(frozen=True)
class Checked:
    since: date
    answer: str
    checked_at: datetime


async def known(engine: AsyncEngine, number: str, since: date, now: datetime) -> str | None:
    """The answer on record for `number` since `since`, unless it is too old to rely on."""
    query = select(NumberCheck.answer, NumberCheck.checked_at).where(
        NumberCheck.number == number, NumberCheck.since == since
    )
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    if row is None:
        return None
    if row.answer == "yes" or now - row.checked_at < timedelta(days=FRESH_DAYS):
        return str(row.answer)
    return None


async def record(engine: AsyncEngine, number: str, since: date, answer: str, now: datetime) -> None:
    values = {"number": number, "since": since, "answer": answer, "checked_at": now}
    statement = insert(NumberCheck).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=["number", "since"], set_={"answer": answer, "checked_at": now}
    )
    async with engine.begin() as conn:
        await conn.execute(statement)


def reported_sql() -> str:
    """SQL true when the Reassigned Numbers Database said the queued call `q`'s number was
    disconnected since the day it was known to be the party's: no agent is handed it."""
    return """(q.reassigned_since IS NOT NULL AND EXISTS (
        SELECT 1 FROM number_checks AS r
        WHERE r.number = q.phone AND r.since = q.reassigned_since AND r.answer = 'yes'))"""


async def latest(engine: AsyncEngine, number: str) -> Checked | None:
    """The last answer the database gave about `number`, whatever the day asked about."""
    query = (
        select(NumberCheck.since, NumberCheck.answer, NumberCheck.checked_at)
        .where(NumberCheck.number == number)
        .order_by(NumberCheck.checked_at.desc())
        .limit(1)
    )
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    return None if row is None else Checked(row.since, row.answer, row.checked_at)
