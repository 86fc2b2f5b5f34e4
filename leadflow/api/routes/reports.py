"""Reports: the numbers a sales manager reads (speed to lead, call attempts, campaign steps,
the dispositions dashboard, the funnel, the leaderboard), and the leads whose milestone/status
combination the playbook no longer links."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field

from leadflow.api.deps import Authenticated, Book, Database
from leadflow.api.errors import error_responses
from leadflow.api.periods import Day, period
from leadflow.engine.refs import IDENTIFIER
from leadflow.store import leads, pipeline, reports
from leadflow.store.leads import Unlinked
from leadflow.store.pipeline import Combination, Stage
from leadflow.store.reports import (
    Attempt,
    Period,
    Speed,
    SpeedBy,
    StepFigures,
    UserFigures,
    converted_by,
)

router = APIRouter(
    prefix="/v1/reports", tags=["reports"], responses=error_responses(400, 401, 413, 422, 503)
)


class UnlinkedPage(BaseModel):
    playbook: str
    items: list[Unlinked]
    next_cursor: str | None = None


@router.get("/unlinked", response_model=UnlinkedPage)
async def unlinked(
    caller: Authenticated,
    database: Database,
    book: Book,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    cursor: Annotated[
        str | None, Query(pattern=IDENTIFIER, description="next_cursor of the page before")
    ] = None,
) -> UnlinkedPage:
    """After the links change, the leads whose current combination became invalid."""
    linked = [(m, s) for m, statuses in book.links.items() for s in statuses]
    found = await leads.unlinked(database, caller.account_id, linked, after=cursor, limit=limit + 1)
    items = found[:limit]
    more = len(found) > limit
    return UnlinkedPage(
        playbook=f"{book.name} v{book.version}",
        items=items,
        next_cursor=items[-1].lead_id if more and items else None,
    )


# ---- the numbers: each report over a period, as the workspace's Reports page shows them --

Start = Annotated[Day, Query(description="the first day, YYYY-MM-DD (default: 29 days before end)")]
End = Annotated[Day, Query(description="the last day, YYYY-MM-DD, included (default: today)")]
Zone = Annotated[str, Query(max_length=64, description="the IANA zone the days are in")]


def _period(start: date | None, end: date | None, zone: str) -> Period:
    try:
        return period(start, end, zone)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None


class SpeedReport(BaseModel):
    by: SpeedBy | None = Field(description="how the leads are grouped; none: all together")
    rows: list[Speed] = Field(description="one row per group, most leads first")


@router.get("/speed-to-lead", response_model=SpeedReport)
async def speed_to_lead(
    caller: Authenticated,
    database: Database,
    start: Start = None,
    end: End = None,
    zone: Zone = "UTC",
    by: Annotated[SpeedBy | None, Query(description="agent, source or rule")] = None,
) -> SpeedReport:
    """Time from a lead's creation to its first human touch, over the leads of the period."""
    found = await reports.speed(database, caller.account_id, _period(start, end, zone), by)
    return SpeedReport(by=by, rows=found)


@router.get("/attempts", response_model=list[Attempt])
async def call_attempts(
    caller: Authenticated,
    database: Database,
    book: Book,
    start: Start = None,
    end: End = None,
    zone: Zone = "UTC",
) -> list[Attempt]:
    """Contact rate by call attempt (1st ... 8th, 9+) and the conversions of the leads first
    reached on each, over the leads of the period."""
    chosen = _period(start, end, zone)
    return await reports.attempts(database, caller.account_id, chosen, converted_by(book))


@router.get("/steps", response_model=list[StepFigures])
async def campaign_steps(
    caller: Authenticated,
    database: Database,
    start: Start = None,
    end: End = None,
    zone: Zone = "UTC",
) -> list[StepFigures]:
    """Per campaign step: its messages of the period and what came after them."""
    return await reports.steps(database, caller.account_id, _period(start, end, zone))


class DispositionsReport(BaseModel):
    playbook: str
    combinations: list[Combination] = Field(
        description="each milestone and status with leads, in the playbook's order"
    )


@router.get("/dispositions", response_model=DispositionsReport)
async def disposition_counts(
    caller: Authenticated, database: Database, book: Book
) -> DispositionsReport:
    """The account's leads by milestone and status now; `linked` false marks a combination
    the playbook's links do not allow (the leads `GET /v1/leads?milestone=&status=` lists)."""
    found = await pipeline.dispositions(database, caller.account_id, book)
    return DispositionsReport(playbook=f"{book.name} v{book.version}", combinations=found)


@router.get("/funnel", response_model=list[Stage])
async def milestone_funnel(
    caller: Authenticated,
    database: Database,
    book: Book,
    start: Start = None,
    end: End = None,
    zone: Zone = "UTC",
) -> list[Stage]:
    """How many of the period's leads ever reached each milestone, in the playbook's order."""
    return await pipeline.funnel(database, caller.account_id, _period(start, end, zone), book)


@router.get("/leaderboard", response_model=list[UserFigures])
async def agent_leaderboard(
    caller: Authenticated,
    database: Database,
    book: Book,
    start: Start = None,
    end: End = None,
    zone: Zone = "UTC",
) -> list[UserFigures]:
    """Each user's figures over the period, most conversions first."""
    chosen = _period(start, end, zone)
    return await reports.leaderboard(database, caller.account_id, chosen, converted_by(book))
