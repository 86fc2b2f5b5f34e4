"""LeadWorkflow under time skipping: durable sleep, updates with validators, idempotency."""

from __future__ import annotations

import datetime as dt
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
    LeadNotFound,
    LeadUnavailable,
)
from leadflow.engine.vocabulary import Member, Party
from leadflow.store.tables import HistoryNote, Lead
from leadflow.workflows import search_attributes as sa
from leadflow.workflows.messages import LeadRef
from tests.factories import change, eventually, new_lead
from tests.scenario_support import skip_to_next

MONDAY = 0


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


async def count(db: AsyncEngine, table: type, ref: LeadRef) -> int:
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


async def test_a_new_lead_with_a_bad_start_is_refused_before_anything_starts(
    leads: LeadflowClient, time_env: WorkflowEnvironment
) -> None:
    request = new_lead(milestone="Sold", status="New")
    with pytest.raises(ChangeRejected, match="not linked"):
        await leads.ensure_lead(request)
    with pytest.raises(LeadNotFound):
        await leads.describe(request.lead)


async def test_changing_an_unknown_lead_says_which_lead(leads: LeadflowClient) -> None:
    ghost = LeadRef(account_id="acme", lead_id="nobody")
    with pytest.raises(LeadNotFound, match="'nobody' of account 'acme' does not exist"):
        await leads.change_milestone(ghost, change("Contacted"))


async def test_search_attributes_and_details_follow_the_lead(
    leads: LeadflowClient, time_env: WorkflowEnvironment
) -> None:
    request = new_lead(playbook="isa", loan_purpose="Purchase")
    await leads.ensure_lead(request)
    state = await leads.describe(request.lead)

    handle = time_env.client.get_workflow_handle(request.lead.workflow_id)
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(sa.LEAD_ACCOUNT) == "acme"
    assert attributes.get(sa.LEAD_MILESTONE) == "Prospect"
    assert attributes.get(sa.LEAD_STATUS) == "New"
    assert attributes.get(sa.LEAD_CAMPAIGNS) == ["isa_call_campaign", "isa_touches"]
    assert attributes.get(sa.LEAD_NEXT_TOUCH) == state.next_due
    assert attributes.get(sa.LEAD_LOAN_PURPOSE) == "Purchase"


async def test_a_lead_nobody_works_on_answers_with_a_clear_error(
    time_env: WorkflowEnvironment,
) -> None:
    orphan = LeadflowClient(time_env.client, task_queue="no-worker-here", answer_timeout=1)
    with pytest.raises(LeadUnavailable, match="is a leadflow worker running on task queue"):
        await orphan.ensure_lead(new_lead())


async def test_agenda_audit_and_a_refused_signal(
    leads: LeadflowClient, time_env: WorkflowEnvironment, db: AsyncEngine
) -> None:
    await skip_to_next(time_env, MONDAY, dt.time(10))  # a Chicago lead, in calling hours
    request = new_lead(playbook="isa")
    await leads.ensure_lead(request)

    agenda = await leads.agenda(request.lead, days=8)
    calls = [e.command for e in agenda if e.command.kind == "queue_call"]
    assert [c.label for c in calls] == ["Redial", "Redial", "Redial"]  # days 2, 4 and 7

    await leads.enroll(request.lead, "no_such_campaign")

    async def refused() -> list[str]:
        return [a.reason for a in await leads.audit(request.lead) if a.outcome == "skipped"]

    reasons = await eventually(refused)
    assert reasons == [
        "campaign_changed refused: unknown campaign 'no_such_campaign'; the "
        "playbook has isa_call_campaign, isa_touches"
    ]
    fired = [a for a in await leads.audit(request.lead) if a.outcome == "fired"]
    assert {a.reason for a in fired} >= {"queued as CallASAP"}


async def test_the_client_checks_contacts_as_the_api_does(leads: LeadflowClient) -> None:
    bad = new_lead(parties={"lead": Party(name="Pat", phone="555", sms_consent=True)})
    with pytest.raises(ChangeRejected, match=r"lead\.phone: '555' is not a valid phone number"):
        await leads.ensure_lead(bad)
    with pytest.raises(LeadNotFound):
        await leads.describe(bad.lead)  # nothing started

    good = new_lead(parties={"lead": Party(name="Pat", phone="(312) 555-0111")})
    await leads.ensure_lead(good)
    assert (await leads.describe(good.lead)).parties["lead"].phone == "+13125550111"
    with pytest.raises(ChangeRejected, match=r"lead\.email: 'pat@' is not an email address"):
        await leads.set_parties(good.lead, {"lead": Party(name="Pat", email="pat@")})
    with pytest.raises(ChangeRejected, match=r"agent\.phone: '12' is not a valid phone number"):
        await leads.assign_designation(good.lead, "agent", Member(id="a", name="A", phone="12"))
