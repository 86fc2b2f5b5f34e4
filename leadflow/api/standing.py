"""Who may be contacted on a lead, as its page and `GET /v1/leads/{id}` show it: the
parties' consents, the business relationship's clocks, and for each party's number the
do-not-call lists that reach it, those it is on now, why none holds it, and the last
answer of the Reassigned Numbers Database."""

from __future__ import annotations

from datetime import UTC, date, datetime

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.engine import consent
from leadflow.engine.run import Run
from leadflow.engine.state import EngineState
from leadflow.playbook.schema import Playbook
from leadflow.store import dnc
from leadflow.store import reassigned as checks


class ConsentLine(BaseModel):
    id: str = Field(description="the consent record's id (its evidence: GET .../consents)")
    party: str = Field(description="the party who gave it")
    channels: list[str] = Field(description="what it covers: sms, mms, email, call")
    scope: str = Field(description="marketing or informational")
    written: bool = Field(
        description="whether it is written consent (a signed form, a certificate, a signature)"
    )
    means: str = Field(description="how it was given")
    given_at: datetime = Field(description="when it was given")
    ended_at: datetime | None = Field(description="when a revocation ended it (null: live)")


class ReassignedCheck(BaseModel):
    since: date = Field(
        description="the day asked about: since when the number was known to be the party's"
    )
    answer: str = Field(description="yes (disconnected since), no, or no data")
    checked_at: datetime = Field(description="when the database answered")


class NumberStanding(BaseModel):
    party: str = Field(description="whose number it is")
    number: str = Field(description="the number, E.164")
    lists: list[str] = Field(description="the do-not-call lists that reach a call to it")
    listed_on: list[str] = Field(description="those it is on now")
    stale: list[str] = Field(
        description="those whose download is more than 31 days old: they hold it, listed or not"
    )
    exemption: str | None = Field(
        description="why no list holds a call to it now: written "
        "consent, or a live business relationship (null: the lists decide)"
    )
    reassigned: bool = Field(
        description="whether the number was reported reassigned: no text or call goes to it"
    )
    last_check: ReassignedCheck | None = Field(
        description="the Reassigned Numbers Database's last answer about it (null: never asked)"
    )


class Standing(BaseModel):
    """Who may be contacted on the lead, and why (the second state-law table)."""

    consents: list[ConsentLine] = Field(description="the parties' consents on record")
    inquired_at: datetime | None = Field(
        description="the lead's inquiry (when it came in, unless restated)"
    )
    transacted_at: datetime | None = Field(description="the last transaction, if any")
    do_not_call_request: bool = Field(
        description="whether the lead asked not to be "
        "called: it ends the business relationship at once"
    )
    numbers: list[NumberStanding] = Field(description="each party's number")


async def standing(
    database: AsyncEngine, book: Playbook, state: EngineState, now: datetime | None = None
) -> Standing:
    now = now or datetime.now(UTC)
    run = Run(book, state, now)
    summaries = {s.name: s for s in await dnc.lists(database, now)}
    numbers = []
    for role, party in state.parties.items():
        if party.phone is None:
            continue
        names, exempt = consent.lists(run, role, party, "call")
        async with database.connect() as conn:
            on = [found.name for found in await dnc.listed(conn, party.phone, now)]
        last = await checks.latest(database, party.phone)
        numbers.append(
            NumberStanding(
                party=role,
                number=party.phone,
                lists=names,
                listed_on=[name for name in on if name in names],
                stale=[n for n in names if n in summaries and summaries[n].stale],
                exemption=exempt,
                reassigned=party.phone in state.reassigned,
                last_check=None
                if last is None
                else ReassignedCheck(
                    since=last.since, answer=last.answer, checked_at=last.checked_at
                ),
            )
        )
    return Standing(
        consents=[
            ConsentLine.model_validate(c.model_dump() | {"written": c.written})
            for c in state.consents
        ],
        inquired_at=state.inquired_at,
        transacted_at=state.transacted_at,
        do_not_call_request="call" in state.opted_out,
        numbers=numbers,
    )
