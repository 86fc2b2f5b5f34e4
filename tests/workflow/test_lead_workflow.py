"""LeadWorkflow under time skipping, its records kept in memory: validators, search
attributes, the agenda and audit, and the errors a caller sees."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from leadflow.client import (
    ChangeRejected,
    LeadflowClient,
    LeadNotFound,
    LeadUnavailable,
)
from leadflow.engine.refs import LeadRef
from leadflow.engine.state import Member, Party
from leadflow.playbook.law import LAW
from leadflow.worker import SANDBOX, WORKFLOWS
from leadflow.workflows import loop
from leadflow.workflows import search_attributes as sa
from leadflow.workflows.messages import REVISION
from tests.factories import PLAYBOOKS, change, eventually, new_lead
from tests.keys import converter
from tests.scenario_support import skip_to_next

MONDAY = 0


async def test_a_new_lead_with_a_bad_start_is_refused_before_anything_starts(
    leads: LeadflowClient, time_env: WorkflowEnvironment
) -> None:
    request = new_lead(milestone="Sold", status="New")
    with pytest.raises(ChangeRejected, match="not linked"):
        await leads.ensure_lead(request)
    with pytest.raises(LeadNotFound):
        await leads.describe(request.lead)


async def test_a_new_leads_facts_travel_once_in_its_history(
    leads: LeadflowClient, time_env: WorkflowEnvironment
) -> None:
    """Revision 2: the ensure update the lead starts with carries its facts (sealed), the
    start's input does not repeat them, and the lead starts with the search attributes its
    first decision leaves it with (its campaigns, its next touch to the minute)."""
    request = new_lead(playbook="isa")
    await leads.ensure_lead(request)
    handle = time_env.client.get_workflow_handle(request.lead.workflow_id)
    history = await handle.fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    [opened] = await time_env.client.data_converter.decode(list(started.input.payloads))
    assert opened["ensure"] is None and opened["revision"] == REVISION
    [accepted] = [
        e.workflow_execution_update_accepted_event_attributes
        for e in history.events
        if e.HasField("workflow_execution_update_accepted_event_attributes")
    ]
    [facts] = await time_env.client.data_converter.decode(
        list(accepted.accepted_request.input.args.payloads)
    )
    assert facts["lead"] == request.lead.model_dump() and facts["first_name"] == "Pat"
    assert "LeadCampaigns" in started.search_attributes.indexed_fields
    assert "LeadNextTouch" in started.search_attributes.indexed_fields
    state = await leads.describe(request.lead)
    assert (state.first_name, sorted(state.campaigns)) == (
        "Pat",
        ["isa_call_campaign", "isa_touches"],
    )
    next_touch = (await handle.describe()).typed_search_attributes.get(sa.LEAD_NEXT_TOUCH)
    assert state.next_due is not None and next_touch == state.next_due.replace(
        second=0, microsecond=0
    )
    # Revision 3: on the state-law table from the start, with no patch marker (nor the
    # search attribute a patch upserts), and no summary sealed into the start.
    assert state.law == LAW
    assert not [
        e
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
        and e.marker_recorded_event_attributes.marker_name == "core_patch"
    ]
    upserts = [
        e.upsert_workflow_search_attributes_event_attributes.search_attributes
        for e in history.events
        if e.HasField("upsert_workflow_search_attributes_event_attributes")
    ]
    upserted = [name for fields in upserts for name in fields.indexed_fields]
    assert "TemporalChangeVersion" not in upserted
    assert not history.events[0].user_metadata.HasField("summary")


async def test_a_run_started_without_its_facts_ends_saying_so(
    leads: LeadflowClient, time_env: WorkflowEnvironment
) -> None:
    """Started by hand (no ensure update), a revision-2 lead has no facts: it waits a minute
    for them, then fails with a reason rather than run as nobody."""
    from temporalio.client import WorkflowFailureError

    from leadflow.playbook.shelf import SHELF
    from leadflow.workflows.lead import LeadWorkflow
    from leadflow.workflows.messages import LeadInput

    ref = SHELF.put(PLAYBOOKS.get("isa"))
    handle = await time_env.client.start_workflow(
        LeadWorkflow.run,
        LeadInput(playbook_ref=ref, revision=2),
        id="lead:acme:by-hand",
        task_queue=leads.task_queue,
    )
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    assert "was started without its facts" in str(failed.value.cause)


async def test_a_lead_on_the_second_table_moves_to_the_third_at_its_next_decision(
    leads: LeadflowClient, time_env: WorkflowEnvironment
) -> None:
    """A run of an earlier revision (a lead that started on the second table) keeps to it
    until a decision, then takes the third behind its patch: one marker, and from then a
    marketing text to a US number needs written consent."""
    from leadflow.playbook.shelf import SHELF
    from leadflow.workflows.lead import LeadWorkflow
    from leadflow.workflows.messages import LeadInput

    await skip_to_next(time_env, 0, dt.time(10))  # Monday 10:00 in Chicago: texts may go
    request = new_lead(playbook="isa", time_zone="America/Chicago", consents=[])
    started = LeadInput(
        playbook_ref=SHELF.put(PLAYBOOKS.get("isa")),
        revision=4,
        sends_task_queue=leads.sends_task_queue,
    )
    handle = await time_env.client.start_workflow(
        LeadWorkflow.run, started, id=request.lead.workflow_id, task_queue=leads.task_queue
    )
    await handle.execute_update(LeadWorkflow.ensure, request)
    state = await leads.describe(request.lead)
    assert state.law == 3
    markers = [
        e.marker_recorded_event_attributes
        for e in (await handle.fetch_history()).events
        if e.HasField("marker_recorded_event_attributes")
        and e.marker_recorded_event_attributes.marker_name == "core_patch"
    ]
    assert len(markers) == 1
    audit = await leads.audit(request.lead)
    assert any("needs borrower's written consent" in a.reason for a in audit)


async def test_changing_an_unknown_lead_says_which_lead(leads: LeadflowClient) -> None:
    ghost = LeadRef(account_id="acme", lead_id="nobody")
    with pytest.raises(LeadNotFound, match="'nobody' of account 'acme' does not exist"):
        await leads.change_milestone(ghost, change("Contacted"))


async def test_an_update_is_decided_once_and_its_history_replays(
    leads: LeadflowClient, time_env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loop takes the decision the update's validator made: the engine runs once per
    change, not twice. Replayed, where validators do not run, the loop decides afresh and
    comes to the same history."""
    request = new_lead(playbook="isa")
    await leads.ensure_lead(request)
    decided: list[str] = []
    engine_decide = loop.decide

    def counted(*args: Any) -> Any:
        decided.append(args[2].type)
        return engine_decide(*args)

    monkeypatch.setattr(loop, "decide", counted)
    snapshot = await leads.change_milestone(request.lead, change("Contacted", "Engaged"))
    assert (snapshot.milestone, snapshot.status) == ("Contacted", "Engaged")
    assert decided == ["status_changed"]
    history = await time_env.client.get_workflow_handle(request.lead.workflow_id).fetch_history()
    replayer = Replayer(
        workflows=WORKFLOWS, data_converter=converter(PLAYBOOKS.by_digest), workflow_runner=SANDBOX
    )
    replayed = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert replayed.replay_failure is None
    assert decided[1:] == ["lead_created", "status_changed"]  # afresh, on replay


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
    orphan = LeadflowClient(
        time_env.client, task_queue="no-worker-here", answer_timeout=1, playbooks=PLAYBOOKS
    )
    with pytest.raises(LeadUnavailable, match="is a leadflow worker running on task queue"):
        await orphan.ensure_lead(new_lead())


async def test_agenda_audit_and_a_refused_signal(
    leads: LeadflowClient, time_env: WorkflowEnvironment
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
