"""The workspace's Reports page, for managers: each report over a period of days in the
user's own zone, a chart drawn on the server (inline SVG, no script) with the same numbers
in a table beside it for screen readers, and a CSV of each; the same figures as the API's
`/v1/reports/*`. The dispositions dashboard links each count to the leads it counts."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from leadflow.api.deps import Database, Leads
from leadflow.api.periods import Day as IsoDay
from leadflow.api.periods import period
from leadflow.api.scopes import holds
from leadflow.api.web.pages import _book, _page
from leadflow.api.web.session import Agent, SignedIn
from leadflow.playbook.schema import Playbook
from leadflow.store import pipeline, reports
from leadflow.store.pipeline import Combination
from leadflow.store.reports import Period, SpeedBy, converted_by

router = APIRouter(prefix="/app", include_in_schema=False)
NAMES = ("speed-to-lead", "attempts", "steps", "dispositions", "funnel", "leaderboard")
Day = Annotated[IsoDay, Query()]
FORMULA = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet would read as a formula


def _took(seconds: int | None) -> str:
    """A duration as people say it: 45 s, 12 min, 3.5 h, 2.0 days."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _bars(items: list[tuple[str, float]], unit: str = "") -> dict[str, Any]:
    """A horizontal bar chart's geometry: one bar per item, scaled to the largest."""
    top = max((value for _, value in items), default=0) or 1
    return {
        "height": 28 * len(items) + 8,
        "bars": [
            {"label": label, "value": value, "width": round(300 * value / top, 1), "y": 28 * i}
            for i, (label, value) in enumerate(items)
        ],
        "unit": unit,
    }


def _refused(request: Request, agent: Agent) -> HTMLResponse | None:
    if holds(agent.role, "reports:read"):
        return None
    response = _page(request, "reports_refused.html", agent)
    response.status_code = 403
    return response


async def _report(
    name: str, database: Database, book: Playbook, account: str, chosen: Period, by: SpeedBy | None
) -> list[Any]:
    """One report's rows, as the API gives them (`name` one of NAMES)."""
    won = converted_by(book)
    match name:
        case "speed-to-lead":
            return await reports.speed(database, account, chosen, by)
        case "attempts":
            return await reports.attempts(database, account, chosen, won)
        case "steps":
            return await reports.steps(database, account, chosen)
        case "dispositions":
            return await pipeline.dispositions(database, account, book)
        case "funnel":
            return await pipeline.funnel(database, account, chosen, book)
        case _:
            return await reports.leaderboard(database, account, chosen, won)


async def _figures(
    database: Database, leads: Leads, agent: Agent, chosen: Period, by: SpeedBy | None
) -> dict[str, Any]:
    """Every report, for the page (each under its name with `_` for `-`)."""
    book = await _book(database, leads, agent)
    found: dict[str, Any] = {"conversion": converted_by(book)}
    for name in NAMES:
        rows = await _report(name, database, book, agent.account_id, chosen, by)
        found[name.replace("-", "_")] = rows
    return found


@router.get("/reports", response_class=HTMLResponse)
async def reports_page(
    request: Request,
    agent: SignedIn,
    database: Database,
    leads: Leads,
    start: Day = None,
    end: Day = None,
    by: Annotated[SpeedBy | None, Query()] = None,
) -> HTMLResponse:
    if (refused := _refused(request, agent)) is not None:
        return refused
    try:
        chosen = period(start, end, agent.time_zone)
    except ValueError as exc:
        chosen = period(None, None, agent.time_zone)
        request.session["flash"] = [["error", f"{exc}; showing the last 30 days"]]
    figures = await _figures(database, leads, agent, chosen, by)
    first, last = chosen.start.date(), (chosen.end - timedelta(days=1)).date()
    query = {"start": first.isoformat(), "end": last.isoformat()} | ({"by": by} if by else {})
    speed = [
        (r.group or "All leads", (r.median_seconds or 0) / 60) for r in figures["speed_to_lead"]
    ]
    contact = [(f"Call {a.attempt}", a.contact_rate * 100) for a in figures["attempts"]]
    return _page(
        request,
        "reports.html",
        agent,
        **figures,
        start=first,
        end=last,
        by=by,
        took=_took,
        csv_query=urlencode(query),
        leads_of=_leads_of,
        speed_chart=_bars(speed, "min"),
        attempts_chart=_bars(contact, "%"),
        funnel_chart=_bars([(s.milestone, s.leads) for s in figures["funnel"]]),
    )


def _leads_of(combination: Combination) -> str:
    """The queue page's list of the leads with this milestone and status."""
    return (
        "/app/?"
        + urlencode({"milestone": combination.milestone, "status": combination.status or ""})
        + "#leads-heading"
    )


@router.get("/reports/{name}.csv")
async def report_csv(
    request: Request,
    name: str,
    agent: SignedIn,
    database: Database,
    leads: Leads,
    start: Day = None,
    end: Day = None,
    by: Annotated[SpeedBy | None, Query()] = None,
) -> Response:
    if (refused := _refused(request, agent)) is not None:
        return refused
    if name not in NAMES:
        return Response(f"no report {name!r}; one of {', '.join(NAMES)}\n", status_code=404)
    try:
        chosen = period(start, end, agent.time_zone)
    except ValueError as exc:
        return Response(f"{exc}\n", status_code=422, media_type="text/plain")
    book = await _book(database, leads, agent)
    rows = await _report(name, database, book, agent.account_id, chosen, by)
    out = io.StringIO()
    writer: Any = None
    for row in rows:
        flat = _flat(row.model_dump())
        if writer is None:
            writer = csv.DictWriter(out, fieldnames=list(flat))
            writer.writeheader()
        writer.writerow(flat)
    headers = {"Content-Disposition": f'attachment; filename="{name}.csv"'}
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    """Nested figures (speed to lead's shares) as columns of their own."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, dict):
            out |= {f"{key} {inner}": v for inner, v in value.items()}
        elif isinstance(value, str) and value[:1] in FORMULA:  # never a spreadsheet formula
            out[key] = "'" + value
        else:
            out[key] = value
    return out
