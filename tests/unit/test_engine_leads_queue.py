"""The leads-queue preset: the communication log's dispositions, holds and follow-ups."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from leadflow.engine.commands import InvalidChange
from leadflow.engine.events import CallLogged, StatusChanged
from leadflow.engine.state import FollowUp
from leadflow.playbook.load import default_playbook
from tests.engine_driver import Lead, local, with_hold

WEDNESDAY = date(2026, 3, 4)
T0 = local(WEDNESDAY, time(10))


@pytest.mark.parametrize("disposition", ["No Answer", "Left VM", "VM Full"])
def test_no_answer_is_back_in_the_queue_an_hour_later(disposition: str) -> None:
    lead = Lead.create("leads-queue", T0)
    first = lead.calls()[0]
    assert (first.label, first.available_at, first.priority) == ("CallASAP", T0, 100)

    lead.send(CallLogged(disposition=disposition), at=local(WEDNESDAY, time(10, 5)))
    assert lead.state.status == "Contact Attempted"
    back = lead.calls()[-1]
    assert (back.label, back.available_at) == ("Redial", local(WEDNESDAY, time(11, 5)))
    assert lead.state.queue is not None and lead.state.queue.key == back.key
    assert len(lead.calls()) == 2


def test_engaged_is_back_in_the_queue_48_hours_later() -> None:
    lead = Lead.create("leads-queue", T0)
    lead.send(CallLogged(disposition="Engaged"), at=local(WEDNESDAY, time(10, 5)))
    assert (lead.state.status, lead.state.contacted) == ("Engaged", True)
    back = lead.calls()[-1]
    assert (back.label, back.available_at) == ("Callback", local(date(2026, 3, 6), time(10, 5)))


def test_disposition_holds_are_configuration() -> None:
    lead = Lead.create(with_hold("leads-queue", "Left VM", timedelta(minutes=90)), T0)
    lead.send(CallLogged(disposition="Left VM"), at=T0 + timedelta(minutes=5))
    assert lead.calls()[-1].available_at == T0 + timedelta(minutes=95)


def test_a_follow_up_date_overrides_the_hold() -> None:
    lead = Lead.create("leads-queue", T0)
    start = local(date(2026, 3, 9), time(15, 30))
    call = FollowUp(id="c1", subject="Call", start_at=start, notes="rates", priority="High")
    lead.send(CallLogged(disposition="Engaged", follow_up=call), at=T0 + timedelta(minutes=5))
    entry = lead.calls()[-1]
    assert (entry.label, entry.available_at, entry.notes) == ("Callback", start, "rates")
    (task,) = lead.commands("create_task")
    assert (task.subject, task.due_at, task.notes) == ("Call follow-up", start, "rates")

    # A follow-up that is not a call still brings the lead back on its date.
    meeting = FollowUp(
        id="m1",
        subject="Meeting",
        start_at=local(date(2026, 3, 10), time(9)),
        duration=timedelta(minutes=30),
        notes="Bring the quote",
    )
    lead.send(CallLogged(disposition="No Answer", follow_up=meeting), at=start + timedelta(hours=1))
    entry = lead.calls()[-1]
    assert (entry.label, entry.available_at, entry.notes) == (
        "FollowUp",
        meeting.start_at,
        "Bring the quote",
    )


def test_converted_leads_leave_the_queue() -> None:
    lead = Lead.create("leads-queue", T0)
    lead.send(CallLogged(disposition="Engaged"), at=T0 + timedelta(minutes=5))
    assert lead.state.queue is not None and lead.state.queue.label == "Callback"
    lead.send(StatusChanged(status="Converted"), at=T0 + timedelta(minutes=20))
    assert lead.state.queue is None
    assert lead.commands("dequeue_call")[-1].reason == "status Converted blocks calls"


def test_the_five_lead_statuses_and_the_follow_up_fields() -> None:
    book = Lead.create("leads-queue", T0).book
    assert [s.name for s in book.statuses][:5] == [
        "New",
        "Contact Attempted",
        "Engaged",
        "Nurture",
        "Converted",
    ]
    assert {d: (v.status, v.hold) for d, v in book.dispositions.items() if v.requeue} == {
        "No Answer": ("Contact Attempted", timedelta(hours=1)),
        "Left VM": ("Contact Attempted", timedelta(hours=1)),
        "VM Full": ("Contact Attempted", timedelta(hours=1)),
        "Engaged": ("Engaged", timedelta(hours=48)),
    }
    assert book.follow_ups.subjects == ["Call", "Meeting", "Email", "Letter", "Quote", "Other"]
    assert book.follow_ups.durations == [
        timedelta(minutes=15),
        timedelta(minutes=30),
        timedelta(hours=1),
    ]


def test_a_text_logged_without_a_disposition_is_a_contact_attempt() -> None:
    """The log asks a disposition only of a call: a text logged without one moves a New lead
    to Contact Attempted, its call back an hour later, as after No Answer; a text logged on
    an Engaged lead leaves its status, and a call without a disposition is refused."""
    lead = Lead.create("leads-queue", T0)
    lead.send(CallLogged(disposition=None, channel="sms"), at=local(WEDNESDAY, time(10, 5)))
    assert lead.state.status == "Contact Attempted"
    back = lead.calls()[-1]
    assert (back.label, back.available_at) == ("Redial", local(WEDNESDAY, time(11, 5)))
    [note] = [c for c in lead.commands("record_history") if c.action == "Text"]
    assert (note.note, note.status, note.call) == ("sms outbound", "Contact Attempted", None)

    lead.send(CallLogged(disposition="Engaged"), at=local(WEDNESDAY, time(11, 10)))
    lead.send(CallLogged(disposition=None, channel="sms", direction="inbound"),
              at=local(WEDNESDAY, time(12)))  # fmt: skip
    assert lead.state.status == "Engaged"
    with pytest.raises(InvalidChange, match="a call is logged with its disposition"):
        lead.send(CallLogged(disposition=None, channel="call"), at=local(WEDNESDAY, time(13)))


def test_a_playbook_without_the_rule_notes_the_text_and_changes_nothing() -> None:
    book = default_playbook("leads-queue").model_copy(update={"logged_text": None})
    lead = Lead.create(book, T0)
    lead.send(CallLogged(disposition=None, channel="sms"), at=local(WEDNESDAY, time(10, 5)))
    assert lead.state.status == "New"
    assert [c.action for c in lead.commands("record_history")][-1] == "Text"


def test_a_logged_call_carries_what_the_reports_count() -> None:
    lead = Lead.create("leads-queue", T0)
    lead.send(CallLogged(disposition="No Answer"), at=local(WEDNESDAY, time(10, 5)))
    lead.send(CallLogged(disposition="Engaged"), at=local(WEDNESDAY, time(11, 10)))
    lead.send(CallLogged(disposition="Engaged", direction="inbound"), at=local(WEDNESDAY, time(12)))
    facts = [c.call for c in lead.commands("record_history") if c.call is not None]
    assert [(f.disposition, f.contact, f.attempt) for f in facts] == [
        ("No Answer", False, 1),
        ("Engaged", True, 2),
        ("Engaged", True, None),  # an inbound call is no attempt
    ]
