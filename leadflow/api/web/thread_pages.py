"""A lead's conversation in the workspace: the whole thread, a page at a time, newest
first, each time in the agent's zone and the lead's (the lead's page shows the latest few
entries, `pages.lead_page`), and the agent's own text or email to the lead, sent through
the same gate and send path as the API's (`LeadflowClient.send_message`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from leadflow.api.deps import Database, Leads
from leadflow.api.web.pages import RequestField, _back, _both, _flash, _page, _reason
from leadflow.api.web.session import CsrfChecked, SignedIn
from leadflow.client import LeadflowError
from leadflow.engine.refs import Identifier
from leadflow.store import thread
from leadflow.workflows.messages import AgentMessage

router = APIRouter(prefix="/app", include_in_schema=False)
SHOWN = 30


@router.get("/leads/{lead_id}/thread", response_class=HTMLResponse)
async def thread_page(
    request: Request,
    lead_id: Identifier,
    agent: SignedIn,
    database: Database,
    before: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    zone = await thread.zone(database, agent.account_id, lead_id)
    if zone is None:
        return _page(request, "missing.html", agent, lead_id=lead_id)
    try:
        entries, older = await thread.page(
            database, agent.account_id, lead_id, before=before, limit=SHOWN
        )
    except thread.BadCursor:
        _flash(request, "error", "That page of the conversation does not exist: the newest.")
        entries, older = await thread.page(database, agent.account_id, lead_id, limit=SHOWN)
    return _page(
        request,
        "thread.html",
        agent,
        lead_id=lead_id,
        entries=entries,
        older=older,
        both=lambda moment: _both(moment, agent, zone),
    )


@router.post("/leads/{lead_id}/messages", dependencies=[CsrfChecked])
async def write_to_lead(
    request: Request,
    lead_id: Identifier,
    agent: SignedIn,
    leads: Leads,
    body: Annotated[str, Form(max_length=4000)],
    channel: Annotated[str, Form(pattern="^(sms|email)$")] = "sms",
    party: Annotated[str, Form(max_length=100)] = "borrower",
    subject: Annotated[str, Form(max_length=300)] = "",
    request_id: RequestField = "",
) -> Response:
    """The agent's own text or email: sent now through the gate, or not, saying why."""
    here = f"/app/leads/{lead_id}"
    try:
        message = AgentMessage(
            channel=channel,
            party=party,
            body=body,
            subject=subject or None,
            actor=agent.actor,
            request_id=request_id,
        )
        await leads.send_message(agent.lead(lead_id), message)
    except (ValueError, LeadflowError) as exc:
        why = _reason(exc)
        said = why[0].upper() + why[1:] if why.startswith("not sent") else f"Not sent: {why}"
        _flash(request, "error", said)
        return _back(here)
    what = "Text" if channel == "sms" else "Email"
    _flash(request, "ok", f"{what} to {party} sent; its delivery shows in the conversation.")
    return _back(here)
