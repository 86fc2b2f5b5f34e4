"""Playbook migrations: move an account's running leads to a newer version of its playbook.

First a plan, which changes nothing: how many leads run each version, how many would move,
and for a sample what their next touches were and become and which campaigns stop or go on.
Then the move, lead by lead, by the workflow's `migrate` update, which each lead applies
between two decisions (`leadflow.engine.migrate`). A lead the version cannot hold is listed,
not moved; each lead's update has one request id per version, so running a migration again
moves nobody twice.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

from pydantic import Field, StringConstraints
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.service import RPCError

import leadflow.engine.localtime as localtime
from leadflow.client import ChangeRejected, LeadflowClient, LeadflowError
from leadflow.engine.describe import words
from leadflow.engine.preview import Entry, migration
from leadflow.engine.refs import LeadRef
from leadflow.models import Message
from leadflow.playbook.schema import Playbook
from leadflow.store import leads as lead_rows
from leadflow.store import playbooks
from leadflow.workflows.messages import MigratePlaybook

SAMPLE = 5  # leads shown before and after in a plan
DAYS = 30  # how far ahead a sample's touches are compared
CONCURRENCY = 16  # leads moved at once
# A status, milestone or campaign name in a filter: what a playbook names, with no quote or
# backslash, so a name can never become query syntax.
FilterName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r'^[^"\\]+$'),
]


class MigrationError(LeadflowError):
    """The migration cannot be planned: no such version, or a query Temporal refuses."""


class LeadChange(Message):
    """One lead of the sample: its next touches before and after, and its campaigns."""

    lead_id: str
    from_version: int = Field(description="the version the lead runs now")
    stopped: list[str] = Field(description="campaigns the new version no longer has: they stop")
    going_on: list[str] = Field(description="campaigns that go on from their current step")
    before: list[str] = Field(description="the lead's next touches on its version, in words")
    after: list[str] = Field(description="the same after the move: what it receives instead")
    refused: str | None = Field(
        default=None, description="why the new version cannot hold the lead, if it cannot"
    )


class Plan(Message):
    account_id: str = Field(description="the account whose leads move")
    playbook: str
    to_version: int = Field(description="the version they move to")
    versions: dict[str, int] = Field(
        description="how many leads run each version (`unknown`: recorded before versions "
        "were kept with the lead's row)"
    )
    leads: int = Field(description="how many would move: on an older version, and matching")
    sample: list[LeadChange] = Field(description="a few of them, before and after")


class Refusal(Message):
    lead_id: str
    kind: str = Field(description="MigrationRefused, LeadNotFound, LeadUnavailable...")
    reason: str


class Outcome(Message):
    account_id: str = Field(description="the account whose leads moved")
    playbook: str
    to_version: int = Field(description="the version they moved to")
    moved: int = Field(description="how many leads moved")
    already: int = Field(description="how many were on this version or a newer one already")
    refused: list[Refusal] = Field(
        description="leads the version cannot hold (their milestone and status no longer "
        "linked...): listed, not moved"
    )
    failed: list[Refusal] = Field(
        description="leads that did not answer: run the migration again, it moves nobody twice"
    )


class LeadFilter(Message):
    """Which running leads a migration moves: those in any of the statuses, any of the
    milestones and running any of the campaigns named (each list left empty: all)."""

    statuses: list[FilterName] = Field(
        default=[], max_length=100, description="only leads in one of these statuses"
    )
    milestones: list[FilterName] = Field(
        default=[], max_length=100, description="only leads at one of these milestones"
    )
    campaigns: list[FilterName] = Field(
        default=[], max_length=100, description="only leads running one of these campaigns"
    )


async def plan(
    engine: AsyncEngine,
    leads: LeadflowClient,
    account_id: str,
    to_version: int,
    chosen: LeadFilter | None = None,
    sample: int = SAMPLE,
    now: datetime | None = None,
) -> Plan:
    books, target = await _versions(engine, account_id, to_version)
    counts = await lead_rows.versions(engine, account_id, target.name)
    ids = await _candidates(engine, leads, account_id, target, chosen)
    now = now or datetime.now(UTC)
    changes: list[LeadChange] = []
    for lead_id in ids[: sample * 2]:  # a sample: a lead that does not answer is skipped
        if len(changes) >= sample:
            break
        try:
            state = await leads.describe(LeadRef(account_id=account_id, lead_id=lead_id))
        except Exception:
            continue
        old = books.get(state.playbook_version)
        if old is None or state.playbook_version >= target.version:
            continue
        # In a thread: the engine renders the account's templates, which must not hold
        # the API's event loop.
        found = await asyncio.to_thread(migration, old, target, state, now, DAYS)
        changes.append(
            LeadChange(
                lead_id=lead_id,
                from_version=found.from_version,
                stopped=found.stopped,
                going_on=found.going_on,
                before=[_said(e, state.time_zone) for e in found.before],
                after=[_said(e, state.time_zone) for e in found.after],
                refused=found.refused,
            )
        )
    return Plan(
        account_id=account_id,
        playbook=target.name,
        to_version=target.version,
        versions={
            str(v) if v is not None else "unknown": n for v, n in sorted(counts.items(), key=str)
        },
        leads=len(ids),
        sample=changes,
    )


async def run(
    engine: AsyncEngine,
    leads: LeadflowClient,
    account_id: str,
    to_version: int,
    chosen: LeadFilter | None = None,
    actor: str = "migration",
) -> Outcome:
    _, target = await _versions(engine, account_id, to_version)
    ref = await playbooks.keep(engine, target)
    ids = await _candidates(engine, leads, account_id, target, chosen)
    moved = already = 0
    refused: list[Refusal] = []
    failed: list[Refusal] = []
    gate = asyncio.Semaphore(CONCURRENCY)

    request = MigratePlaybook(
        playbook_ref=ref, actor=actor, request_id=f"migrate-{target.name}-{target.version}"
    )

    async def move(lead_id: str) -> None:
        nonlocal moved, already
        lead = LeadRef(account_id=account_id, lead_id=lead_id)
        async with gate:
            try:
                await leads.migrate(lead, request)
                moved += 1
            except ChangeRejected as exc:
                if exc.kind != "NotNewer":
                    refused.append(Refusal(lead_id=lead_id, kind=exc.kind or "", reason=str(exc)))
                    return
                already += 1  # its row may predate versions in rows: say which it runs
                state = await leads.describe(lead)
                await lead_rows.record_version(engine, lead, target.name, state.playbook_version)
            except Exception as exc:
                failed.append(Refusal(lead_id=lead_id, kind=type(exc).__name__, reason=str(exc)))

    await asyncio.gather(*(move(lead_id) for lead_id in ids))
    return Outcome(
        account_id=account_id,
        playbook=target.name,
        to_version=target.version,
        moved=moved,
        already=already,
        refused=sorted(refused, key=lambda r: r.lead_id),
        failed=sorted(failed, key=lambda r: r.lead_id),
    )


async def _versions(
    engine: AsyncEngine, account_id: str, to_version: int
) -> tuple[dict[int, Playbook], Playbook]:
    books = await playbooks.versions_of(engine, account_id)
    if to_version not in books:
        have = ", ".join(str(v) for v in sorted(books)) or "none"
        raise MigrationError(
            f"account {account_id!r} has no playbook version {to_version} (stored: {have}); "
            "store it first with leadflow account --playbook FILE"
        )
    return books, books[to_version]


async def _candidates(
    engine: AsyncEngine,
    leads: LeadflowClient,
    account_id: str,
    target: Playbook,
    chosen: LeadFilter | None,
) -> list[str]:
    """The leads on an older version (or one not known here) that the filter chooses."""
    chosen = chosen or LeadFilter()
    ids = await lead_rows.below(
        engine,
        account_id,
        target.name,
        target.version,
        statuses=chosen.statuses,
        milestones=chosen.milestones,
    )
    if not chosen.campaigns:
        return ids
    # Which campaigns a lead runs lives in its workflow: Temporal's visibility answers, asked
    # a query built here from checked names, within the account.
    named = " , ".join(f'"{c}"' for c in chosen.campaigns)
    visibility = (
        f'LeadAccount = "{account_id}" AND ExecutionStatus = "Running" '
        f"AND LeadCampaigns IN ({named})"
    )
    prefix, among = f"lead:{account_id}:", set()
    try:
        async for found in leads.temporal.list_workflows(visibility):
            if found.id.startswith(prefix):
                among.add(found.id.removeprefix(prefix))
    except RPCError as exc:
        raise MigrationError(f"the campaigns filter: {exc.message}") from None
    return [i for i in ids if i in among]


def _said(entry: Entry, zone: str) -> str:
    said = words(entry.command, zone)
    template = getattr(entry.command, "template", None)
    what = f"{said.what} ({template})" if template else said.what
    if entry.command.kind == "create_task":
        what = f"task {getattr(entry.command, 'subject', '')}"
    return f"{localtime.describe(entry.at, zone)}: {what}"
