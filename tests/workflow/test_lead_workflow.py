"""LeadWorkflow under time skipping, its records kept in memory: validators, search
attributes, the agenda and audit, and the errors a caller sees."""

from __future__ import annotations

import datetime as dt

import pytest
from temporalio.testing import WorkflowEnvironment

from leadflow.client import (
    ChangeRejected,
    LeadflowClient,
    LeadNotFound,
    LeadUnavailable,
)
from leadflow.engine.refs import LeadRef
from leadflow.engine.state import Member, Party
from leadflow.workflows import search_attributes as sa
from tests.factories import PLAYBOOKS, change, eventually, new_lead
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
