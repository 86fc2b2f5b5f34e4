"""The unsubscribe link in every email: GET shows what it will do and a button (a link
scanner that follows it changes nothing); POST, from the button or a mail client's one-click
(RFC 8058: `List-Unsubscribe=One-Click`), opts the address out of the account's emails
before it answers, then tells every lead of the account with that address. The token is the
only credential: it names no account or address, and is kept out of logs and spans."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from leadflow.api.deps import Database, Leads
from leadflow.api.routes.webhooks import for_each_lead
from leadflow.api.web.pages import templates
from leadflow.engine.refs import LeadRef
from leadflow.store import leads as lead_records
from leadflow.store import opt_outs, unsubscribe
from leadflow.store.tables import Account

log = logging.getLogger(__name__)

# A page for the person an email reached, not part of the API integrators call: left out of
# the API document, as the workspace's pages are.
router = APIRouter(prefix="/unsubscribe", include_in_schema=False)


def _masked(address: str) -> str:
    """The address as the page shows it: enough to recognise, not to harvest."""
    name, _, domain = address.partition("@")
    return f"{name[:1]}{'*' * max(1, len(name) - 1)}@{domain}"


async def _page(request: Request, database: Database, token: str, done: bool) -> HTMLResponse:
    async with database.connect() as conn:
        found = await unsubscribe.named_by(conn, token)
        business = None
        if found is not None:
            business = (
                await conn.execute(select(Account.name).where(Account.id == found.account_id))
            ).scalar_one_or_none()
    context = {
        "title": "Unsubscribed" if done and found else "Unsubscribe",
        "address": _masked(found.address) if found else None,
        "business": business or "this sender",
        "done": done and found is not None,
    }
    code = status.HTTP_200_OK if found else status.HTTP_404_NOT_FOUND
    return templates.TemplateResponse(request, "unsubscribe.html", context, status_code=code)


@router.get("/{token}", response_class=HTMLResponse, summary="The unsubscribe page")
async def unsubscribe_page(token: str, request: Request, database: Database) -> HTMLResponse:
    """What the link will do, and a button that does it; following the link changes nothing."""
    return await _page(request, database, token, done=False)


@router.post("/{token}", response_class=HTMLResponse, summary="Unsubscribe (one-click)")
async def unsubscribe_now(
    token: str, request: Request, database: Database, leads: Leads
) -> HTMLResponse:
    """Opt the link's address out of the account's emails at once, whatever the body says
    (a mail client sends `List-Unsubscribe=One-Click`, the page's button nothing); a repeat
    changes nothing."""
    async with database.begin() as conn:
        found = await unsubscribe.named_by(conn, token)
        if found is not None:
            await opt_outs.opt_out(
                conn,
                found.account_id,
                ["email"],
                found.address,
                source="unsubscribe link",
                at=datetime.now(UTC),
            )
    if found is not None:
        reached = await lead_records.parties_reached_at(
            database, found.account_id, email=found.address
        )

        async def opt_out(lead: LeadRef, role: str) -> None:
            await leads.opt_out(lead, "email", source="unsubscribe link")

        await for_each_lead(found.account_id, reached, opt_out)
        log.info("an unsubscribe link opted an address out of account %s", found.account_id)
    return await _page(request, database, token, done=True)
