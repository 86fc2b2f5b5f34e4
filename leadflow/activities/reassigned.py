"""Reassigned numbers at the moment of contact: a text or call to a US number asks the FCC
Reassigned Numbers Database whether the number was disconnected since the day it was known
to be the party's (`engine.reassigned.since`), unless an answer younger than a month is on
record (`store.reassigned`).

"Yes" stops the text for good (`Reassigned`; the lead stops every touch to the number and
asks its owner to find another) and passes over the call at the claim. "No" and "no data"
let it go. A database that does not answer holds a text (it asks again in a minute, until
its window closes, as a provider outage does) but not an agent's call: the claim hands it
out and logs that the question stayed open. Without `RND_URL` nothing is asked, except
where a state's law says a sales call or text must ask first (Maine's, `reassigned_check`
in the state table): such a text is not sent, and such a call waits in the queue."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.exceptions import ApplicationError

from leadflow.playbook.law import table
from leadflow.providers.reassigned import Answer, ReassignedNumbers, RndUnavailable
from leadflow.store import outbox
from leadflow.store import reassigned as checks
from leadflow.store.tables import CallQueueEntry, OutboxMessage

RND_WAIT = timedelta(minutes=1)
RULE = "47 C.F.R. § 64.1200(m)"


def why(since: date) -> str:
    return (
        f"the Reassigned Numbers Database reports the number disconnected since {since} "
        f"(the day it was known to be the party's): whoever has it now never consented ({RULE})"
    )


async def answer(engine: AsyncEngine, rnd: ReassignedNumbers, number: str, since: date) -> Answer:
    """The database's answer about `number` since `since`: the one on record while fresh,
    else asked now and kept. Raises `RndUnavailable` when it must be asked and cannot be."""
    now = datetime.now(UTC)
    known = await checks.known(engine, number, since, now)
    if known is not None:
        return known  # type: ignore[return-value]
    found = await rnd.ask(number, since)
    await checks.record(engine, number, since, found, now)
    return found


class Unchecked(Exception):
    """A solicitation the law says must ask the database first, when it cannot be asked."""


def required(lists: Sequence[str] | None, exemption: str | None) -> str | None:
    """Why this solicitation must ask the database before it goes: its number is in a state
    whose law says so (Maine's, by the state list that reaches it) and neither consent nor a
    business relationship exempts it (the state's own exemptions); None otherwise."""
    if not lists or exemption is not None:
        return None
    for name in lists:
        state = table().states.get(name.removeprefix("state:")) if "state:" in name else None
        if state is not None and state.reassigned_check:
            return (
                f"{state.name} requires the Reassigned Numbers Database asked before a sales "
                f"call or text ({state.reassigned_check})"
            )
    return None


async def check(engine: AsyncEngine, rnd: ReassignedNumbers | None, row: OutboxMessage) -> None:
    """Stop a text to a number reported reassigned, for good; hold it while the database
    cannot be asked; stop one the law says must ask it when it is not configured."""
    if rnd is None:
        if (need := required(row.do_not_call, row.exemption)) is not None:
            reason = f"{need}; it is not configured (RND_URL)"
            await outbox.mark(engine, row.key, status="failed", error=f"Listed: {reason}")
            raise ApplicationError(reason, type="Listed", non_retryable=True)
        return
    if row.reassigned_since is None:
        return
    try:
        found = await answer(engine, rnd, row.to_address, row.reassigned_since)
    except RndUnavailable as exc:  # given back untried: the next attempt takes it afresh
        await outbox.mark(engine, row.key, status="queued", error=f"RndUnavailable: {exc}")
        raise ApplicationError(
            f"{exc}: the text waits and asks again",
            type="RndUnavailable",
            next_retry_delay=RND_WAIT,
        ) from None
    if found != "yes":
        return
    reason = why(row.reassigned_since)
    await outbox.mark(engine, row.key, status="failed", error=f"Reassigned: {reason}")
    raise ApplicationError(reason, type="Reassigned", non_retryable=True)


async def at_claim(
    engine: AsyncEngine, rnd: ReassignedNumbers | None, account_id: str, lead_id: str
) -> tuple[str, str] | None:
    """The number and why, when the claimed call's number was reported reassigned; None to
    hand it out. An unanswered question hands it out (`RndUnavailable`, logged by the
    caller), unless the law says the call must ask first (`Unchecked`)."""
    query = select(
        CallQueueEntry.phone,
        CallQueueEntry.reassigned_since,
        CallQueueEntry.do_not_call,
        CallQueueEntry.exemption,
    ).where(CallQueueEntry.account_id == account_id, CallQueueEntry.lead_id == lead_id)
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    if row is None or row.phone is None:
        return None
    need = required(row.do_not_call, row.exemption)
    if rnd is None:
        if need is not None:
            raise Unchecked(f"{need}; it is not configured (RND_URL)")
        return None
    if row.reassigned_since is None:
        return None
    try:
        found = await answer(engine, rnd, row.phone, row.reassigned_since)
    except RndUnavailable as exc:
        if need is not None:
            raise Unchecked(f"{need}; it did not answer: {exc}") from None
        raise
    return (row.phone, why(row.reassigned_since)) if found == "yes" else None
