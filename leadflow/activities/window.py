"""The law at the moment of contact, as the send activity keeps it (the engine decided the
window and the caps; `leadflow.engine.contact` says how).

Before every attempt the message's window is checked again: one with less than `CLOSING` of
it left is not sent but ends `expired` (`WindowClosed`), and the lead's engine defers the
touch to the next window. Twilio is told to drop a text it still holds when the window ends
(`ValidityPeriod`). The caps are counted across the account's leads, by the person's
address: over one, the message waits until it allows it, or for the next window.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.exceptions import ApplicationError

from leadflow.engine.commands import CapCheck
from leadflow.store import outbox
from leadflow.store.tables import OutboxMessage

# A message with less than this left of its window waits for the next window: the provider
# and the carrier take a moment to deliver.
CLOSING = timedelta(minutes=1)
LONGEST_VALIDITY = 14_400  # seconds Twilio keeps a text queued, at most, when told (4 h)
MESSAGES = ("sms", "mms", "email")  # what a cap that names no channels counts


def validity(row: OutboxMessage) -> int | None:
    """How long Twilio may keep the text queued: no longer than its window has left, so a
    text Twilio holds back (its rate, a carrier's) is dropped rather than delivered late."""
    if row.send_by is None:
        return None
    left = (row.send_by - datetime.now(UTC)).total_seconds()
    return max(1, min(LONGEST_VALIDITY, int(left)))


async def closed(engine: AsyncEngine, row: OutboxMessage) -> None:
    """Never sent late: the message ends here, and the lead's engine defers the touch to the
    next window (under a key of its own)."""
    assert row.send_by is not None
    why = f"its window closed at {row.send_by:%Y-%m-%d %H:%M} UTC before it could be sent"
    await outbox.mark(engine, row.key, status="expired", error=f"WindowClosed: {why}")
    raise ApplicationError(why, type="WindowClosed", non_retryable=True)


async def within_caps(engine: AsyncEngine, row: OutboxMessage) -> None:
    """The message's caps, counted across the account's leads (two leads with one phone are
    one person), under the account's lock on the address: over one, it waits until the cap
    allows it, or for the next window if that is after this one's end. Racing messages to
    one person decide one after the other, so together they never pass a cap, and the
    last to decide sees what the others decided (never all waiting on each other)."""
    now, until, why = datetime.now(UTC), None, ""
    async with engine.begin() as conn:
        await outbox.lock_address(conn, row)
        for cap in (CapCheck.model_validate(c) for c in row.caps or []):
            counts = [c for c in cap.counts or MESSAGES if c != "call"]
            tried = await outbox.reached(conn, row, counts, now - cap.per)
            if cap.counts is not None and "call" in cap.counts:  # calls handed to agents
                tried = sorted([*tried, *await outbox.calls_made(conn, row, now - cap.per)])
            if len(tried) >= cap.max:
                frees = tried[len(tried) - cap.max] + cap.per
                if until is None or frees > until:
                    until, why = frees, cap.why
        if until is None:
            return  # the message stays taken: the next to count sees it
        if row.send_by is not None and until + CLOSING >= row.send_by:
            error = f"WindowClosed: {why}, past its window's end"
            await outbox.mark_in(conn, row.key, status="expired", error=error)
        else:
            await outbox.mark_in(conn, row.key, status="queued", error=f"CapReached: {why}")
    if row.send_by is not None and until + CLOSING >= row.send_by:
        raise ApplicationError(
            f"{why}, counting the account's other leads with this number, until after its "
            f"window closes at {row.send_by:%Y-%m-%d %H:%M} UTC",
            type="WindowClosed",
            non_retryable=True,
        )
    raise ApplicationError(
        f"{why}, counting the account's other leads with this number: "
        f"waits until {until:%Y-%m-%d %H:%M} UTC",
        type="CapReached",
        next_retry_delay=until - now,
    )
