"""The isa preset's ISA system: Call ASAP, the call cadence until contact, texts
and emails between the calls, and the ISA setting the next call once contact is made."""

from __future__ import annotations

from datetime import date, time, timedelta

from leadflow.engine.events import CallLogged, FollowUpCompleted, FollowUpScheduled, StatusChanged
from leadflow.engine.state import FollowUp
from tests.engine_driver import Lead, local

MONDAY = date(2026, 3, 2)
T0 = local(MONDAY, time(10))
CADENCE = [0, 2, 4, 7, 15, 30, 45, 50, 60]


def test_nobody_answers_one_call_asap_and_eight_redials_in_sixty_days() -> None:
    """The ISA logs No Answer on every call the queue gives them: no extra Redial comes
    back outside the cadence (8 redials over 60 days)."""
    lead = Lead.create("isa", T0)
    logged = 0
    end = T0 + timedelta(days=61)
    while lead.state.queue is not None or lead.state.next_due is not None:
        entry = lead.state.queue
        if entry is not None:
            lead.send(
                CallLogged(disposition="No Answer"), at=entry.available_at + timedelta(minutes=5)
            )
            logged += 1
            assert lead.state.queue is None  # nothing re-queued outside the cadence
        elif lead.state.next_due is not None and lead.state.next_due <= end:
            lead.run_until(lead.state.next_due)
        else:
            break
    calls = lead.calls()
    assert [(c.label, c.available_at) for c in calls] == [("CallASAP", T0)] + [
        ("Redial", local(MONDAY + timedelta(days=day), time(10))) for day in CADENCE[1:]
    ]
    assert [c.priority for c in calls] == [100] + [50] * 8
    assert logged == 9 and lead.state.call_attempts == 9
    assert lead.state.status == "Contact Attempted"
    assert "isa_call_campaign" not in lead.state.campaigns  # the cadence has ended


def test_new_lead_is_called_asap_then_redialled_on_the_cadence_days() -> None:
    lead = Lead.create("isa", T0)
    lead.run_for(timedelta(days=61))
    calls = lead.calls()
    assert [lead.day_of(c.available_at, T0) for c in calls] == CADENCE
    assert [c.label for c in calls] == ["CallASAP"] + ["Redial"] * 8
    assert calls[0].available_at == T0 and calls[0].priority == 100
    texts = lead.messages()
    assert 10 <= len(texts) <= 15
    assert {m.channel for m in texts} == {"sms", "email"}


def test_contact_prompts_the_isa_to_set_the_next_call_instead_of_a_silent_callback() -> None:
    lead = Lead.create("isa", T0)
    at = local(MONDAY + timedelta(days=7), time(10, 20))
    lead.send(CallLogged(disposition="Engaged", comments="buying in spring"), at=at)
    assert (lead.state.status, lead.state.contacted) == ("Engaged", True)
    assert "isa_call_campaign" not in lead.state.campaigns
    (task,) = [t for t in lead.commands("create_task", since=at)]
    assert (task.subject, task.assignee, task.due_at) == (
        "Set a Callback or Scheduled Call",
        "isa",
        at,
    )
    assert "Contact made" in task.notes
    prompt = lead.calls()[-1]
    assert (prompt.label, prompt.available_at, prompt.priority) == ("SetCallback", at, 95)
    assert prompt.key == task.key and "set a Callback or Scheduled Call" in prompt.notes
    assert not [c for c in lead.calls(since=at) if c.label == "Callback"]

    lead.run_for(timedelta(days=60))  # nothing comes back on its own
    assert [c.label for c in lead.calls(since=at)] == ["SetCallback"]

    callback = local(MONDAY + timedelta(days=69), time(15))
    lead.send(
        FollowUpScheduled(
            follow_up=FollowUp(id="cb", subject="Call", start_at=callback, notes="afternoons")
        ),
        at=local(MONDAY + timedelta(days=67), time(9, 30)),
    )
    assert [c.key for c in lead.commands("complete_task")] == [task.key]
    entry = lead.calls()[-1]
    assert (entry.label, entry.available_at, entry.notes) == ("Callback", callback, "afternoons")


def test_a_callback_set_with_the_call_needs_no_prompt() -> None:
    lead = Lead.create("isa", T0)
    at = local(MONDAY + timedelta(days=7), time(11))
    callback = FollowUp(
        id="cb1",
        subject="Call",
        start_at=local(MONDAY + timedelta(days=9), time(15)),
        notes="Prefers afternoons",
        duration=timedelta(minutes=30),
    )
    lead.send(CallLogged(disposition="Engaged", follow_up=callback), at=at)
    entry = lead.calls()[-1]
    assert (entry.label, entry.available_at, entry.notes) == (
        "Callback",
        callback.start_at,
        "Prefers afternoons",
    )
    assert not [t for t in lead.commands("create_task") if t.subject.startswith("Set a")]
    lead.run_for(timedelta(days=60))
    assert [c.label for c in lead.calls(since=at)] == ["Callback"]


def test_a_scheduled_call_the_lead_asked_for_is_labelled_scheduled() -> None:
    lead = Lead.create("isa", T0)
    lead.send(CallLogged(disposition="Engaged"), at=T0 + timedelta(minutes=10))
    at = local(MONDAY + timedelta(days=3), time(18, 30))
    lead.send(
        FollowUpScheduled(
            follow_up=FollowUp(id="s1", subject="Call", start_at=at, lead_requested=True)
        )
    )
    assert (lead.calls()[-1].label, lead.calls()[-1].available_at) == ("Scheduled", at)
    assert len(lead.commands("complete_task")) == 1  # the prompt is settled
    lead.send(FollowUpCompleted(id="s1"), at=at + timedelta(minutes=10))
    assert lead.state.queue is None


def test_contact_by_a_status_change_prompts_too() -> None:
    lead = Lead.create("isa", T0)
    at = T0 + timedelta(hours=2)
    lead.send(StatusChanged(milestone="Contacted", status="Engaged"), at=at)
    assert [(c.label, c.available_at) for c in lead.calls(since=at)] == [("SetCallback", at)]
    subjects = [t.subject for t in lead.commands("create_task", since=at)]
    assert subjects == ["Set a Callback or Scheduled Call"]
