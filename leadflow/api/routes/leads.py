"""Lead endpoints. The account comes from the API key, never from the path.

Client errors (LeadNotFound, ChangeRejected, LeadUnavailable) become HTTP answers in
`leadflow.api.errors`, so each endpoint reads as the business operation alone.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from sqlalchemy import select, tuple_

from leadflow.api.auth import Authenticated
from leadflow.api.schemas import (
    CampaignIn,
    DesignationsIn,
    HistoryOut,
    KeyDatesIn,
    LeadIn,
    LeadSummary,
    LeadView,
    MemberIn,
    Page,
    PartiesIn,
    ReplyIn,
)
from leadflow.client import Conflict, LeadflowClient
from leadflow.engine.vocabulary import CampaignChanged, ReplyReceived
from leadflow.playbook.schema import Playbook
from leadflow.store.playbooks import current_version
from leadflow.store.tables import HistoryNote, Lead
from leadflow.store.users import member_for
from leadflow.workflows.messages import (
    CallLog,
    CompleteFollowUp,
    EnsureLead,
    Identifier,
    LeadSnapshot,
    MilestoneChange,
    ScheduleFollowUp,
    StateHorizon,
)

router = APIRouter(prefix="/v1/leads", tags=["leads"])


def leads(request: Request) -> LeadflowClient:
    client: LeadflowClient = request.app.state.services.leads
    return client


Leads = Annotated[LeadflowClient, Depends(leads)]
LeadId = Annotated[Identifier, "the lead's id in your CRM"]


async def account_playbook(request: Request, caller: Authenticated, client: Leads) -> Playbook:
    """The account's current playbook: its newest stored version, else the shipped file."""
    stored = await current_version(request.app.state.services.engine, caller.account_id)
    return stored or client.playbooks.get(caller.playbook)


Book = Annotated[Playbook, Depends(account_playbook)]


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


def _known(names: Any, known: list[str], what: str) -> None:
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"unknown {what} {', '.join(map(repr, unknown))}; the playbook has "
            f"{', '.join(known) or '(none)'}",
        )


@router.put(
    "/{lead_id}",
    response_model=LeadSnapshot,
    responses={
        201: {"model": LeadSnapshot, "description": "the lead was created"},
        409: {"description": "the lead exists with other facts: the detail names the endpoint"},
    },
)
async def ensure_lead(
    lead_id: LeadId,
    body: LeadIn,
    caller: Authenticated,
    client: Leads,
    book: Book,
    response: Response,
) -> LeadSnapshot:
    """Create the lead if it does not exist (201); an existing lead answers where it stands
    (200) if the body agrees with it, else 409 naming the endpoint that changes each fact."""
    profile = body.profile(book.name)
    request = EnsureLead(lead=caller.lead(lead_id), **profile.model_dump(exclude_unset=True))
    chosen = book if body.playbook in (None, book.name) else None
    try:
        snapshot = await client.ensure_lead(request, playbook=chosen)
    except Conflict as exc:
        if exc.kind != "LeadExists":
            raise
        raise HTTPException(status.HTTP_409_CONFLICT, _changed_elsewhere(lead_id, exc)) from None
    response.status_code = status.HTTP_201_CREATED if snapshot.created else status.HTTP_200_OK
    return snapshot


@router.get("", response_model=Page[LeadSummary])
async def list_leads(
    request: Request,
    caller: Authenticated,
    status_is: Annotated[str | None, Query(alias="status")] = None,
    milestone: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> Page[LeadSummary]:
    """The account's leads, newest change first; filter by status or milestone."""
    query = select(
        Lead.lead_id, Lead.first_name, Lead.last_name, Lead.milestone, Lead.status, Lead.updated_at
    ).where(Lead.account_id == caller.account_id)
    if status_is is not None:
        query = query.where(Lead.status == status_is)
    if milestone is not None:
        query = query.where(Lead.milestone == milestone)
    if cursor is not None:
        after = _decode(cursor)
        query = query.where(tuple_(Lead.updated_at, Lead.lead_id) < tuple_(*after))
    query = query.order_by(Lead.updated_at.desc(), Lead.lead_id.desc()).limit(limit + 1)
    async with request.app.state.services.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    items = [LeadSummary(**row._mapping) for row in rows[:limit]]
    more = len(rows) > limit
    return Page(items=items, next_cursor=_encode(items[-1]) if more and items else None)


@router.get("/{lead_id}", response_model=LeadView)
async def get_lead(
    lead_id: LeadId,
    request: Request,
    caller: Authenticated,
    client: Leads,
    agenda_days: Annotated[int, Query(ge=1, le=365)] = 14,
) -> LeadView:
    """The lead with its parties, history notes, upcoming agenda and recent audit."""
    ref = caller.lead(lead_id)
    state = await client.describe(ref)
    agenda = await client.agenda(ref, agenda_days)
    audit = await client.audit(ref)
    async with request.app.state.services.engine.connect() as conn:
        notes = (
            await conn.execute(
                select(
                    HistoryNote.occurred_at,
                    HistoryNote.action,
                    HistoryNote.milestone,
                    HistoryNote.status,
                    HistoryNote.note,
                    HistoryNote.actor,
                )
                .where(HistoryNote.account_id == ref.account_id, HistoryNote.lead_id == lead_id)
                .order_by(HistoryNote.occurred_at.desc())
                .limit(50)
            )
        ).all()
    snapshot = LeadSnapshot.of(state)
    return LeadView(
        lead_id=lead_id,
        snapshot=snapshot,
        first_name=state.first_name,
        last_name=state.last_name,
        time_zone=state.time_zone,
        loan_purpose=state.loan_purpose,
        parties=state.parties,
        designations=state.designations,
        key_dates=state.key_dates,
        history=[
            HistoryOut(
                at=n.occurred_at,
                action=n.action,
                milestone=n.milestone,
                status=n.status,
                note=n.note,
                actor=n.actor,
            )
            for n in notes
        ],
        agenda=agenda,
        audit=audit,
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
    """The communication log (M19): answers with the new status and the return time."""
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
    follow_up_id: str,
    caller: Authenticated,
    client: Leads,
    request_id: Annotated[str, Query(min_length=1, max_length=128)],
) -> LeadSnapshot:
    return await client.complete_follow_up(
        caller.lead(lead_id), CompleteFollowUp(id=follow_up_id, request_id=request_id)
    )


@router.put("/{lead_id}/key-dates", status_code=status.HTTP_202_ACCEPTED)
async def set_key_dates(
    lead_id: LeadId, body: KeyDatesIn, caller: Authenticated, client: Leads, book: Book
) -> dict[str, str]:
    _known(body.dates, book.key_dates, "key date")
    await client.set_key_dates(caller.lead(lead_id), body.dates)
    return {"status": "accepted"}


@router.put("/{lead_id}/parties", status_code=status.HTTP_202_ACCEPTED)
async def set_parties(
    lead_id: LeadId, body: PartiesIn, caller: Authenticated, client: Leads, book: Book
) -> dict[str, str]:
    _known(body.parties, book.parties, "party")
    parties = {role: p.party() if p else None for role, p in body.parties.items()}
    await client.set_parties(caller.lead(lead_id), parties)
    return {"status": "accepted"}


@router.put("/{lead_id}/designations", status_code=status.HTTP_202_ACCEPTED)
async def set_designations(
    lead_id: LeadId,
    body: DesignationsIn,
    request: Request,
    caller: Authenticated,
    client: Leads,
    book: Book,
) -> dict[str, str]:
    """Assign team members (inline, or by user id from /v1/users) to designations."""
    _known(body.assignments, book.designations, "designation")
    engine = request.app.state.services.engine
    for name, who in body.assignments.items():
        member = who.member() if isinstance(who, MemberIn) else None
        if isinstance(who, str):
            member = await member_for(engine, caller.account_id, who, name)
        await client.assign_designation(caller.lead(lead_id), name, member)
    return {"status": "accepted"}


@router.post("/{lead_id}/replies", status_code=status.HTTP_202_ACCEPTED)
async def reply_received(
    lead_id: LeadId, body: ReplyIn, caller: Authenticated, client: Leads, book: Book
) -> dict[str, str]:
    """A reply the lead sent through your own channels. A text that is STOP, START or HELP
    works as it does through the provider webhook; other replies stop drips that say so."""
    _known([body.party], book.parties, "party")
    event = ReplyReceived(channel=body.channel, party=body.party, body=body.body)
    await client.reply_received(caller.lead(lead_id), event)
    return {"status": "accepted"}


@router.post("/{lead_id}/campaigns", status_code=status.HTTP_202_ACCEPTED)
async def change_campaign(
    lead_id: LeadId, body: CampaignIn, caller: Authenticated, client: Leads, book: Book
) -> dict[str, str]:
    """Start, switch, pause, resume or cancel a campaign (M15)."""
    _known(
        [body.campaign, *([body.switch_from] if body.switch_from else [])],
        list(book.campaigns),
        "campaign",
    )
    event = CampaignChanged(
        op=body.op,
        campaign=body.campaign,  # type: ignore[arg-type]
        switch_from=body.switch_from,
        actor=body.actor,
    )
    await client._campaign(caller.lead(lead_id), event)
    return {"status": "accepted"}


def _encode(item: LeadSummary) -> str:
    raw = f"{item.updated_at.isoformat()}|{item.lead_id}".encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode(cursor: str) -> tuple[Any, str]:
    from datetime import datetime

    try:
        at, lead_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(at), lead_id
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, "cursor is not one this API returned"
        ) from None
