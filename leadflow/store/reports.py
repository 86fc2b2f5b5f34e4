"""The numbers a sales manager reads, from PostgreSQL, each in one or two indexed queries:
speed to lead, call attempts, campaign steps and the leaderboard here, the dispositions
dashboard and the funnel in `pipeline`.

Every report but the dispositions dashboard reads a period: the leads that came in from
`start` to `end` (a cohort: their first touches, calls, conversions, whenever those came)
or, for campaign steps, the messages written in it. The dashboard counts the account's
leads as they are now. Times are UTC; seconds are whole.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from leadflow.playbook.schema import Conversion, Playbook
from leadflow.store.answered import OPTED_OUT, REACHED, REPLIED

# Speed to lead's marks: the share of leads first touched within each.
WITHIN = {"5 min": 300, "15 min": 900, "1 h": 3600, "4 h": 14400, "24 h": 86400}
ATTEMPTS = 8  # calls counted one by one; later ones together, as the 9th row ("9+")
SpeedBy = Literal["agent", "source", "rule"]


# A report sorts and groups up to a few hundred thousand rows: in memory, not in temporary
# files (PostgreSQL's default of 4 MB spills them), for its own transaction alone.
WORK_MEM = "64MB"


@asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for a report's statements, with the memory they sort and group in."""
    async with engine.connect() as conn:
        await conn.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
        yield conn


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    def args(self, account_id: str) -> dict[str, Any]:
        return {"account": account_id, "start": self.start, "end": self.end}


def converted_by(book: Playbook) -> Conversion:
    """What counts as converted: the playbook's `conversion`; else a status named
    "Converted"; else the first of the milestones Sold, Funded or Closed it has (the last
    step of the shipped presets); else nothing."""
    if book.conversion is not None:
        return book.conversion
    if book.has_status("Converted"):
        return Conversion(statuses=["Converted"])
    for milestone in ("Sold", "Funded", "Closed"):
        if milestone in book.milestones:
            return Conversion(milestones=[milestone])
    return Conversion()


class Speed(BaseModel):
    """Speed to lead for a group of leads (all of them when `group` is None)."""

    group: str | None = Field(description="the agent, source or rule; none: every lead")
    leads: int = Field(description="leads that came in over the period")
    reached: int = Field(description="of them, those a person has touched")
    never_reached: int = Field(description="of them, those no person has touched yet")
    median_seconds: int | None = Field(description="median time to the first human touch")
    p90_seconds: int | None = Field(description="90th percentile of that time")
    business_median_seconds: int | None = Field(
        description="the median counted in the working hours of the user who touched the lead"
    )
    business_p90_seconds: int | None = Field(description="the 90th percentile, likewise")
    within: dict[str, float] = Field(
        description="share of the leads first touched within 5 and 15 minutes, 1, 4, 24 hours"
    )


_GROUPS: dict[str | None, str] = {
    None: "NULL",
    # Who touched it first; a lead never touched, the user routing gave it last.
    "agent": "coalesce(f.by, l.agent, '(nobody)')",
    "source": "coalesce(l.source, '(none)')",
    "rule": "coalesce(first_rule.rule, '(not routed)')",  # its first routing's
}
_MARKS = ", ".join(f"count(*) FILTER (WHERE f.seconds <= {s}) AS w{s}" for s in WITHIN.values())
SPEED_SQL = f"""
SELECT {{group}} AS grp, count(*) AS leads, count(f.seconds) AS reached,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY f.seconds) AS median,
  percentile_cont(0.9) WITHIN GROUP (ORDER BY f.seconds) AS p90,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY coalesce(f.business_seconds, f.seconds)) AS bmed,
  percentile_cont(0.9) WITHIN GROUP (ORDER BY coalesce(f.business_seconds, f.seconds)) AS bp90,
  {_MARKS}
FROM leads l
LEFT JOIN first_touches f ON f.account_id = l.account_id AND f.lead_id = l.lead_id
{{joins}}
WHERE l.account_id = :account AND l.created_at >= :start AND l.created_at < :end
GROUP BY grp ORDER BY leads DESC, grp
"""
_JOINS = {
    "rule": """LEFT JOIN routing_assignments first_rule ON first_rule.account_id = l.account_id
  AND first_rule.lead_id = l.lead_id AND first_rule.attempt = 1""",
}


def _whole(value: float | None) -> int | None:
    return None if value is None else round(value)


def speed_sql(by: SpeedBy | None) -> str:
    """Speed to lead's statement, grouped `by` (all leads together when None)."""
    return SPEED_SQL.format(group=_GROUPS[by], joins=_JOINS.get(by or "", ""))


async def speed(
    engine: AsyncEngine, account_id: str, period: Period, by: SpeedBy | None = None
) -> list[Speed]:
    async with reading(engine) as conn:
        found = await conn.execute(text(speed_sql(by)), period.args(account_id))
        rows = found.mappings().all()
    return [
        Speed(
            group=row["grp"],
            leads=row["leads"],
            reached=row["reached"],
            never_reached=row["leads"] - row["reached"],
            median_seconds=_whole(row["median"]),
            p90_seconds=_whole(row["p90"]),
            business_median_seconds=_whole(row["bmed"]),
            business_p90_seconds=_whole(row["bp90"]),
            within={
                mark: round(row[f"w{s}"] / row["leads"], 4) if row["leads"] else 0.0
                for mark, s in WITHIN.items()
            },
        )
        for row in rows
    ]


class Attempt(BaseModel):
    """The lead's nth outbound call, over the leads of the period."""

    attempt: str = Field(description="1 to 8, then 9+ for every later call")
    calls: int = Field(description="calls made as that attempt")
    contacts: int = Field(description="of them, those whose disposition reached the lead")
    contact_rate: float = Field(description="contacts / calls")
    first_contacts: int = Field(description="leads first reached on that attempt")
    converted: int = Field(description="of those leads, the ones converted since")


ATTEMPTS_SQL = f"""
WITH calls AS MATERIALIZED (
  SELECT c.lead_id, c.attempt, c.contact,
    l.reached && CAST(:milestones AS varchar[]) OR l.status = ANY(CAST(:statuses AS varchar[]))
      AS won
  FROM leads l JOIN call_logs c ON c.account_id = l.account_id AND c.lead_id = l.lead_id
  WHERE l.account_id = :account AND l.created_at >= :start AND l.created_at < :end
    AND c.attempt IS NOT NULL
), made AS (
  SELECT least(attempt, {ATTEMPTS + 1}) AS n, count(*) AS calls,
    count(*) FILTER (WHERE contact) AS contacts
  FROM calls GROUP BY 1
), firsts AS (
  SELECT least(min(attempt), {ATTEMPTS + 1}) AS n, bool_or(won) AS won
  FROM calls WHERE contact GROUP BY lead_id
), reached AS (
  SELECT n, count(*) AS first_contacts, count(*) FILTER (WHERE won) AS converted
  FROM firsts GROUP BY n
)
SELECT made.n, made.calls, made.contacts, coalesce(reached.first_contacts, 0) AS first_contacts,
  coalesce(reached.converted, 0) AS converted
FROM made LEFT JOIN reached ON reached.n = made.n ORDER BY made.n
"""


async def attempts(
    engine: AsyncEngine, account_id: str, period: Period, conversion: Conversion
) -> list[Attempt]:
    args = period.args(account_id)
    args |= {"milestones": conversion.milestones, "statuses": conversion.statuses}
    async with reading(engine) as conn:
        rows = (await conn.execute(text(ATTEMPTS_SQL), args)).mappings().all()
    return [
        Attempt(
            attempt=str(row["n"]) if row["n"] <= ATTEMPTS else f"{ATTEMPTS + 1}+",
            calls=row["calls"],
            contacts=row["contacts"],
            contact_rate=round(row["contacts"] / row["calls"], 4) if row["calls"] else 0.0,
            first_contacts=row["first_contacts"],
            converted=row["converted"],
        )
        for row in rows
    ]


class StepFigures(BaseModel):
    """A campaign step's messages written over the period, and what came after them: a
    reply, an opt-out or a contact counts for the lead's last campaign message before it."""

    campaign: str
    step: int = Field(description="the step's place in its campaign, 1 for the first")
    messages: int = Field(description="messages the step wrote")
    sent: int = Field(description="taken by the provider")
    delivered: int = Field(description="delivered, as the provider reported")
    failed: int = Field(description="failed or undelivered")
    held_back: int = Field(description="never sent: opted out, its window closed, a list")
    replied: int = Field(description="messages the lead answered next")
    opted_out: int = Field(description="messages the lead answered with an opt-out")
    contacted_after: int = Field(description="messages after which a call reached the lead")


# A period's campaign messages by state and by what came after them (`outbox.answered`, set
# when a reply or a contact is written: `store.answered`), in one pass over ix_outbox_steps.
STEPS_SQL = """
SELECT campaign, step, status, answered, count(*) AS n
FROM outbox
WHERE account_id = :account AND created_at >= :start AND created_at < :end
  AND campaign IS NOT NULL
GROUP BY campaign, step, status, answered
"""
# Which delivery states each column counts (a message is in one state).
_COUNTS = {
    "sent": ("sent", "delivered", "read", "undelivered"),
    "delivered": ("delivered", "read"),
    "failed": ("failed", "undelivered"),
    "held_back": ("suppressed", "expired"),
}
# Which bit of `answered` each column counts.
_AFTER = {"replied": REPLIED, "opted_out": OPTED_OUT, "contacted_after": REACHED}


async def steps(engine: AsyncEngine, account_id: str, period: Period) -> list[StepFigures]:
    async with reading(engine) as conn:
        rows = (await conn.execute(text(STEPS_SQL), period.args(account_id))).mappings().all()
    states: dict[tuple[str, int], dict[str, int]] = {}
    after: dict[tuple[str, int], dict[str, int]] = {}
    for row in rows:
        step = (row["campaign"], row["step"])
        counted = states.setdefault(step, {})
        counted[row["status"]] = counted.get(row["status"], 0) + row["n"]
        marks = after.setdefault(step, dict.fromkeys(_AFTER, 0))
        for name, bit in _AFTER.items():
            marks[name] += row["n"] if row["answered"] & bit else 0
    return [
        StepFigures(
            campaign=campaign,
            step=step + 1,
            messages=sum(counted.values()),
            **{name: sum(counted.get(s, 0) for s in chosen) for name, chosen in _COUNTS.items()},
            **after[(campaign, step)],
        )
        for (campaign, step), counted in sorted(states.items())
    ]


class UserFigures(BaseModel):
    """A user's figures over the period."""

    user: str = Field(description="the user, as the lead's history names them")
    leads_given: int = Field(description="leads of the period routing gave them")
    first_touches: int = Field(description="leads of the period they touched first")
    median_seconds: int | None = Field(description="their median time to that first touch")
    calls: int = Field(description="outbound calls they logged over the period")
    contacts: int = Field(description="of them, those that reached the lead")
    converted: int = Field(description="leads given them over the period, converted since")


GIVEN_SQL = """
SELECT l.agent AS who, count(*) AS given,
  count(*) FILTER (WHERE l.reached && CAST(:milestones AS varchar[])
                   OR l.status = ANY(CAST(:statuses AS varchar[]))) AS converted
FROM leads l
WHERE l.account_id = :account AND l.created_at >= :start AND l.created_at < :end
  AND l.agent IS NOT NULL
GROUP BY l.agent
"""
TOUCHED_SQL = """
SELECT f.by AS who, count(*) AS touches,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY f.seconds) AS median
FROM leads l JOIN first_touches f ON f.account_id = l.account_id AND f.lead_id = l.lead_id
WHERE l.account_id = :account AND l.created_at >= :start AND l.created_at < :end
GROUP BY f.by
"""
CALLED_SQL = """
SELECT actor AS who, count(*) AS calls, count(*) FILTER (WHERE contact) AS contacts
FROM call_logs
WHERE account_id = :account AND at >= :start AND at < :end AND attempt IS NOT NULL
GROUP BY actor
"""


async def leaderboard(
    engine: AsyncEngine, account_id: str, period: Period, conversion: Conversion
) -> list[UserFigures]:
    """Every user with a figure over the period, most conversions first."""
    args = period.args(account_id)
    args |= {"milestones": conversion.milestones, "statuses": conversion.statuses}
    table: dict[str, dict[str, Any]] = {}
    async with reading(engine) as conn:
        for sql in (GIVEN_SQL, TOUCHED_SQL, CALLED_SQL):
            query_args = args if sql is GIVEN_SQL else period.args(account_id)
            for row in (await conn.execute(text(sql), query_args)).mappings():
                table.setdefault(row["who"], {}).update(row)
    standings = [
        UserFigures(
            user=who,
            leads_given=got.get("given", 0),
            first_touches=got.get("touches", 0),
            median_seconds=_whole(got.get("median")),
            calls=got.get("calls", 0),
            contacts=got.get("contacts", 0),
            converted=got.get("converted", 0),
        )
        for who, got in table.items()
    ]
    return sorted(standings, key=lambda s: (-s.converted, -s.contacts, -s.first_touches, s.user))
