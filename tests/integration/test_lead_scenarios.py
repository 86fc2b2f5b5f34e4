"""The presets' scenarios through the real LeadWorkflow, store activity and PostgreSQL, under
time skipping. Each asserts exact times, recipients and labels."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from leadflow.client import LeadflowClient
from leadflow.engine import localtime
from leadflow.engine.events import ReplyReceived
from leadflow.engine.state import Member
from leadflow.workflows import search_attributes as sa
from leadflow.workflows.messages import REVISION
from tests.factories import PLAYBOOKS, TEAM, call, change, eventually, new_lead
from tests.scenario_support import (
    CHICAGO,
    at,
    audit,
    close,
    described,
    lead_row,
    outbox,
    queue,
    skip_to,
    skip_to_next,
    tasks,
)
from tests.services import ProvidersUnderTest

MONDAY, FRIDAY = 0, 4


async def test_referral_partner_chain(
    leads: LeadflowClient, time_env: WorkflowEnvironment, db: AsyncEngine
) -> None:
    """The mortgage preset: voicemail -> high touch + partner SMS -> a week of silence ->
    "No reply to outreach" -> low touch + another partner SMS."""
    start = await skip_to_next(time_env, MONDAY, time(10))
    request = new_lead(playbook="mortgage")
    await leads.ensure_lead(request)
    await leads.change_milestone(request.lead, change("Called Left Voicemail", "Attempted Contact"))
    sent = await outbox(db, request.lead)
    # Both are decided at the same moment: their order in the outbox is not theirs to keep.
    assert sorted((m.party, m.template, m.to_address) for m in sent) == [
        ("borrower", "high_touch_sms_1", "+13125550111"),
        ("referral_partner", "referral_left_voicemail", "+13125550113"),
    ]
    assert all(close(m.created_at, start) for m in sent)

    await time_env.sleep(timedelta(days=8))

    async def moved() -> bool:
        milestone: str = (await lead_row(db, request.lead)).milestone
        return milestone == "No reply to outreach"

    assert await eventually(moved)
    sent = await outbox(db, request.lead)
    to_partner = [(m.template, m.created_at) for m in sent if m.party == "referral_partner"]
    high_touch = [m for m in sent if m.key.split(":", 3)[3].startswith("campaign:high_touch")]
    steps = PLAYBOOKS.get("mortgage").campaigns["high_touch"].steps
    assert len(high_touch) == len(steps)
    completed = high_touch[-1].created_at  # the last step; completion follows at once
    assert [t for t, _ in to_partner] == ["referral_left_voicemail", "referral_no_reply"]
    assert close(to_partner[0][1], start) and to_partner[1][1] == completed
    state = await leads.describe(request.lead)
    assert sorted(state.campaigns) == ["low_touch"]
    attributes = (
        await time_env.client.get_workflow_handle(request.lead.workflow_id).describe()
    ).typed_search_attributes
    assert attributes.get(sa.LEAD_CAMPAIGNS) == ["low_touch"]
    assert attributes.get(sa.LEAD_STATUS) == "Nurture"


async def test_a_reply_stops_the_drip_midway(
    leads: LeadflowClient, time_env: WorkflowEnvironment, db: AsyncEngine
) -> None:
    await skip_to_next(time_env, MONDAY, time(10))
    request = new_lead(playbook="mortgage")
    await leads.ensure_lead(request)
    await leads.change_milestone(request.lead, change("Called Left Voicemail", "Attempted Contact"))
    await time_env.sleep(timedelta(days=2, hours=2))
    await leads.reply_received(request.lead, ReplyReceived(channel="sms", body="call me"))

    async def stopped() -> bool:
        return "high_touch" not in (await leads.describe(request.lead)).campaigns

    assert await eventually(stopped)
    before = len(await outbox(db, request.lead))
    await time_env.sleep(timedelta(days=30))
    assert len(await outbox(db, request.lead)) == before
    assert (await lead_row(db, request.lead)).milestone == "Called Left Voicemail"
    reasons = [a.reason for a in await audit(db, request.lead) if a.outcome == "stopped"]
    assert reasons == ["reply received by sms"]


async def test_isa_cadence_with_contact_on_day_7(
    leads: LeadflowClient, time_env: WorkflowEnvironment, db: AsyncEngine
) -> None:
    """The isa preset: CallASAP at once, Redial on days 2 and 4; contact on day 7 ends the
    cadence, and the ISA is asked to set the next call (no Callback on a guess)."""
    start = await skip_to_next(time_env, MONDAY, time(10))
    request = new_lead(playbook="isa")
    created = await leads.ensure_lead(request)
    assert created.queue_label == "CallASAP" and close(created.back_in_queue_at, start)
    entry = await queue(db, request.lead)
    assert (entry.label, entry.priority) == ("CallASAP", 100)
    assert close(entry.available_at, start)

    day = localtime.local_date(start, CHICAGO)
    for offset in (2, 4):
        await skip_to(time_env, at(day + timedelta(days=offset), time(10, 5)))

        async def redial(offset: int = offset) -> object:
            entry = await queue(db, request.lead)
            return (
                entry is not None
                and close(entry.available_at, at(day + timedelta(days=offset), time(10)))
                and entry.label == "Redial"
            )

        assert await eventually(redial)

    await skip_to(time_env, at(day + timedelta(days=7), time(10, 20)))
    engaged = await leads.log_call(request.lead, call("Engaged", comments="buying in June"))
    now = at(day + timedelta(days=7), time(10, 20))
    assert (engaged.status, engaged.contacted) == ("Engaged", True)
    assert engaged.queue_label == "SetCallback"
    assert close(engaged.back_in_queue_at, now)
    assert "isa_call_campaign" not in engaged.campaigns
    (prompt,) = [t for t in await tasks(db, request.lead) if t.subject.startswith("Set a")]
    assert (prompt.subject, prompt.assignee) == ("Set a Callback or Scheduled Call", "isa-1")
    assert prompt.completed_at is None

    await time_env.sleep(timedelta(days=60))
    entry = await queue(db, request.lead)
    assert entry.label == "SetCallback"  # no Redial came back after contact
    redials = [a.at for a in await audit(db, request.lead) if a.reason == "queued as Redial"]
    assert len(redials) == 3 and all(at < now for at in redials)  # days 2, 4 and 7 only


async def test_dispositions_hold_and_a_follow_up_overrides(
    time_env: WorkflowEnvironment, db: AsyncEngine, tmp_path: Path, leads: LeadflowClient
) -> None:
    """The leads-queue preset: No Answer -> out 1 hour; Engaged -> out 48 hours;
    a follow-up date overrides both."""
    client = leads
    start = await skip_to_next(time_env, MONDAY, time(10))
    request = new_lead(playbook="leads-queue")
    await client.ensure_lead(request)

    no_answer = await client.log_call(request.lead, call("No Answer"))
    assert no_answer.status == "Contact Attempted"
    assert close(no_answer.back_in_queue_at, start + timedelta(hours=1))
    await time_env.sleep(timedelta(hours=1, minutes=5))
    engaged = await client.log_call(request.lead, call("Engaged"))
    logged = start + timedelta(hours=1, minutes=5)
    assert close(engaged.back_in_queue_at, logged + timedelta(hours=48))

    later = at(localtime.local_date(start, CHICAGO) + timedelta(days=5), time(15, 30))
    with_date = await client.log_call(request.lead, call("Left VM", follow_up_at=later))
    assert (with_date.queue_label, with_date.back_in_queue_at) == ("Callback", later)
    entry = await queue(db, request.lead)
    assert (entry.label, entry.available_at) == ("Callback", later)


async def test_callback_periods_follow_the_status_and_the_production_cycle(
    leads: LeadflowClient, time_env: WorkflowEnvironment, db: AsyncEngine
) -> None:
    """The callback-periods preset: attempted -> every 2-4 hours, contacted -> 18-24 hours,
    back and forth; early in the month "contacted, no application" is called sooner and ahead."""
    now = await time_env.get_current_time()
    month_end = localtime.local_date(now, CHICAGO).replace(day=28)
    if month_end <= localtime.local_date(now, CHICAGO):
        month_end = (month_end + timedelta(days=10)).replace(day=28)
    await skip_to(time_env, at(month_end, time(10)))
    month_end = localtime.local_date(await time_env.get_current_time(), CHICAGO)
    request = new_lead(playbook="callback-periods")
    await leads.ensure_lead(request)

    first = await leads.log_call(request.lead, call("No Answer"))
    assert first.status == "Contact Attempted"
    assert close(first.back_in_queue_at, at(month_end, time(12)))
    await leads.change_milestone(request.lead, change("Contacted", "Contacted"))
    late = await leads.log_call(request.lead, call("No Answer"))
    # Month end, "contacted, no application": the band stretches 2h to 3h.
    assert close(late.back_in_queue_at, at(month_end, time(13)))
    assert (await queue(db, request.lead)).priority == 80

    next_month = (month_end + timedelta(days=7)).replace(day=2)
    await skip_to(time_env, at(next_month, time(10)))
    early = await leads.log_call(request.lead, call("No Answer"))
    # Early month: tightened to half (1 h) and 20 points ahead.
    assert close(early.back_in_queue_at, at(next_month, time(11)))
    assert (await queue(db, request.lead)).priority == 100


async def test_date_rules_move_with_their_key_date(
    leads: LeadflowClient, time_env: WorkflowEnvironment, db: AsyncEngine
) -> None:
    start = await skip_to_next(time_env, MONDAY, time(10))
    day = localtime.local_date(start, CHICAGO)
    request = new_lead(playbook="mortgage")
    await leads.ensure_lead(request)
    await leads.set_key_dates(request.lead, {"lock_expiration": day + timedelta(days=20)})
    await time_env.sleep(timedelta(days=10))
    moved = day + timedelta(days=30)
    await leads.set_key_dates(request.lead, {"lock_expiration": moved})
    await skip_to(time_env, at(day + timedelta(days=14), time(12)))
    assert not [t for t in await tasks(db, request.lead) if "lock" in t.subject]

    await skip_to(time_env, at(moved - timedelta(days=7), time(9, 30)))

    async def lock_tasks() -> list[Any]:
        return [t for t in await tasks(db, request.lead) if "lock" in t.subject]

    found = await eventually(lock_tasks)
    rule = PLAYBOOKS.get("mortgage").date_rules[0]
    assert [(t.due_at, t.assignee) for t in found] == [
        (at(moved - timedelta(days=7), time(9)) + rule.action.due_in, "loa-1")
    ]


async def test_stop_communication_window_before_funding(
    leads: LeadflowClient, time_env: WorkflowEnvironment, db: AsyncEngine
) -> None:
    start = await skip_to_next(time_env, MONDAY, time(10))
    funded = localtime.local_date(start, CHICAGO) + timedelta(days=2)
    request = new_lead(
        playbook="mortgage", loan_purpose="Purchase", key_dates={"funded_date": funded}
    )
    await leads.ensure_lead(request)
    await leads.change_milestone(request.lead, change("Clear to Close", "In Process"))
    assert {m.party for m in await outbox(db, request.lead)} == {"borrower", "co_borrower"}
    reasons = [a.reason for a in await audit(db, request.lead) if a.outcome == "skipped"]
    assert any(r.startswith("stop communication: within 3d of funded_date") for r in reasons)


async def test_missing_designation_holds_and_asks_for_an_assignment(
    leads: LeadflowClient, time_env: WorkflowEnvironment, db: AsyncEngine
) -> None:
    await skip_to_next(time_env, MONDAY, time(10))
    team = {k: v for k, v in TEAM.items() if k in ("loan_assignee", "processor")}
    request = new_lead(playbook="mortgage", designations=team)
    await leads.ensure_lead(request)
    await leads.change_milestone(request.lead, change("Conditional Approval", "In Process"))

    sent = await outbox(db, request.lead)
    assert {(m.party, m.sender_id) for m in sent} == {
        ("buying_agent", "lo-1"),
        ("listing_agent", "lo-1"),
    }
    assign = [t for t in await tasks(db, request.lead) if t.subject.startswith("Assign")]
    assert [(t.subject, t.assignee) for t in assign] == [
        ("Assign this lead's loan officer assistant", "lo-1")
    ]  # one task for the two held texts
    held = [a for a in await audit(db, request.lead) if a.outcome == "held"]
    assert len(held) == 2 and "no loan_officer_assistant assigned" in held[0].reason

    await leads.assign_designation(
        request.lead,
        "loan_officer_assistant",
        Member(id="loa-9", name="Ali Assistant", phone="+13125550119"),
    )

    async def released() -> set[tuple[str, str]]:
        return {
            (m.party, m.sender_id)
            for m in await outbox(db, request.lead)
            if m.party in ("borrower", "co_borrower")
        }

    assert await eventually(released) == {("borrower", "loa-9"), ("co_borrower", "loa-9")}
    (done,) = [t for t in await tasks(db, request.lead) if t.subject.startswith("Assign")]
    assert done.completed_at is not None  # the assignment closed it


async def test_loan_purpose_selects_the_workflow(
    leads: LeadflowClient, time_env: WorkflowEnvironment, db: AsyncEngine
) -> None:
    await skip_to_next(time_env, MONDAY, time(10))
    for purpose, template in (
        ("Purchase", "borrower_application_purchase"),
        ("Refinance", "borrower_application_refinance"),
        ("VA", "borrower_application"),
    ):
        request = new_lead(playbook="mortgage", loan_purpose=purpose)
        await leads.ensure_lead(request)
        await leads.change_milestone(request.lead, change("Application", "In Process"))
        borrower = [m.template for m in await outbox(db, request.lead) if m.party == "borrower"]
        assert borrower == [template]
    notes = [a.reason for a in await audit(db, request.lead) if "loan purpose" in a.reason]
    assert notes == ["loan purpose 'VA' matches no workflow: the default one used"]


async def test_two_years_of_low_touch_continue_as_new_with_state_intact(
    time_env: WorkflowEnvironment, db: AsyncEngine, leads: LeadflowClient
) -> None:
    client = LeadflowClient(
        time_env.client, leads.task_queue, playbooks=PLAYBOOKS, history_limit=120
    )
    await skip_to_next(time_env, MONDAY, time(10))
    request = new_lead(playbook="mortgage")
    await client.ensure_lead(request)
    await client.change_milestone(request.lead, change("No reply to outreach", "Nurture"))
    first_run, _ = await described(time_env, request.lead.workflow_id)

    await time_env.sleep(timedelta(days=2 * 365 + 30))
    steps = PLAYBOOKS.get("mortgage").campaigns["low_touch"].steps

    async def all_sent() -> bool:
        low = [m for m in await outbox(db, request.lead) if ":campaign:low_touch:" in m.key]
        return len(low) == len(steps)

    assert await eventually(all_sent, timeout=30)
    snapshot = await client.change_milestone(request.lead, change("Contacted", "Nurture"))
    assert snapshot.runs >= 3
    assert snapshot.changes == 2 and snapshot.campaigns == []
    run_id, attributes = await described(time_env, request.lead.workflow_id)
    assert run_id != first_run
    assert attributes["LeadMilestone"] == "Contacted"
    assert attributes["LeadAccount"] == "acme"
    assert attributes["LeadCampaigns"] == []
    # The new run starts lean: no memo (the ids are in the workflow id and LeadAccount), and
    # no ensure request beside the carried state; the search attributes came along.
    history = await time_env.client.get_workflow_handle(request.lead.workflow_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    assert not started.memo.fields
    [opened] = await time_env.client.data_converter.decode(list(started.input.payloads))
    carried = opened  # the converter reads it as a plain dict
    assert carried["ensure"] is None and carried["revision"] == REVISION and carried["carried"]
    assert "LeadStatus" in started.search_attributes.indexed_fields
    # Processed request ids came along: the first change, repeated, is still a no-op.
    state = await client.describe(request.lead)
    assert state.changes == 2


async def test_a_completed_follow_up_closes_its_task(
    leads: LeadflowClient, time_env: WorkflowEnvironment, db: AsyncEngine
) -> None:
    from leadflow.workflows.messages import CompleteFollowUp, FollowUpRequest, ScheduleFollowUp

    start = await skip_to_next(time_env, MONDAY, time(10))
    request = new_lead(playbook="isa")
    await leads.ensure_lead(request)
    await leads.log_call(request.lead, call("Engaged"))
    when = start + timedelta(days=2)
    await leads.schedule_follow_up(
        request.lead,
        ScheduleFollowUp(
            follow_up=FollowUpRequest(subject="Call", start_at=when, notes="rates"),
            request_id="fu-1",
        ),
    )
    entry = await queue(db, request.lead)
    assert (entry.label, entry.notes) == ("Callback", "rates")
    done = await leads.complete_follow_up(
        request.lead, CompleteFollowUp(id="fu-1", request_id="done-1")
    )
    assert done.queue_label is None
    (task,) = [t for t in await tasks(db, request.lead) if t.key.endswith("follow-up:fu-1")]
    assert task.completed_at is not None and await queue(db, request.lead) is None


async def test_touches_reach_the_provider_once_and_a_bad_number_changes_the_status(
    leads: LeadflowClient,
    time_env: WorkflowEnvironment,
    db: AsyncEngine,
    providers: ProvidersUnderTest,
) -> None:
    from leadflow.providers.fake import Failure

    await skip_to_next(time_env, MONDAY, time(10))
    request = new_lead(playbook="isa")
    await leads.ensure_lead(request)

    async def delivered() -> list[str]:
        return [m.status for m in await outbox(db, request.lead)]

    assert await eventually(lambda: _all_sent(delivered)) is True
    assert [(m["to"], m["body"][:8]) for m in providers.state.messages] == [
        ("+13125550111", "Hi Pat, ")
    ]
    assert [e["to"] for e in providers.state.emails] == ["pat@example.com"]

    bad = new_lead(playbook="isa")
    bad_phone = "+13125550999"
    bad = bad.model_copy(
        update={
            "parties": {"borrower": bad.parties["borrower"].model_copy(update={"phone": bad_phone})}
        }
    )
    providers.state.failures.append(Failure(to=bad_phone, code=21211))
    await leads.ensure_lead(bad)

    async def status() -> str:
        found: str = (await lead_row(db, bad.lead)).status
        return found

    assert await eventually(lambda: _equals(status, "Bad Phone Number")) is True
    assert await queue(db, bad.lead) is None  # no calls to a number that does not exist


async def test_a_text_and_an_email_due_together_go_in_one_send_and_a_retry_goes_alone(
    leads: LeadflowClient,
    time_env: WorkflowEnvironment,
    db: AsyncEngine,
    providers: ProvidersUnderTest,
) -> None:
    """The first text and email go in one activity; the provider's 503 on the text leaves
    the email sent and the text to a send of its own, which delivers it once."""
    from leadflow.providers.fake import Failure

    await skip_to_next(time_env, MONDAY, time(10))
    request = new_lead(playbook="isa")
    phone = request.parties["borrower"].phone
    providers.state.failures.append(Failure(to=phone or "", code=503))
    await leads.ensure_lead(request)

    async def delivered() -> list[str]:
        return [m.status for m in await outbox(db, request.lead)]

    assert await eventually(lambda: _all_sent(delivered)) is True
    assert [m["to"] for m in providers.state.messages] == [phone]
    assert len(providers.state.emails) == 1
    history = await time_env.client.get_workflow_handle(request.lead.workflow_id).fetch_history()
    sends = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert sends == ["send_messages", "send_message"]


async def _all_sent(statuses: Callable[[], Awaitable[list[str]]]) -> bool:
    found = await statuses()
    return bool(found) and all(s == "sent" for s in found)


async def _equals(read: Callable[[], Awaitable[str]], expected: str) -> bool:
    return await read() == expected


async def test_a_member_with_a_number_of_their_own_sends_on_its_rate_limited_queue(
    time_env: WorkflowEnvironment, db: AsyncEngine, providers: ProvidersUnderTest
) -> None:
    from leadflow.config import sender_queue
    from leadflow.engine.state import Member as TeamMember
    from leadflow.store.accounts import ensure_account
    from leadflow.store.senders import add_sender
    from leadflow.worker import build_send_worker, build_worker

    own = "+13125550777"
    await ensure_account(db, "acme", "Acme", "isa")
    await add_sender(db, "acme", "sms", own)  # the operator's record: acme sends from it
    queue = f"own-{request_id_suffix()}"
    dedicated = sender_queue(f"{queue}-sends", own)
    # Only the member's own queue has a send worker: a send routed anywhere else would
    # never complete.
    async with (
        build_worker(time_env.client, db, queue),
        build_send_worker(time_env.client, db, providers.config, dedicated, per_second=1),
    ):
        client = LeadflowClient(
            time_env.client, queue, playbooks=PLAYBOOKS, sender_queues={own: dedicated}
        )
        await skip_to_next(time_env, MONDAY, time(10))
        request = new_lead(
            playbook="isa",
            designations={"isa": TeamMember(id="isa-7", name="Ivy Isa", sms_from=own)},
        )
        await client.ensure_lead(request)

        async def texted() -> list[tuple[str, str]]:
            return [(m["from"], m["to"]) for m in providers.state.messages]

        assert await eventually(texted) == [(own, "+13125550111")]
        sms = [m for m in await outbox(db, request.lead) if m.channel == "sms"]
        assert [(m.from_number, m.status) for m in sms] == [(own, "sent")]


def request_id_suffix() -> str:
    import uuid

    return uuid.uuid4().hex[:8]
