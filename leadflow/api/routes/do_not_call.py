"""The account's own do-not-call list, and what holds a number.

The account's list is its opt-outs of calls and texts (`opt_outs`), the same rows a Do Not
Call disposition, a STOP ALL or a revocation writes: `POST /v1/do-not-call` adds numbers to
it (an import from another system, a request taken by mail), before it answers, then tells
every lead of the account with one of them. `GET /v1/do-not-call/{number}` says what holds
a number: the account's opt-outs, and the registries' lists it is on, with their age.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import BaseModel, Field

from leadflow.api.deps import Authenticated, Database, Leads
from leadflow.api.errors import error_responses
from leadflow.api.routes.webhooks import for_each_lead
from leadflow.api.schemas import Input, Stated
from leadflow.engine import consent
from leadflow.engine.contacts import Phone, e164
from leadflow.engine.refs import LeadRef
from leadflow.playbook.law import LAW
from leadflow.store import dnc, opt_outs
from leadflow.store import leads as lead_records
from leadflow.store.tables import OptOut

router = APIRouter(
    prefix="/v1/do-not-call", tags=["leads"], responses=error_responses(400, 401, 413, 422, 503)
)

TELEPHONE = ("call", "sms", "mms")  # a do-not-call request covers calls and texts


class DoNotCallIn(Input):
    """Numbers that asked not to be called or texted by this account."""

    numbers: list[Phone] = Field(
        min_length=1, max_length=1000, description="the numbers (E.164, or as dialled in the US)"
    )
    source: Annotated[Stated, Field(max_length=100, description="where the request came from")]
    actor: Annotated[Stated, Field(max_length=100, description="who records it")]


class DoNotCallAdded(BaseModel):
    numbers: int = Field(description="numbers now on the account's list")
    leads: int = Field(description="leads with one of them, told")


class Holding(BaseModel):
    """What holds a number: the account's own list, and the registries'."""

    number: str = Field(description="the number, E.164")
    account: list[str] = Field(description="channels the account's list holds it on")
    account_source: str | None = Field(description="where the account's entry came from")
    registries: list[str] = Field(description="the registries' lists it is on")
    stale: list[str] = Field(
        description="the lists that reach the number whose download is more than 31 days "
        "old: they hold it, listed or not, until a fresh one is imported"
    )


@router.post("", status_code=status.HTTP_202_ACCEPTED)
async def add_numbers(
    body: DoNotCallIn, caller: Authenticated, database: Database, leads: Leads
) -> DoNotCallAdded:
    """Put numbers on the account's do-not-call list: written before the answer, then every
    lead with one of them is told (its calls leave the queue, its texts stop)."""
    numbers = sorted(set(body.numbers))
    source = f"do-not-call list: {body.source} (by {body.actor})"[:100]
    at = datetime.now(UTC)
    async with database.begin() as conn:
        for number in numbers:
            await opt_outs.opt_out(conn, caller.account_id, TELEPHONE, number, source=source, at=at)
    told = 0
    for number in numbers:
        found = await lead_records.parties_reached_at(database, caller.account_id, phone=number)
        told += len(found)

        async def opt_out(lead: LeadRef, role: str) -> None:
            await leads.opt_out(lead, "call", source=source)
            await leads.opt_out(lead, "sms", source=source)

        await for_each_lead(caller.account_id, found, opt_out)
    return DoNotCallAdded(numbers=len(numbers), leads=told)


@router.get("/{number}")
async def holding(
    number: Annotated[str, Path(description="the number, E.164 or as dialled in the US")],
    caller: Authenticated,
    database: Database,
) -> Holding:
    """What holds a number now: the account's list, and the registries' lists it is on."""
    try:
        phone = e164(number)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    now = datetime.now(UTC)
    async with database.connect() as conn:
        rows = (
            await conn.execute(
                OptOut.__table__.select().where(
                    OptOut.account_id == caller.account_id, OptOut.address == phone
                )
            )
        ).all()
        listed = await dnc.listed(conn, phone, now)
    ours = sorted(r.channel for r in rows if r.channel in TELEPHONE)
    covering = set(consent.reaching(LAW, phone, "call")) | set(consent.reaching(LAW, phone, "sms"))
    stale = sorted(s.name for s in await dnc.lists(database, now) if s.stale and s.name in covering)
    return Holding(
        number=phone,
        account=ours,
        account_source=next((r.source for r in rows if r.channel == "call"), None),
        registries=[found.name for found in listed],
        stale=stale,
    )
