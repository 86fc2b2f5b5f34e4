"""The agent's own leads in the workspace: offers to accept (first to claim, with the time
left), the pond, the leads they hold, and their availability switch. Accepting goes
through the same claim as the API (`leadflow.api.routes.routing.take_offer`): of two agents
accepting at once exactly one takes the lead, and the other is told who did."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from leadflow.api.deps import Database, Leads
from leadflow.api.routes.routing import NotHeld, give_back, take_offer
from leadflow.api.web.pages import _back, _flash, _page, _when
from leadflow.api.web.session import CsrfChecked, SignedIn
from leadflow.engine.refs import Identifier
from leadflow.store.claims import ClaimRefused, held, offers
from leadflow.store.routing import is_away, set_away

router = APIRouter(prefix="/app", include_in_schema=False)


def _left(until: datetime | None, now: datetime) -> str:
    if until is None:
        return "open until someone takes it"
    seconds = max(0, int((until - now).total_seconds()))
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds:02d} s left" if minutes else f"{seconds} s left"


@router.get("/mine", response_class=HTMLResponse)
async def my_leads(request: Request, agent: SignedIn, database: Database) -> HTMLResponse:
    now = datetime.now(UTC)
    standing = await offers(database, agent.account_id, agent.id, now)
    return _page(
        request,
        "mine.html",
        agent,
        offers=[(o, _left(o["until"], now)) for o in standing if o["until"] is not None],
        pond=[o for o in standing if o["until"] is None],
        held=await held(database, agent.account_id, agent.id),
        away=await is_away(database, agent.account_id, agent.id),
        when=lambda moment: _when(moment, agent.time_zone),
    )


@router.post("/offers/{lead_id}/accept", dependencies=[CsrfChecked])
async def accept(
    request: Request, lead_id: Identifier, agent: SignedIn, database: Database, leads: Leads
) -> Response:
    try:
        await take_offer(database, leads, agent.lead(lead_id), agent.id)
    except ClaimRefused as exc:
        _flash(request, "error", f"Lead {lead_id} is not yours to take: {exc}.")
        return _back("/app/mine")
    _flash(request, "success", f"Lead {lead_id} is yours.")
    return _back(f"/app/leads/{lead_id}")


@router.post("/leads/{lead_id}/release", dependencies=[CsrfChecked])
async def release(request: Request, lead_id: Identifier, agent: SignedIn, leads: Leads) -> Response:
    try:
        await give_back(leads, agent.lead(lead_id), agent.id, "given back on the workspace")
    except NotHeld as exc:
        _flash(request, "error", f"Not given back: {exc}.")
        return _back("/app/mine")
    _flash(request, "success", f"Lead {lead_id} is given back: routing offers it on.")
    return _back("/app/mine")


@router.post("/availability", dependencies=[CsrfChecked])
async def availability(
    request: Request,
    agent: SignedIn,
    database: Database,
    away: Annotated[bool, Form()],
) -> Response:
    await set_away(database, agent.account_id, agent.id, away)
    said = "You are away: no new leads or offers." if away else "You are available."
    _flash(request, "success", said)
    return _back("/app/mine")
