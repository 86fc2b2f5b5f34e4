"""The workspace's pages: the queue, a lead, and the forms agents use all day.

Server-rendered with Jinja2; htmx (vendored in `static/`) makes the forms and links swap the
page body in place, and every page works without it. Each form posts, then the browser is
sent back to a page showing the result (and a one-line message saying what happened).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

import leadflow.engine.localtime as localtime
from leadflow.api.deps import Database, Leads, Metrics
from leadflow.api.intake import ConsentIn, keep_consent
from leadflow.api.standing import standing
from leadflow.api.web.coming_up import coming_up
from leadflow.api.web.session import Agent, CsrfChecked, SignedIn, csrf_token
from leadflow.client import ChangeRejected, LeadflowError, LeadNotFound
from leadflow.engine.refs import Identifier
from leadflow.engine.state import WRITTEN
from leadflow.playbook.schema import Playbook
from leadflow.store import leads as lead_store
from leadflow.store import thread
from leadflow.store.playbooks import current_version
from leadflow.store.queue import claim_next, due, release, waiting
from leadflow.workflows.messages import (
    CallLog,
    CompleteFollowUp,
    FollowUpRequest,
    LeadSnapshot,
    MilestoneChange,
)

HERE = Path(__file__).parent
# Each form is rendered with a fresh request id, so a double submit is applied once.
RequestField = Annotated[str, Form(max_length=128)]
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(prefix="/app", include_in_schema=False)
UPCOMING = 10  # waiting calls listed on the queue page
LISTED = 50  # leads listed under the status filter


def _when(moment: datetime | None, zone: str) -> str:
    return localtime.describe(moment, zone) if moment is not None else ""


def _both(moment: datetime | None, agent: Agent, lead_zone: str) -> str:
    """A time in the agent's zone and the lead's, both labelled."""
    if moment is None:
        return ""
    mine = f"{localtime.to_local(moment, agent.time_zone):%a %d %b %H:%M} your time"
    if lead_zone == agent.time_zone:
        return f"{mine} ({agent.time_zone}, the lead's too)"
    theirs = f"{localtime.to_local(moment, lead_zone):%a %d %b %H:%M} the lead's time"
    return f"{mine} ({agent.time_zone}) · {theirs} ({lead_zone})"


def _page(request: Request, name: str, agent: Agent | None, **context: Any) -> HTMLResponse:
    flashes = request.session.pop("flash", [])
    return templates.TemplateResponse(
        request,
        name,
        {
            "agent": agent,
            "csrf": csrf_token(request),
            "flashes": flashes,
            "request_id": f"web-{uuid.uuid4().hex}",
            **context,
        },
    )


def _flash(request: Request, kind: str, text: str) -> None:
    request.session["flash"] = [*request.session.get("flash", []), [kind, text]]


def _back(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=303)


async def _book(database: Database, leads: Leads, agent: Agent) -> Playbook:
    stored = await current_version(database, agent.account_id)
    return stored or leads.playbook(agent.playbook)


# ---- the queue and the leads --------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
async def queue_page(
    request: Request,
    agent: SignedIn,
    database: Database,
    leads: Leads,
    status: Annotated[str | None, Query(max_length=100)] = None,
    milestone: Annotated[str | None, Query(max_length=100)] = None,
) -> HTMLResponse:
    book = await _book(database, leads, agent)
    # A milestone comes with its status from the dashboard, whose combination (or status)
    # the playbook may no longer have: both are taken as they are then.
    status = status if status and (milestone or book.has_status(status)) else None
    milestone = milestone or None
    now_due = await due(database, agent.account_id, agent=agent.id, limit=UPCOMING)
    upcoming = await waiting(database, agent.account_id, agent=agent.id, limit=UPCOMING)
    listed = await lead_store.page(
        database, agent.account_id, status=status, milestone=milestone, limit=LISTED
    )
    return _page(
        request,
        "queue.html",
        agent,
        due=[(call, _when(call.available_at, agent.time_zone)) for call in now_due],
        upcoming=[(call, _both(call.available_at, agent, call.time_zone)) for call in upcoming],
        leads=listed,
        statuses=[s.name for s in book.statuses],
        status=status,
        milestone=milestone,
        when=lambda moment: _when(moment, agent.time_zone),
    )


@router.post("/next", dependencies=[CsrfChecked])
async def next_call(
    request: Request, agent: SignedIn, database: Database, metrics: Metrics
) -> Response:
    with metrics.claims.labels(agent.account_id).time():  # as the API's claims are
        call = await claim_next(database, agent.account_id, agent.id)
    if call is not None:
        return _back(f"/app/leads/{call.lead_id}")
    soonest = await waiting(database, agent.account_id, agent=agent.id)
    if soonest:
        s = soonest[0]
        said = f"{s.label} for {s.lead_id} at {_both(s.available_at, agent, s.time_zone)}"
        _flash(request, "info", f"No call is due now. Next: {said} ({s.why or 'queued'}).")
    else:
        _flash(request, "info", "No call is due now, and none is waiting.")
    return _back("/app/")


# ---- one lead -----------------------------------------------------------------------------


@router.get("/leads/{lead_id}", response_class=HTMLResponse)
async def lead_page(
    request: Request, lead_id: Identifier, agent: SignedIn, database: Database, leads: Leads
) -> Response:
    ref = agent.lead(lead_id)
    try:
        state = await leads.describe(ref)
        agenda = await leads.agenda(ref, 14)
        audit = await leads.audit(ref)
    except LeadNotFound:
        return _page(request, "missing.html", agent, lead_id=lead_id)
    book = await _book(database, leads, agent)
    zone = state.time_zone
    return _page(
        request,
        "lead.html",
        agent,
        lead_id=lead_id,
        state=state,
        snapshot=LeadSnapshot.of(state),
        conversation=(await thread.page(database, ref.account_id, lead_id, limit=8))[0],
        agenda=coming_up(agenda)[:12],
        audit=list(reversed(audit))[:15],
        book=book,
        linked=book.links.get(state.milestone, []),
        both=lambda moment: _both(moment, agent, zone),
        durations=[15, 30, 60],
        standing=await standing(database, book, state),
        seller=book.compliance.identity.name if book.compliance.identity else "",
    )


@router.get("/statuses", response_class=HTMLResponse)
async def statuses_for(
    request: Request,
    agent: SignedIn,
    database: Database,
    leads: Leads,
    milestone: Annotated[str, Query(max_length=100)],
    current: Annotated[str, Query(max_length=100)] = "",
) -> HTMLResponse:
    """The status options linked to a milestone (the milestone form swaps them in)."""
    book = await _book(database, leads, agent)
    return _page(
        request,
        "_statuses.html",
        agent,
        linked=book.links.get(milestone, []),
        current=current,
    )


@router.post("/leads/{lead_id}/calls", dependencies=[CsrfChecked])
async def log_call(
    request: Request,
    lead_id: Identifier,
    agent: SignedIn,
    leads: Leads,
    disposition: Annotated[str, Form(max_length=100)] = "",
    channel: Annotated[str, Form(pattern="^(call|sms)$")] = "call",
    direction: Annotated[str, Form(pattern="^(outbound|inbound)$")] = "outbound",
    comments: Annotated[str, Form(max_length=4000)] = "",
    follow_up: Annotated[bool, Form()] = False,
    subject: Annotated[str, Form(max_length=100)] = "Call",
    start: Annotated[str, Form(max_length=40)] = "",
    duration: Annotated[int, Form(ge=5, le=480)] = 15,
    notes: Annotated[str, Form(max_length=4000)] = "",
    assignee: Annotated[str, Form(max_length=100)] = "",
    priority: Annotated[str, Form(pattern="^(High|Normal|Low)$")] = "Normal",
    request_id: RequestField = "",
) -> Response:
    here = f"/app/leads/{lead_id}"
    try:
        planned = _follow_up(agent, follow_up, subject, start, duration, notes, assignee, priority)
        log = CallLog(
            disposition=disposition or None,
            channel=channel,
            direction=direction,
            comments=comments,
            actor=agent.actor,
            follow_up=planned,
            request_id=request_id,
        )
        snapshot = await leads.log_call(agent.lead(lead_id), log)
        zone = (await leads.describe(agent.lead(lead_id))).time_zone
    except (ValueError, OverflowError, LeadflowError) as exc:
        _flash(request, "error", f"Not logged: {_reason(exc)}")
        return _back(here)
    back = (
        f"back in the queue as {snapshot.queue_label} "
        f"{_both(snapshot.back_in_queue_at, agent, zone)}"
        if snapshot.back_in_queue_at
        else "not in the queue until the cadence or a follow-up brings it back"
    )
    logged = disposition or f"a text ({direction})"
    _flash(request, "ok", f"Logged {logged} for {lead_id}: now {snapshot.status}, {back}.")
    return _back("/app/" if not planned else here)


@router.post("/leads/{lead_id}/milestone", dependencies=[CsrfChecked])
async def change_milestone(
    request: Request,
    lead_id: Identifier,
    agent: SignedIn,
    leads: Leads,
    milestone: Annotated[str, Form(max_length=100)],
    status: Annotated[str, Form(max_length=100)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
    request_id: RequestField = "",
) -> Response:
    try:
        change = MilestoneChange(
            milestone=milestone,
            status=status or None,
            note=note,
            actor=agent.actor,
            request_id=request_id,
        )
        snapshot = await leads.change_milestone(agent.lead(lead_id), change)
    except ChangeRejected as exc:
        _flash(request, "error", f"Refused: {exc}")
    except (ValidationError, LeadflowError) as exc:
        _flash(request, "error", f"Not changed: {_reason(exc)}")
    else:
        _flash(request, "ok", f"{lead_id} is now {snapshot.milestone} / {snapshot.status}.")
    return _back(f"/app/leads/{lead_id}")


@router.post("/leads/{lead_id}/consents", dependencies=[CsrfChecked])
async def record_consent(
    request: Request,
    lead_id: Identifier,
    agent: SignedIn,
    leads: Leads,
    database: Database,
    party: Annotated[str, Form(max_length=100)],
    means: Annotated[str, Form(max_length=20)],
    disclosure: Annotated[str, Form(max_length=5000)],
    seller: Annotated[str, Form(max_length=200)],
    channels: Annotated[list[str], Form()] = [],  # noqa: B006  (FastAPI reads it, never changes it)
    scope: Annotated[str, Form(max_length=20)] = "marketing",
    given_at: Annotated[str, Form(max_length=40)] = "",
    evidence: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """A consent the agent took (signed, on a recorded call...), kept with its evidence."""
    try:
        local = datetime.fromisoformat(given_at) if given_at else None
        at = localtime.at_local(local.date(), local.time(), agent.time_zone) if local else None
        body = ConsentIn.model_validate(
            {
                "party": party,
                "channels": channels,
                "scope": scope,
                "means": means,
                "given_at": (at or datetime.now(UTC)).isoformat(),
                "form_url": evidence if means == "web_form" and evidence else None,
                "certificate": evidence if means == "certificate" and evidence else None,
                "disclosure": disclosure,
                "seller": seller,
                "actor": agent.actor,
            }
        )
        await keep_consent(database, leads, agent.lead(lead_id), body, agent.actor)
    except (ValueError, LeadflowError) as exc:  # a ValidationError is a ValueError
        _flash(request, "error", f"Not recorded: {_reason(exc)}")
    else:
        kind = "written" if body.means in WRITTEN else "not in writing"
        _flash(request, "ok", f"{party}'s consent to {', '.join(channels)} is recorded ({kind}).")
    return _back(f"/app/leads/{lead_id}")


@router.post("/leads/{lead_id}/release", dependencies=[CsrfChecked])
async def release_call(
    request: Request, lead_id: Identifier, agent: SignedIn, database: Database
) -> Response:
    """Give a claimed call back to the queue without logging it."""
    if await release(database, agent.account_id, lead_id, agent.id):
        _flash(request, "ok", f"The call to {lead_id} is back in the queue for anyone.")
        return _back("/app/")
    _flash(request, "error", f"You hold no claim on {lead_id}.")
    return _back(f"/app/leads/{lead_id}")


@router.post("/leads/{lead_id}/follow-ups/{follow_up_id}/complete", dependencies=[CsrfChecked])
async def complete_follow_up(
    request: Request,
    lead_id: Identifier,
    follow_up_id: Identifier,
    agent: SignedIn,
    leads: Leads,
    request_id: RequestField = "",
) -> Response:
    try:
        done = CompleteFollowUp(id=follow_up_id, actor=agent.actor, request_id=request_id)
        await leads.complete_follow_up(agent.lead(lead_id), done)
    except (ValidationError, LeadflowError) as exc:
        _flash(request, "error", f"Not completed: {_reason(exc)}")
    else:
        _flash(request, "ok", "Follow-up completed.")
    return _back(f"/app/leads/{lead_id}")


def _follow_up(
    agent: Agent,
    wanted: bool,
    subject: str,
    start: str,
    duration: int,
    notes: str,
    assignee: str,
    priority: str,
) -> FollowUpRequest | None:
    if not wanted:
        return None
    if not start:
        raise ValueError("a follow-up needs its start time")
    local = datetime.fromisoformat(start)  # the form's datetime-local, in the agent's zone
    at = localtime.at_local(local.date(), local.time(), agent.time_zone)
    return FollowUpRequest(
        subject=subject or "Call",
        start_at=at,
        duration=timedelta(minutes=duration),
        notes=notes,
        assignee=assignee or None,
        priority=priority,
    )


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"{where}: {first['msg']}".removeprefix(": ").replace("Value error, ", "")
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
