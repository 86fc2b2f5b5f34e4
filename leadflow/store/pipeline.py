"""The pipeline's shape: the dispositions dashboard (every lead now by milestone and
status, the combinations the playbook's links do not allow marked) and the funnel by
milestone (how many of a period's leads ever reached each). See `reports`."""

from __future__ import annotations

from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.playbook.schema import Playbook
from leadflow.store.reports import Period, reading


class Combination(BaseModel):
    milestone: str
    status: str | None
    leads: int = Field(description="the account's leads at this milestone and status now")
    linked: bool = Field(description="false: the playbook's links no longer allow it")


DISPOSITIONS_SQL = (
    "SELECT milestone, status, count(*) AS n FROM leads WHERE account_id = :account "
    "GROUP BY milestone, status"
)


async def dispositions(engine: AsyncEngine, account_id: str, book: Playbook) -> list[Combination]:
    """The account's leads by milestone and status now, in the playbook's order (others
    last), each combination the links do not allow marked."""
    async with reading(engine) as conn:
        rows = (
            (await conn.execute(text(DISPOSITIONS_SQL), {"account": account_id})).mappings().all()
        )
    milestones = {name: i for i, name in enumerate(book.milestones)}
    statuses = {s.name: i for i, s in enumerate(book.statuses)}
    found = [
        Combination(
            milestone=row["milestone"],
            status=row["status"],
            leads=row["n"],
            linked=row["status"] in book.links.get(row["milestone"], []),
        )
        for row in rows
    ]
    far = len(milestones) + len(statuses)
    return sorted(
        found,
        key=lambda c: (
            milestones.get(c.milestone, far),
            c.milestone,
            statuses.get(c.status or "", far),
            c.status or "",
        ),
    )


FUNNEL_SQL = """
SELECT m, count(*) AS n FROM leads l, unnest(l.reached) AS m
WHERE l.account_id = :account AND l.created_at >= :start AND l.created_at < :end
GROUP BY m
"""
PERIOD_LEADS_SQL = (
    "SELECT count(*) FROM leads WHERE account_id = :account "
    "AND created_at >= :start AND created_at < :end"
)


class Stage(BaseModel):
    milestone: str
    leads: int = Field(description="leads of the period that ever reached the milestone")
    share: float = Field(description="of the period's leads")


async def funnel(
    engine: AsyncEngine, account_id: str, period: Period, book: Playbook
) -> list[Stage]:
    args = period.args(account_id)
    async with reading(engine) as conn:
        found = await conn.execute(text(FUNNEL_SQL), args)
        counts = {r["m"]: r["n"] for r in found.mappings()}
        total = (await conn.execute(text(PERIOD_LEADS_SQL), args)).scalar_one()
    names = [*book.milestones, *sorted(m for m in counts if m not in book.milestones)]
    return [
        Stage(
            milestone=m,
            leads=counts.get(m, 0),
            share=round(counts.get(m, 0) / total, 4) if total else 0.0,
        )
        for m in names
    ]
