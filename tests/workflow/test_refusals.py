"""Input that reaches a lead however it came (a signal sent past the client, a fact the
engine cannot place) never fails its workflow task: the loop refuses it, says so in the
audit, and the lead goes on answering."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from leadflow.client import ChangeRejected, LeadflowClient
from leadflow.engine.events import KeyDatesChanged, OptedIn, PartiesChanged
from leadflow.engine.preview import AGENDA_DAYS
from leadflow.engine.state import Party
from leadflow.worker import SANDBOX, WORKFLOWS
from leadflow.workflows import refusals
from leadflow.workflows.lead import LeadWorkflow
from leadflow.workflows.messages import FollowUpRequest, ScheduleFollowUp
from tests.factories import PARTIES, PLAYBOOKS, change, eventually, new_lead, request_id
from tests.keys import converter
from tests.scenario_support import skip_to_next
from tests.workflow.support import settled, task_failures

MONDAY = 0
NOWHERE = Party(
    name="Pat Lee",
    phone="+13125550111",
    email="pat@example.com",
    sms_consent=True,
    time_zone="Nowhere/Zone",  # a zone the engine cannot read: past the client's check
)


async def refused(handle: WorkflowHandle[Any, Any], kind: str) -> str:
    lines = await eventually(
        lambda: _refusals(handle, kind),
    )
    assert lines, f"no refusal of {kind} in the audit"
    return lines[-1]


async def _refusals(handle: WorkflowHandle[Any, Any], kind: str) -> list[str]:
    audit = await handle.query(LeadWorkflow.audit)
    return [a.reason for a in audit if a.key == f"refused:{kind}"]


async def test_a_key_date_at_the_calendars_end_sent_as_a_signal_is_refused_and_audited(
    leads: LeadflowClient, time_env: WorkflowEnvironment
) -> None:
    request = new_lead(playbook="insurance")
    await leads.ensure_lead(request)
    handle = time_env.client.get_workflow_handle(request.lead.workflow_id)
    await handle.signal(
        LeadWorkflow.set_key_dates, KeyDatesChanged(dates={"requote_date": date(1, 1, 1)})
    )
    assert await settled(handle) == []
    reason = await refused(handle, "key_dates_changed")
    assert "out of range" in reason
    state = await leads.describe(request.lead)
    assert "requote_date" not in state.key_dates
    with pytest.raises(ChangeRejected, match="out of range"):  # the client's door
        await leads.set_key_dates(request.lead, {"requote_date": date(9999, 12, 31)})


async def test_a_timer_the_engine_cannot_decide_is_refused_and_tried_again_later(
    leads: LeadflowClient, time_env: WorkflowEnvironment
) -> None:
    """A party whose zone the engine cannot read (sent past the client) makes the next
    touch raise: the loop refuses the timer (its patch marker in history), waits a day or
    for the next event, refuses events and updates while the touch stays undecidable, and
    goes on once the party is fixed."""
    await skip_to_next(time_env, MONDAY, time(9))
    request = new_lead(playbook="isa", parties={"borrower": PARTIES["borrower"]})
    await leads.ensure_lead(request)
    handle = time_env.client.get_workflow_handle(request.lead.workflow_id)
    await handle.signal(LeadWorkflow.set_parties, PartiesChanged(parties={"borrower": NOWHERE}))
    await time_env.sleep(timedelta(days=2))
    reason = await refused(handle, "timer_fired")
    assert reason == (
        "timer_fired refused: it could not be decided (ZoneInfoNotFoundError); "
        "tried again in 1 day or at the next event"
    )
    assert await settled(handle) == []
    history = await handle.fetch_history()
    markers = [
        e.marker_recorded_event_attributes
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
    ]
    assert any(refusals.PATCH.encode() in m.SerializeToString() for m in markers)

    await handle.signal(LeadWorkflow.opt_in, OptedIn(channel="email"))
    assert "(ZoneInfoNotFoundError)" in await refused(handle, "opted_in")
    with pytest.raises(ChangeRejected, match="could not decide") as caught:
        await leads.change_milestone(request.lead, change(None, "Contact Attempted"))
    assert caught.value.kind == "Undecidable"
    assert await settled(handle) == []

    before = len(await handle.query(LeadWorkflow.audit))
    await leads.set_parties(request.lead, {"borrower": PARTIES["borrower"]})
    audit = await eventually(
        lambda: _fired_after(handle, before),
    )
    assert audit, "the lead did not go on once its party was fixed"
    assert await task_failures(handle) == []
    # Replayed, each decision that raised raises again and is refused where it was.
    replayer = Replayer(
        workflows=WORKFLOWS, data_converter=converter(PLAYBOOKS.by_digest), workflow_runner=SANDBOX
    )
    replayed = await replayer.replay_workflow(await handle.fetch_history())
    assert replayed.replay_failure is None


async def _fired_after(handle: WorkflowHandle[Any, Any], index: int) -> list[str]:
    audit = await handle.query(LeadWorkflow.audit)
    return [a.key for a in audit[index:] if a.outcome in ("fired", "deferred")]


async def test_the_51st_open_follow_up_is_refused_and_the_first_kept(
    leads: LeadflowClient, time_env: WorkflowEnvironment
) -> None:
    request = new_lead(playbook="isa")
    await leads.ensure_lead(request)
    start = await time_env.get_current_time() + timedelta(days=2)
    ids = []
    for i in range(50):
        ask = ScheduleFollowUp(
            follow_up=FollowUpRequest(start_at=start + timedelta(hours=i)), request_id=request_id()
        )
        await leads.schedule_follow_up(request.lead, ask)
        ids.append(ask.request_id)
    one_more = ScheduleFollowUp(
        follow_up=FollowUpRequest(start_at=start + timedelta(days=30)), request_id=request_id()
    )
    with pytest.raises(ChangeRejected, match="50 open follow-ups") as caught:
        await leads.schedule_follow_up(request.lead, one_more)
    assert caught.value.kind == "TooManyFollowUps"
    state = await leads.describe(request.lead)
    assert [f.id for f in state.follow_ups] == ids


async def test_a_far_follow_up_or_horizon_is_refused_by_the_validator(
    leads: LeadflowClient, time_env: WorkflowEnvironment
) -> None:
    request = new_lead(playbook="isa", time_zone="Asia/Tokyo")
    await leads.ensure_lead(request)
    handle = time_env.client.get_workflow_handle(request.lead.workflow_id)
    far = datetime.fromisoformat("9999-12-31T23:00:00+00:00")
    ask = ScheduleFollowUp(follow_up=FollowUpRequest(start_at=far), request_id=request_id())
    with pytest.raises(WorkflowUpdateFailedError) as caught:  # past the client's door
        await handle.execute_update(LeadWorkflow.schedule_follow_up, ask)
    assert isinstance(caught.value.cause, ApplicationError)
    assert caught.value.cause.type == "OutOfRange"
    assert "follow-up start 9999-12-31" in caught.value.cause.message
    assert await task_failures(handle) == []


async def test_the_agenda_looks_at_most_90_days_ahead(
    leads: LeadflowClient, time_env: WorkflowEnvironment
) -> None:
    """The insurance winback campaign has steps 90, 180 and 300 days after it starts: a
    query for a year's agenda stops at 90 days, as the API's maximum does."""
    request = new_lead(playbook="insurance")
    await leads.ensure_lead(request)
    await leads.enroll(request.lead, "winback")
    now = await time_env.get_current_time()
    await eventually(lambda: _running(leads, request.lead, "winback"))
    entries = await leads.agenda(request.lead, days=365)
    assert entries
    assert all(e.at <= now + timedelta(days=AGENDA_DAYS, minutes=1) for e in entries)


async def _running(leads: LeadflowClient, lead: Any, campaign: str) -> bool:
    return campaign in (await leads.describe(lead)).campaigns
