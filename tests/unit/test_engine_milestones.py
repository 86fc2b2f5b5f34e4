"""Milestones, statuses, milestone actions, drips and date rules (the mortgage and insurance
presets)."""

from __future__ import annotations

from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from leadflow.engine.commands import InvalidChange, RecordHistory
from leadflow.engine.events import (
    CampaignChanged,
    DesignationsChanged,
    KeyDatesChanged,
    ReplyReceived,
    StatusChanged,
)
from leadflow.engine.localtime import add_wall_clock
from leadflow.engine.state import FollowUp, Member
from tests.engine_driver import Lead, local

MONDAY = date(2026, 3, 2)
T0 = local(MONDAY, time(10))


def _no_assistant() -> dict[str, Member]:
    return {
        "loan_assignee": Member(id="lo-1", name="Lena Officer", phone="+13125550100"),
        "processor": Member(id="pr-1", name="Pat Processor", phone="+13125550101"),
        "marketing_manager": Member(id="mm-1", name="Mo Marketing"),
    }


# ---- history, links, required follow-ups -----------------------------------------------------


def test_every_update_records_a_history_note() -> None:
    lead = Lead.create("insurance", T0)
    follow_up = FollowUp(id="f1", subject="Call", start_at=T0 + timedelta(days=2))
    lead.send(
        StatusChanged(
            milestone="Contacted",
            status="Hot",
            note="wants a quote",
            actor="ana",
            action="Call",
            follow_up=follow_up,
        )
    )
    notes = [c for c in lead.commands("record_history") if isinstance(c, RecordHistory)]
    assert (
        notes[-1].action,
        notes[-1].milestone,
        notes[-1].status,
        notes[-1].note,
        notes[-1].actor,
    ) == ("Call", "Contacted", "Hot", "wants a quote", "ana")


@pytest.mark.parametrize(
    ("milestone", "status", "reason", "message"),
    [
        ("Sold", "Hot", "NotLinked", "status 'Hot' is not linked with milestone 'Sold'"),
        ("Bought", "Hot", "UnknownMilestone", "unknown milestone 'Bought'"),
        ("Quoted", "Lukewarm", "UnknownStatus", "unknown status 'Lukewarm'"),
        ("Quoted", "Hot", "FollowUpRequired", "status 'Hot' requires a future follow-up"),
        ("Contacted", "Follow Up", "FollowUpRequired", "requires a future follow-up"),
    ],
)
def test_invalid_changes_are_rejected_with_the_reason(
    milestone: str, status: str, reason: str, message: str
) -> None:
    lead = Lead.create("insurance", T0)
    before = lead.state.model_copy(deep=True)
    with pytest.raises(InvalidChange, match=message) as error:
        lead.send(StatusChanged(milestone=milestone, status=status))
    assert error.value.reason == reason
    assert lead.state == before


def test_the_insurance_combinations_are_accepted() -> None:
    lead = Lead.create("insurance", T0)
    soon = FollowUp(
        id="f", subject="Quote", start_at=T0 + timedelta(days=1), duration=timedelta(minutes=30)
    )
    for milestone, status, follow_up in [
        ("Contacted", "Hot", soon),
        ("Quoted", "Requote", None),
        ("Sold", "Customer", None),
        ("Sold", "Cross-Sell Auto", None),
        ("Not Interested", "Not Interested", None),
    ]:
        lead.send(StatusChanged(milestone=milestone, status=status, follow_up=follow_up))
        assert (lead.state.milestone, lead.state.status) == (milestone, status)


# ---- the referral-partner chain of the mortgage preset ---------------------------------------


def test_voicemail_starts_high_touch_then_no_reply_moves_to_low_touch() -> None:
    lead = Lead.create("mortgage", T0)
    lead.send(StatusChanged(milestone="Called Left Voicemail", status="Attempted Contact"))

    first = {(m.party, m.template) for m in lead.messages()}
    assert ("referral_partner", "referral_left_voicemail") in first
    assert ("borrower", lead.book.campaigns["high_touch"].steps[0].template) in first
    assert "high_touch" in lead.state.campaigns

    lead.run_for(timedelta(days=8))
    assert lead.state.milestone == "No reply to outreach"
    assert lead.state.status == "Nurture"
    assert "high_touch" not in lead.state.campaigns and "low_touch" in lead.state.campaigns
    to_partner = [m for m in lead.messages() if m.party == "referral_partner"]
    assert [m.template for m in to_partner] == ["referral_left_voicemail", "referral_no_reply"]
    high_touch = [m for m in lead.messages() if m.key.startswith("campaign:high_touch:1:")]
    assert len(high_touch) == len(lead.book.campaigns["high_touch"].steps)
    assert all(m.party == "borrower" and m.sender.id == "loan_assignee" for m in high_touch)
    assert {m.to for m in high_touch} >= {lead.state.parties["borrower"].phone}


def test_a_reply_stops_the_drip_midway() -> None:
    lead = Lead.create("mortgage", T0)
    lead.send(StatusChanged(milestone="Called Left Voicemail", status="Attempted Contact"))
    lead.run_for(timedelta(days=2, hours=1))
    sent_before = len(lead.messages())

    lead.send(ReplyReceived(channel="sms", party="borrower", body="call me tomorrow"))
    lead.run_for(timedelta(days=30))

    assert len(lead.messages()) == sent_before
    assert lead.state.milestone == "Called Left Voicemail"  # no "No reply to outreach"
    assert [a.reason for a in lead.audits("stopped")] == ["reply received by sms"]


# ---- share from a designation that is missing ------------------------------------------------


def test_missing_designation_holds_the_action_and_asks_for_an_assignment() -> None:
    lead = Lead.create("mortgage", T0, designations=_no_assistant())
    follow_up = FollowUp(id="f", subject="Call", start_at=T0 + timedelta(days=3))
    lead.send(
        StatusChanged(milestone="Conditional Approval", status="In Process", follow_up=follow_up)
    )

    to_agents = {m.party: m.sender.id for m in lead.messages()}
    assert to_agents == {"buying_agent": "lo-1", "listing_agent": "lo-1"}
    held = lead.audits("held")
    assert {a.key.rsplit(":", 1)[1] for a in held} == {"borrower", "co_borrower"}
    assert "no loan_officer_assistant assigned" in held[0].reason
    tasks = [t for t in lead.commands("create_task") if t.subject.startswith("Assign")]
    assert tasks and tasks[0].subject == "Assign this lead's loan officer assistant"
    assert tasks[0].assignee == "lo-1"

    assistant = Member(id="loa-1", name="Ali Assistant", phone="+13125550102")
    lead.send(
        DesignationsChanged(assignments={"loan_officer_assistant": assistant}),
        at=T0 + timedelta(hours=1),
    )
    released = [m for m in lead.messages() if m.party in ("borrower", "co_borrower")]
    assert {(m.party, m.sender.id) for m in released} == {
        ("borrower", "loa-1"),
        ("co_borrower", "loa-1"),
    }


def test_a_missing_designation_gets_one_assign_task_which_closes_on_assignment() -> None:
    lead = Lead.create("mortgage", T0, designations=_no_assistant())
    follow_up = FollowUp(id="f", subject="Call", start_at=T0 + timedelta(days=3))
    lead.send(StatusChanged(milestone="Application", status="In Process", follow_up=follow_up))
    # Two texts are held (borrower and co-borrower); the next milestone holds two more.
    lead.send(StatusChanged(milestone="Conditional Approval", status="In Process"))
    assert len(lead.audits("held")) == 4
    assign = [t for t in lead.commands("create_task") if t.subject.startswith("Assign")]
    assert [(t.subject, t.assignee, t.due_at) for t in assign] == [
        ("Assign this lead's loan officer assistant", "lo-1", T0)
    ]

    assistant = Member(id="loa-1", name="Ali Assistant", phone="+13125550102")
    lead.send(
        DesignationsChanged(assignments={"loan_officer_assistant": assistant}),
        at=T0 + timedelta(hours=1),
    )
    assert [c.key for c in lead.commands("complete_task")] == [assign[0].key]
    assert len([m for m in lead.messages() if m.sender.id == "loa-1"]) == 4

    # Unassigned again, the next held text asks again, with a task of its own.
    lead.send(DesignationsChanged(assignments={"loan_officer_assistant": None}))
    lead.send(StatusChanged(milestone="Application", status="In Process"))
    again = [t for t in lead.commands("create_task") if t.subject.startswith("Assign")]
    assert len(again) == 2 and again[1].key != assign[0].key


# ---- loan-purpose workflows ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("purpose", "template", "agents_told"),
    [
        ("Purchase", "borrower_application_purchase", True),
        ("Refinance", "borrower_application_refinance", False),
        ("purchase", "borrower_application", False),  # must match exactly
        (None, "borrower_application", False),
    ],
)
def test_loan_purpose_selects_the_workflow(
    purpose: str | None, template: str, agents_told: bool
) -> None:
    lead = Lead.create("mortgage", T0, loan_purpose=purpose)
    lead.send(StatusChanged(milestone="Application", status="In Process"))
    borrower = [m for m in lead.messages() if m.party == "borrower"]
    assert [m.template for m in borrower] == [template]
    assert any(m.party == "buying_agent" for m in lead.messages()) is agents_told
    notes = [a.reason for a in lead.audits("note") if "loan purpose" in a.reason]
    if template == "borrower_application":
        said = "no loan purpose" if purpose is None else f"loan purpose {purpose!r}"
        assert notes == [f"{said} matches no workflow: the default one used"]


# ---- stop-communication window ---------------------------------------------------------------


@pytest.mark.parametrize(("days_to_funding", "agents_told"), [(2, False), (3, False), (5, True)])
def test_clear_to_close_near_funding_does_not_notify_agents(
    days_to_funding: int, agents_told: bool
) -> None:
    lead = Lead.create(
        "mortgage",
        T0,
        loan_purpose="Purchase",
        key_dates={"funded_date": MONDAY + timedelta(days=days_to_funding)},
    )
    lead.send(StatusChanged(milestone="Clear to Close", status="In Process"))
    parties = {m.party for m in lead.messages()}
    assert {"borrower", "co_borrower"} <= parties
    assert ("buying_agent" in parties) is agents_told
    if not agents_told:
        assert any("stop communication" in a.reason for a in lead.audits("skipped"))


# ---- date rules ------------------------------------------------------------------------------


def test_lock_expiration_task_fires_seven_days_before_and_follows_the_date() -> None:
    lock = MONDAY + timedelta(days=20)
    lead = Lead.create("mortgage", T0)
    lead.send(KeyDatesChanged(dates={"lock_expiration": lock}))
    lead.run_for(timedelta(days=10))
    assert not [t for t in lead.commands("create_task") if "lock" in t.subject.lower()]

    moved = lock + timedelta(days=10)  # the lock was extended: the reminder moves with it
    lead.send(KeyDatesChanged(dates={"lock_expiration": moved}))
    lead.run_until(local(lock - timedelta(days=7), time(12)))
    assert not [t for t in lead.commands("create_task") if "lock" in t.subject.lower()]

    lead.run_until(local(moved, time(12)))
    tasks = [t for t in lead.commands("create_task") if "lock" in t.subject.lower()]
    assert len(tasks) == 1
    rule = lead.book.date_rules[0]
    assert tasks[0].due_at == local(moved - timedelta(days=7), time(9)) + rule.action.due_in
    assert tasks[0].assignee == "loan_officer_assistant"


def test_gift_task_one_day_after_funding() -> None:
    lead = Lead.create("mortgage", T0, key_dates={"funded_date": MONDAY + timedelta(days=3)})
    lead.run_for(timedelta(days=5))
    gifts = [t for t in lead.commands("create_task") if "gift" in t.subject.lower()]
    assert len(gifts) == 1
    gift = next(r for r in lead.book.date_rules if r.key_date == "funded_date")
    fired = local(MONDAY + timedelta(days=3), gift.at) + gift.offset
    assert gifts[0].due_at == fired + gift.action.due_in


# ---- campaign signals ------------------------------------------------------------------------


def test_pause_and_resume_shift_the_remaining_steps() -> None:
    lead = Lead.create("mortgage", T0)
    lead.send(CampaignChanged(op="start", campaign="high_touch"))
    lead.send(CampaignChanged(op="pause", campaign="high_touch"), at=T0 + timedelta(hours=1))
    paused_count = len(lead.messages())
    lead.run_for(timedelta(days=10))
    assert len(lead.messages()) == paused_count and lead.idle()

    resumed = lead.now
    lead.send(CampaignChanged(op="resume", campaign="high_touch"))
    lead.run_for(timedelta(days=10))
    high_touch = [m for m in lead.messages() if m.key.startswith("campaign:high_touch:")]
    assert len(high_touch) == len(lead.book.campaigns["high_touch"].steps)
    # The remaining steps kept their offsets, shifted by the time spent paused.
    shift = resumed - (T0 + timedelta(hours=1))
    last = lead.book.campaigns["high_touch"].steps[-1]
    sent_at = next(s.at for s in lead.log if s.command is high_touch[-1])
    expected = add_wall_clock(T0 + shift, last.after, "America/Chicago")
    if last.at is not None:
        expected = local(expected.astimezone(ZoneInfo("America/Chicago")).date(), last.at)
    assert sent_at == expected
    assert lead.state.milestone == "No reply to outreach"


def test_switch_and_cancel_campaigns() -> None:
    lead = Lead.create("mortgage", T0)
    lead.send(CampaignChanged(op="start", campaign="high_touch"))
    lead.send(CampaignChanged(op="switch", campaign="low_touch", switch_from="high_touch"))
    assert set(lead.state.campaigns) == {"low_touch"}
    lead.send(CampaignChanged(op="cancel", campaign="low_touch"))
    assert lead.state.campaigns == {} and lead.idle()
    with pytest.raises(InvalidChange, match="'low_touch' is not running"):
        lead.send(CampaignChanged(op="pause", campaign="low_touch"))
    with pytest.raises(InvalidChange, match="unknown campaign 'drip'"):
        lead.send(CampaignChanged(op="start", campaign="drip"))
