"""Lead endpoints. The account comes from the API key, never from the path.

Client errors (LeadNotFound, ChangeRejected, LeadUnavailable) become HTTP answers in
`leadflow.api.errors`, so each endpoint reads as the business operation alone.
"""

from __future__ import annotations

import base64
import re
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response, status

from leadflow.api.deps import Authenticated, Book, Database, Leads, known, own_numbers
from leadflow.api.errors import error_responses
from leadflow.api.intake import LeadIn, start_lead
from leadflow.api.schemas import (
    CampaignIn,
    DesignationsIn,
    KeyDatesIn,
    LeadView,
    MemberIn,
    OptInIn,
    Page,
    PartiesIn,
)
from leadflow.api.standing import standing
from leadflow.client import Conflict
from leadflow.engine.channels import opt_out_covers
from leadflow.engine.refs import IDENTIFIER, Identifier
from leadflow.store import leads, opt_outs
from leadflow.store.leads import LeadSummary
from leadflow.store.users import member_for
from leadflow.workflows.messages import (
    REQUEST_ID,
    CallLog,
    CompleteFollowUp,
    LeadSnapshot,
    MilestoneChange,
    ScheduleFollowUp,
    StateHorizon,
)

router = APIRouter(
    prefix="/v1/leads", tags=["leads"], responses=error_responses(400, 401, 404, 409, 413, 422, 503)
)


LeadId = Annotated[Identifier, "the lead's id in your CRM"]


# Where each fact of an existing lead changes; the others are set when the lead is created.
CHANGED_BY = {
    "parties": "PUT /v1/leads/{id}/parties",
    "designations": "PUT /v1/leads/{id}/designations",
    "key_dates": "PUT /v1/leads/{id}/key-dates",
    "milestone": "POST /v1/leads/{id}/milestone",
    "status": "POST /v1/leads/{id}/milestone",
    "horizon": "PUT /v1/leads/{id}/horizon",
}


def _changed_elsewhere(lead_id: str, exc: Conflict) -> str:
    how = [
        f"change {field} with {CHANGED_BY[field].format(id=lead_id)}"
        if field in CHANGED_BY
        else f"{field} is set when the lead is created and cannot change"
        for field in exc.fields
    ]
    return f"lead {lead_id!r} already exists with other {', '.join(exc.fields)}: " + "; ".join(how)


@router.put(
    "/{lead_id}",
    response_model=LeadSnapshot,
    responses={
        201: {"model": LeadSnapshot, "description": "the lead was created"},
        **error_responses(
            409, e409="the lead exists with other facts: the detail names the endpoint"
        ),
    },
)
async def ensure_lead(
    lead_id: LeadId,
    body: LeadIn,
    caller: Authenticated,
    client: Leads,
    book: Book,
    database: Database,
    response: Response,
) -> LeadSnapshot:
    """Create the lead if it does not exist (201); an existing lead answers where it stands
    (200) if the body agrees with it, else 409 naming the endpoint that changes each fact."""
    await own_numbers(database, caller, (m.sms_from for m in body.designations.values()))
    known([c.party for c in body.consents], book.parties, "party")
    if body.playbook not in (None, book.name):  # a preset could skip the account's own rules
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"playbook {body.playbook!r} is not this account's: its leads run {book.name!r} "
            "(leave playbook out, or store another with `leadflow account --playbook`)",
        )
    try:
        snapshot = await start_lead(
            database, client, book, caller.lead(lead_id), caller.actor, body
        )
    except Conflict as exc:
        if exc.kind != "LeadExists":
            raise
        raise HTTPException(status.HTTP_409_CONFLICT, _changed_elsewhere(lead_id, exc)) from None
    response.status_code = status.HTTP_201_CREATED if snapshot.created else status.HTTP_200_OK
    return snapshot


@router.get("", response_model=Page[LeadSummary])
async def list_leads(
    caller: Authenticated,
    database: Database,
    book: Book,
    status_is: Annotated[
        str | None, Query(alias="status", description="one of the playbook's statuses")
    ] = None,
    milestone: Annotated[str | None, Query(description="one of the playbook's milestones")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(description="next_cursor of the page before")] = None,
) -> Page[LeadSummary]:
    """The account's leads, newest change first; filter by status or milestone (a name the
    playbook does not have is refused, listing the ones it has)."""
    if status_is is not None:
        known([status_is], [s.name for s in book.statuses], "status")
    if milestone is not None:
        known([milestone], book.milestones, "milestone")
    found = await leads.page(
        database,
        caller.account_id,
        status=status_is,
        milestone=milestone,
        before=_decode(cursor) if cursor is not None else None,
        limit=limit + 1,
    )
    items = found[:limit]
    more = len(found) > limit
    return Page(items=items, next_cursor=_encode(items[-1]) if more and items else None)


@router.get("/{lead_id}", response_model=LeadView)
async def get_lead(
    lead_id: LeadId,
    caller: Authenticated,
    client: Leads,
    database: Database,
    book: Book,
    agenda_days: Annotated[
        int, Query(ge=1, le=90, description="how far ahead the agenda looks, 1 to 90 days")
    ] = 14,
) -> LeadView:
    """The lead with its parties, history notes, upcoming agenda and recent audit, and who
    may be contacted (`standing`: consents, the business relationship, each number's
    do-not-call lists and reassigned-number check)."""
    ref = caller.lead(lead_id)
    state = await client.describe(ref)
    agenda = await client.agenda(ref, agenda_days)
    audit = await client.audit(ref)
    notes = await leads.recent_notes(database, ref)
    return LeadView(
        lead_id=lead_id,
        snapshot=LeadSnapshot.of(state),
        first_name=state.first_name,
        last_name=state.last_name,
        time_zone=state.time_zone,
        loan_purpose=state.loan_purpose,
        parties=state.parties,
        designations=state.designations,
        key_dates=state.key_dates,
        history=notes,
        agenda=agenda,
        audit=audit,
        standing=await standing(database, book, state),
    )


@router.post("/{lead_id}/milestone", response_model=LeadSnapshot)
async def change_milestone(
    lead_id: LeadId, change: MilestoneChange, caller: Authenticated, client: Leads
) -> LeadSnapshot:
    """A history-note update; an invalid combination is refused with the reason (422)."""
    return await client.change_milestone(caller.lead(lead_id), change)


@router.post("/{lead_id}/calls", response_model=LeadSnapshot)
async def log_call(
    lead_id: LeadId, call: CallLog, caller: Authenticated, client: Leads
) -> LeadSnapshot:
    """The communication log: answers with the new status and the return time."""
    return await client.log_call(caller.lead(lead_id), call)


@router.post("/{lead_id}/follow-ups", response_model=LeadSnapshot)
async def schedule_follow_up(
    lead_id: LeadId, request: ScheduleFollowUp, caller: Authenticated, client: Leads
) -> LeadSnapshot:
    return await client.schedule_follow_up(caller.lead(lead_id), request)


@router.put("/{lead_id}/horizon", response_model=LeadSnapshot)
async def state_horizon(
    lead_id: LeadId, request: StateHorizon, caller: Authenticated, client: Leads
) -> LeadSnapshot:
    """When the lead means to buy or sell: a check-in call is set no later than a third of
    the way there, and later follow-ups are refused (422) with the latest allowed date."""
    return await client.state_horizon(caller.lead(lead_id), request)


@router.post("/{lead_id}/follow-ups/{follow_up_id}/complete", response_model=LeadSnapshot)
async def complete_follow_up(
    lead_id: LeadId,
    follow_up_id: Annotated[
        str,
        Path(
            min_length=1,
            max_length=100,
            pattern=r"^\S(?:.*\S)?$",
            description="the follow-up's id: the request_id that scheduled it",
        ),
    ],
    caller: Authenticated,
    client: Leads,
    request_id: Annotated[
        str,
        Query(
            pattern=REQUEST_ID,
            description="idempotency key: repeating a request returns the first answer",
        ),
    ],
) -> LeadSnapshot:
    return await client.complete_follow_up(
        caller.lead(lead_id), CompleteFollowUp(id=follow_up_id, request_id=request_id)
    )


@router.put("/{lead_id}/key-dates", status_code=status.HTTP_202_ACCEPTED)
async def set_key_dates(
    lead_id: LeadId, body: KeyDatesIn, caller: Authenticated, client: Leads, book: Book
) -> dict[str, str]:
    known(body.dates, book.key_dates, "key date")
    await client.set_key_dates(caller.lead(lead_id), body.dates)
    return {"status": "accepted"}


@router.put("/{lead_id}/parties", status_code=status.HTTP_202_ACCEPTED)
async def set_parties(
    lead_id: LeadId, body: PartiesIn, caller: Authenticated, client: Leads, book: Book
) -> dict[str, str]:
    known(body.parties, book.parties, "party")
    parties = {role: p.party() if p else None for role, p in body.parties.items()}
    await client.set_parties(caller.lead(lead_id), parties)
    return {"status": "accepted"}


@router.put("/{lead_id}/designations", status_code=status.HTTP_202_ACCEPTED)
async def set_designations(
    lead_id: LeadId,
    body: DesignationsIn,
    caller: Authenticated,
    client: Leads,
    book: Book,
    database: Database,
) -> dict[str, str]:
    """Assign team members (inline, or by user id from /v1/users) to designations."""
    known(body.assignments, book.designations, "designation")
    members = {}  # every user is looked up before any designation changes: all or none
    for name, who in body.assignments.items():
        member = who.member() if isinstance(who, MemberIn) else None
        if isinstance(who, str):
            member = await member_for(database, caller.account_id, who, name)
        members[name] = member
    await own_numbers(database, caller, (m.sms_from for m in members.values() if m))
    await client.assign_designations(caller.lead(lead_id), members)  # one signal: all or none
    return {"status": "accepted"}


@router.post("/{lead_id}/opt-in", status_code=status.HTTP_202_ACCEPTED)
async def opt_in(
    lead_id: LeadId,
    body: OptInIn,
    caller: Authenticated,
    client: Leads,
    book: Book,
    database: Database,
) -> dict[str, str]:
    """Record that a party asked to be contacted again on a channel, with what shows it and
    who records it: kept in the opt-in records, the address's opt-out lifted across the
    account, and the lead told. An unknown lead (404), party or address (422) writes nothing."""
    known([body.party], book.parties, "party")
    lead = caller.lead(lead_id)
    party = (await client.describe(lead)).parties.get(body.party)
    address = None if party is None else party.email if body.channel == "email" else party.phone
    if address is None:
        kind = "email" if body.channel == "email" else "phone"
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"lead {lead_id!r} has no {body.party} {kind} to opt in to {body.channel}; "
            f"set it with PUT /v1/leads/{lead_id}/parties first",
        )
    actor = f"{body.actor} with {caller.actor}"[:200]  # the person, and the key they used
    source = f"{body.evidence} (recorded by {actor})"
    async with database.begin() as conn:  # the lead is told before this commits, or nothing is
        await opt_outs.record_opt_in(
            conn,
            caller.account_id,
            lead_id,
            body.channel,
            opt_out_covers(body.channel),
            address,
            actor=actor,
            evidence=body.evidence,
        )
        await client.opt_in(lead, body.channel, source=source)
    return {"status": "accepted"}


@router.post("/{lead_id}/campaigns", status_code=status.HTTP_202_ACCEPTED)
async def change_campaign(
    lead_id: LeadId, body: CampaignIn, caller: Authenticated, client: Leads, book: Book
) -> dict[str, str]:
    """Start, switch, pause, resume or cancel a campaign."""
    known(
        [body.campaign, *([body.switch_from] if body.switch_from else [])],
        list(book.campaigns),
        "campaign",
    )
    lead, campaign, actor = caller.lead(lead_id), body.campaign, body.actor
    if body.op == "start":
        await client.enroll(lead, campaign, actor)
    elif body.op == "switch":
        await client.switch_campaign(lead, body.switch_from or "", campaign, actor)
    elif body.op == "pause":
        await client.pause_campaign(lead, campaign, actor)
    elif body.op == "resume":
        await client.resume_campaign(lead, campaign, actor)
    else:
        await client.cancel_campaign(lead, campaign, actor)
    return {"status": "accepted"}


def _encode(item: LeadSummary) -> str:
    raw = f"{item.updated_at.isoformat()}|{item.lead_id}".encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode(cursor: str) -> tuple[datetime, str]:
    try:
        at, lead_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        if not re.fullmatch(IDENTIFIER, lead_id):
            raise ValueError(lead_id)
        return datetime.fromisoformat(at), lead_id
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, "cursor is not one this API returned"
        ) from None
