"""The do-not-call lists at the moment of contact: a solicitation the engine could not
exempt (no written consent, no live business relationship: `engine.consent`) is checked
against the lists that reach its number before the provider is called. On a list, or
reached by a list too old to rely on (more than 31 days since its download), it is not
sent: it ends `failed` (`Listed`) and the lead's engine records the skip with the list and
the rule. The claim applies the same rule to calls (`store.queue`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.exceptions import ApplicationError

from leadflow.playbook.law import LAW, countries
from leadflow.store import dnc, outbox
from leadflow.store.tables import OutboxMessage

NAMES = {"national": "National Do Not Call Registry", "ca:national": "National DNCL (Canada)"}


def _named(name: str) -> str:
    state = name.removeprefix("state:")
    return NAMES.get(name, f"{state}'s do-not-call list" if state != name else name)


def _rule(name: str) -> str:
    for row in countries(LAW).values():
        if row.do_not_call is not None and (
            name == row.do_not_call.registry or (row.do_not_call.state_lists and "state:" in name)
        ):
            return row.do_not_call.source
    return "the list's own rules"


async def holding(engine: AsyncEngine, number: str, names: list[str], now: datetime) -> str | None:
    """Why a list among `names` holds a solicitation to `number` now, or None (`verdict`)."""
    async with engine.connect() as conn:
        on = {found.name: found for found in await dnc.listed(conn, number, now)}
    return verdict(names, on, {s.name: s for s in await dnc.lists(engine, now)})


def verdict(
    names: list[str], on: Mapping[str, dnc.Listing], lists: Mapping[str, dnc.ListSummary]
) -> str | None:
    """Why a list among `names` holds a solicitation: the number is `on` one whose download
    is recent enough, or one of them is too old to rely on (it covers the number, listed or
    not); None when none does, and for a list never imported."""
    for name in names:
        if (found := on.get(name)) is not None and not found.stale:
            return (
                f"the number is on the {_named(name)} (as of {found.as_of}), with no written "
                f"consent and no live business relationship on record ({_rule(name)})"
            )
    for name in names:
        if (summary := lists.get(name)) is not None and summary.stale:
            return (
                f"the {_named(name)} is {summary.age_days} days old (as of {summary.as_of}): "
                f"no solicitation to the numbers it covers until a download of the last "
                f"{dnc.STALE_AFTER_DAYS} days is imported ({_rule(name)})"
            )
    return None


async def check(engine: AsyncEngine, row: OutboxMessage) -> None:
    """Stop a message a do-not-call list holds (`holding`), for good."""
    if not row.do_not_call or row.exemption is not None:
        return
    why = await holding(engine, row.to_address, list(row.do_not_call), datetime.now(UTC))
    if why is None:
        return
    await outbox.mark(engine, row.key, status="failed", error=f"Listed: {why}")
    raise ApplicationError(why, type="Listed", non_retryable=True)
