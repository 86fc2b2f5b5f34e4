"""LeadWorkflow under time skipping: durable sleep, milestone changes, follow-up timers."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from leadflow.models.lead import LeadRef
from leadflow.starter.client import ChangeRejected, LeadflowClient, LeadNotFound, LeadUnavailable
from leadflow.store.tables import HistoryNote, Lead, Task
from leadflow.workflows import search_attributes as sa
from tests.factories import change, eventually, new_lead


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


async def _count(db: AsyncEngine, table: type, ref: LeadRef) -> int:
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
    assert created.created and created.milestone == "No Milestone"

    await time_env.sleep(timedelta(days=30))
    result = await leads.change_milestone(
        request.lead, change("Contacted", "Hot", note="wants a quote", actor="ana")
    )

    assert (result.milestone, result.status, result.changes) == ("Contacted", "Hot", 1)
    row = await _lead_row(db, request.lead)
    assert (row.milestone, row.status) == ("Contacted", "Hot")
    assert row.updated_at - row.created_at >= timedelta(days=30)
    async with db.connect() as conn:
        note = (await conn.execute(select(HistoryNote.__table__))).one()
    assert (note.action, note.milestone, note.status, note.note, note.actor) == (
        "Lead Update",
        "Contacted",
        "Hot",
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
    again = await leads.ensure_lead(request.model_copy(update={"first_name": "Other"}))

    assert first.created and not again.created
    assert first.workflow_id == again.workflow_id == f"lead:acme:{request.lead.lead_id}"
    assert await _count(db, Lead, request.lead) == 1
    state = await leads.describe(request.lead)
    assert state.first_name == "Pat"


async def test_same_request_id_is_applied_once(leads: LeadflowClient, db: AsyncEngine) -> None:
    request = new_lead()
    await leads.ensure_lead(request)
    update = change("Contacted", "Follow Up")
    first = await leads.change_milestone(request.lead, update)
    repeat = await leads.change_milestone(request.lead, update)

    assert first.changes == repeat.changes == 1
    assert await _count(db, HistoryNote, request.lead) == 1


async def test_follow_up_timer_fires_a_task_when_due(
    leads: LeadflowClient, time_env: WorkflowEnvironment, db: AsyncEngine
) -> None:
    request = new_lead()
    await leads.ensure_lead(request)
    due = (await time_env.get_current_time()) + timedelta(days=3)
    snapshot = await leads.change_milestone(
        request.lead, change("Contacted", "Follow Up", follow_up_at=due)
    )
    assert snapshot.follow_up_at == due
    assert await _count(db, Task, request.lead) == 0

    await time_env.sleep(timedelta(days=3, minutes=1))

    assert await eventually(lambda: _count(db, Task, request.lead)) == 1
    state = await leads.describe(request.lead)
    assert state.follow_up_at is None
    async with db.connect() as conn:
        task = (await conn.execute(select(Task.__table__))).one()
    assert task.due_at == due and task.subject == "Follow up"


async def test_follow_up_in_the_past_is_rejected_and_nothing_is_written(
    leads: LeadflowClient, time_env: WorkflowEnvironment, db: AsyncEngine
) -> None:
    request = new_lead()
    await leads.ensure_lead(request)
    past = (await time_env.get_current_time()) - timedelta(hours=1)

    with pytest.raises(ChangeRejected, match="in the past") as rejected:
        await leads.change_milestone(request.lead, change("Contacted", "Hot", follow_up_at=past))

    assert rejected.value.kind == "InvalidChange"
    assert await _count(db, HistoryNote, request.lead) == 0
    assert (await leads.describe(request.lead)).milestone == "No Milestone"


async def test_changing_an_unknown_lead_says_which_lead(leads: LeadflowClient) -> None:
    ghost = LeadRef(account_id="acme", lead_id="nobody")
    with pytest.raises(LeadNotFound, match="'nobody' of account 'acme' does not exist"):
        await leads.change_milestone(ghost, change("Contacted"))


async def test_search_attributes_follow_the_lead(
    leads: LeadflowClient, time_env: WorkflowEnvironment
) -> None:
    request = new_lead()
    await leads.ensure_lead(request)
    due = (await time_env.get_current_time()) + timedelta(days=2)
    await leads.change_milestone(request.lead, change("Quoted", "Hot", follow_up_at=due))

    handle = time_env.client.get_workflow_handle(request.lead.workflow_id)
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(sa.LEAD_ACCOUNT) == "acme"
    assert attributes.get(sa.LEAD_MILESTONE) == "Quoted"
    assert attributes.get(sa.LEAD_STATUS) == "Hot"
    assert attributes.get(sa.LEAD_NEXT_TOUCH) == due


async def test_a_lead_nobody_works_on_answers_with_a_clear_error(
    time_env: WorkflowEnvironment,
) -> None:
    orphan = LeadflowClient(time_env.client, task_queue="no-worker-here", answer_timeout=1)
    with pytest.raises(LeadUnavailable, match="is a leadflow worker running on task queue"):
        await orphan.ensure_lead(new_lead())
