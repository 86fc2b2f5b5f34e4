"""What LeadWorkflow writes to PostgreSQL through the store activity, under time skipping:
the lead's row after a durable sleep, one row per lead and per request id, nothing for a
refused change."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from leadflow.client import (
    ChangeRejected,
    Conflict,
    LeadflowClient,
)
from leadflow.engine.refs import LeadRef
from leadflow.store.tables import HistoryNote, Lead
from tests.factories import change, new_lead


async def _lead_row(db: AsyncEngine, ref: LeadRef) -> Lead:
    async with db.connect() as conn:
        row = (
            await conn.execute(
                select(Lead.__table__).where(
                    Lead.account_id == ref.account_id, Lead.lead_id == ref.lead_id
                )
            )
        ).one()
    return row  # type: ignore[return-value]


async def count(db: AsyncEngine, table: type[Lead] | type[HistoryNote], ref: LeadRef) -> int:
    async with db.connect() as conn:
        return (
            await conn.execute(
                select(func.count())
                .select_from(table)
                .where(table.account_id == ref.account_id, table.lead_id == ref.lead_id)
            )
        ).scalar_one()


async def test_lead_sleeps_thirty_days_then_records_its_milestone(
    leads: LeadflowClient, time_env: WorkflowEnvironment, db: AsyncEngine
) -> None:
    started = time.monotonic()
    request = new_lead()
    created = await leads.ensure_lead(request)
    assert created.created and (created.milestone, created.status) == ("No Milestone", "New")

    await time_env.sleep(timedelta(days=30))
    result = await leads.change_milestone(
        request.lead, change("Quoted", "Requote", note="wants a quote", actor="ana")
    )

    assert (result.milestone, result.status, result.changes) == ("Quoted", "Requote", 1)
    row = await _lead_row(db, request.lead)
    assert (row.milestone, row.status) == ("Quoted", "Requote")
    assert row.updated_at - row.created_at >= timedelta(days=30)
    async with db.connect() as conn:
        note = (await conn.execute(select(HistoryNote.__table__))).one()
    assert (note.action, note.milestone, note.status, note.note, note.actor) == (
        "Lead Update",
        "Quoted",
        "Requote",
        "wants a quote",
        "ana",
    )
    # Thirty days pass on the server's clock, not on ours.
    assert time.monotonic() - started < 15


async def test_ensure_lead_starts_once_and_then_describes(
    leads: LeadflowClient, db: AsyncEngine
) -> None:
    request = new_lead()
    first = await leads.ensure_lead(request)
    again = await leads.ensure_lead(request)

    assert first.created and not again.created
    assert first.workflow_id == again.workflow_id == f"lead:acme:{request.lead.lead_id}"
    assert await count(db, Lead, request.lead) == 1
    # Other facts for an existing lead are refused, not silently dropped.
    with pytest.raises(Conflict, match="already exists with other first_name") as refused:
        await leads.ensure_lead(request.model_copy(update={"first_name": "Other"}))
    assert (refused.value.kind, refused.value.fields) == ("LeadExists", ["first_name"])
    assert (await leads.describe(request.lead)).first_name == "Pat"


async def test_same_request_id_is_applied_once(leads: LeadflowClient, db: AsyncEngine) -> None:
    request = new_lead()
    await leads.ensure_lead(request)
    update = change("Quoted", "Requote")
    first = await leads.change_milestone(request.lead, update)
    repeat = await leads.change_milestone(request.lead, update)

    assert first.changes == repeat.changes == 1
    assert await count(db, HistoryNote, request.lead) == 1


@pytest.mark.parametrize(
    ("milestone", "status", "reason", "message"),
    [
        ("Sold", "Hot", "NotLinked", "status 'Hot' is not linked with milestone 'Sold'"),
        ("Contacted", "Hot", "FollowUpRequired", "'Hot' requires a future follow-up"),
        ("Bought", "New", "UnknownMilestone", "unknown milestone 'Bought'"),
    ],
)
async def test_invalid_combinations_are_rejected_by_the_update_and_nothing_is_written(
    leads: LeadflowClient,
    db: AsyncEngine,
    milestone: str,
    status: str,
    reason: str,
    message: str,
) -> None:
    request = new_lead()
    await leads.ensure_lead(request)
    with pytest.raises(ChangeRejected, match=message) as rejected:
        await leads.change_milestone(request.lead, change(milestone, status))
    assert rejected.value.kind == reason
    assert await count(db, HistoryNote, request.lead) == 0
    assert (await leads.describe(request.lead)).milestone == "No Milestone"


async def test_what_could_not_reach_or_stay_in_a_lead_is_refused_before_it_is_sent(
    leads: LeadflowClient, db: AsyncEngine
) -> None:
    """The Python client holds the API's limits: a request over 256 KiB (Temporal refuses
    payloads over 2 MB, and a lead carries what it keeps into its next run) or text with NUL
    (PostgreSQL cannot store it) is refused, and nothing starts or changes."""
    from leadflow.engine.events import ReplyReceived
    from leadflow.engine.state import Party

    huge = new_lead(parties={"lead": Party(name="x" * 300_000, phone="+13125550111")})
    with pytest.raises(ChangeRejected, match=r"the request is 29[0-9] KiB") as refused:
        await leads.ensure_lead(huge)
    assert refused.value.kind == "TooLarge"
    assert await count(db, Lead, huge.lead) == 0
    request = new_lead()
    await leads.ensure_lead(request)
    with pytest.raises(ChangeRejected, match=r"NUL character \(\\u0000\): at note") as nul:
        await leads.change_milestone(request.lead, change("Quoted", "Requote", note="a\x00b"))
    assert nul.value.kind == "InvalidText"
    with pytest.raises(ChangeRejected, match="at body"):
        await leads.reply_received(
            request.lead, ReplyReceived(channel="sms", party="lead", body="\x00")
        )
    assert await count(db, HistoryNote, request.lead) == 0
