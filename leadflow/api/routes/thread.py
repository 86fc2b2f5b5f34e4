"""A lead's conversation: the thread (every text and email both ways with its delivery
state, calls logged and notes, newest first, a page at a time) and the replies a lead sent
through the account's own channels. The account comes from the API key."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field

from leadflow.api.deps import Authenticated, Book, Database, Leads, known
from leadflow.api.errors import error_responses
from leadflow.api.schemas import ReplyIn
from leadflow.engine import keywords
from leadflow.engine.events import ReplyReceived
from leadflow.engine.refs import Identifier
from leadflow.store import thread
from leadflow.store.thread import Entry
from leadflow.workflows.messages import AgentMessage, LeadSnapshot

router = APIRouter(
    prefix="/v1/leads", tags=["leads"], responses=error_responses(400, 401, 404, 409, 413, 422, 503)
)

LeadId = Annotated[Identifier, "the lead's id in your CRM"]


class ThreadPage(BaseModel):
    """A page of the lead's thread, newest first."""

    entries: list[Entry] = Field(description="the entries, newest first")
    next: str | None = Field(
        description="the cursor of the next (older) page, for `before`; none: no more"
    )


@router.get("/{lead_id}/thread")
async def read_thread(
    lead_id: LeadId,
    caller: Authenticated,
    database: Database,
    before: Annotated[str | None, Query(max_length=200, description="a page's `next`")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = thread.PAGE,
) -> ThreadPage:
    """The lead's conversation: every text and email the account sent a party (with its
    delivery state, and why one failed or was held back) and every one a party wrote back,
    calls logged with their dispositions, changes and notes, newest first."""
    if await thread.zone(database, caller.account_id, lead_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no lead {lead_id!r}")
    try:
        entries, after = await thread.page(
            database, caller.account_id, lead_id, before=before, limit=limit
        )
    except thread.BadCursor as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    return ThreadPage(entries=entries, next=after)


@router.post("/{lead_id}/messages", response_model=LeadSnapshot)
async def send_message(
    lead_id: LeadId, message: AgentMessage, caller: Authenticated, client: Leads
) -> LeadSnapshot:
    """An agent's own text or email to a party of the lead, sent now through the same gate
    as a campaign's touch (consent, opt-outs, calling hours in every zone the party may be
    in, caps, a blocking status) and the same exactly-once send path; refused (422) with
    why, and when it may go, otherwise. Each campaign's `on_agent_message` says whether it
    goes on, pauses or stops. The same `request_id` twice sends once."""
    return await client.send_message(caller.lead(lead_id), message)


@router.post("/{lead_id}/replies", status_code=status.HTTP_202_ACCEPTED)
async def reply_received(
    lead_id: LeadId,
    body: ReplyIn,
    caller: Authenticated,
    client: Leads,
    book: Book,
    database: Database,
) -> dict[str, str]:
    """A reply the lead sent through your own channels. A text that is STOP or HELP works
    as it does through the provider webhook; other replies stop drips that say so. A text
    that would opt the lead back in (START) is refused: only the provider's signed inbound
    carries the lead's own words, and an opt-in recorded here goes through /opt-in with its
    evidence. (A STOP is taken: it only narrows contact.) The words join the lead's thread."""
    known([body.party], book.parties, "party")
    if body.channel != "email" and keywords.keyword(body.body) == "start":
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"{body.body.strip()!r} would opt the lead back in to texts, which only the lead's "
            "own text through the provider may do; record an opt-in with its evidence at "
            f"POST /v1/leads/{lead_id}/opt-in",
        )
    event = ReplyReceived(channel=body.channel, party=body.party, body=body.body)
    await client.reply_received(caller.lead(lead_id), event)  # 404 for a lead it lacks
    async with database.begin() as conn:
        await thread.record(
            conn,
            caller.account_id,
            lead_id,
            f"api:{uuid.uuid4().hex}",
            channel=body.channel,
            party=body.party,
            sender=caller.actor,
            to=None,
            body=body.body,
            at=datetime.now(UTC),
        )
    return {"status": "accepted"}
