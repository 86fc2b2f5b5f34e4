"""Call cadence, the queue, dispositions, follow-ups, callback periods, production cycle
(seeds 002, 003, 004)."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from leadflow.models.engine import (
    CallLogged,
    FollowUp,
    FollowUpCompleted,
    FollowUpScheduled,
    HorizonStated,
    InvalidChange,
    StatusChanged,
)
from tests.engine_driver import Lead, local

MONDAY = date(2026, 3, 2)
T0 = local(MONDAY, time(10))
CADENCE = [0, 2, 4, 7, 15, 30, 45, 50, 60]


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


def test_no_answer_returns_the_lead_after_the_longer_of_hold_and_callback_period() -> None:
    lead = Lead.create("isa", T0)
    lead.send(CallLogged(disposition="No Answer"), at=T0 + timedelta(minutes=5))
    assert lead.state.status == "Contact Attempted"
    back = lead.calls()[-1]
    # Seed 004 holds for 1 hour; seed 003's attempted period is 2-4 hours: 2 hours wins.
    assert back.label == "Redial"
    assert back.available_at == T0 + timedelta(minutes=5, hours=2)
    assert lead.commands("dequeue_call")


def test_disposition_holds_are_configuration() -> None:
    lead = Lead.create("isa", T0)
    book = lead.book.model_copy(update={"callback_periods": {}})
    lead.book = book
    lead.send(CallLogged(disposition="Left VM"), at=T0 + timedelta(minutes=5))
    assert lead.calls()[-1].available_at == T0 + timedelta(minutes=5, hours=1)


def test_engaged_holds_48_hours_and_ends_the_cadence() -> None:
    lead = Lead.create("isa", T0)
    lead.run_until(T0 + timedelta(days=7, minutes=30))
    at = lead.now
    lead.send(CallLogged(disposition="Engaged", comments="buying in spring"))
    assert (lead.state.status, lead.state.contacted) == ("Engaged", True)
    back = lead.calls()[-1]
    assert back.label == "Callback" and back.available_at == at + timedelta(hours=48)
    assert "isa_call_campaign" not in lead.state.campaigns
    lead.run_for(timedelta(days=60))
    later = [c for c in lead.calls(since=at + timedelta(minutes=1))]
    assert all(c.label not in ("CallASAP", "Redial") for c in later)


def test_contact_on_day_7_stops_cadence_calls_and_a_callback_is_set_by_the_isa() -> None:
    lead = Lead.create("isa", T0)
    lead.run_until(local(MONDAY + timedelta(days=7), time(11)))
    callback = FollowUp(
        id="cb1",
        subject="Call",
        start_at=local(MONDAY + timedelta(days=9), time(15)),
        notes="Prefers afternoons",
        duration=timedelta(minutes=30),
    )
    lead.send(CallLogged(disposition="Engaged", follow_up=callback))
    entry = lead.calls()[-1]
    assert (entry.label, entry.available_at, entry.notes) == (
        "Callback",
        callback.start_at,
        "Prefers afternoons",
    )  # the follow-up overrides 48h
    lead.run_for(timedelta(days=60))
    assert [c.label for c in lead.calls(since=lead.now - timedelta(days=59))] == []


def test_scheduled_call_is_labelled_as_the_lead_asked() -> None:
    lead = Lead.create("isa", T0)
    lead.send(CallLogged(disposition="Engaged"))
    at = local(MONDAY + timedelta(days=3), time(18, 30))
    lead.send(
        FollowUpScheduled(
            follow_up=FollowUp(id="s1", subject="Call", start_at=at, lead_requested=True)
        )
    )
    assert (lead.calls()[-1].label, lead.calls()[-1].available_at) == ("Scheduled", at)
    lead.send(FollowUpCompleted(id="s1"), at=at + timedelta(minutes=10))
    assert lead.state.queue is None


@pytest.mark.parametrize(
    ("follow_up", "message"),
    [
        ({"subject": "Lunch"}, "unknown follow-up subject 'Lunch'"),
        ({"duration": timedelta(minutes=45)}, "duration must be one of 15m, 30m, 60m"),
        ({"start_at": T0 - timedelta(hours=1)}, "is in the past"),
    ],
)
def test_bad_follow_ups_are_rejected(follow_up: dict[str, object], message: str) -> None:
    lead = Lead.create("isa", T0)
    fields = {"id": "f", "subject": "Call", "start_at": T0 + timedelta(days=1)} | follow_up
    with pytest.raises(InvalidChange, match=message):
        lead.send(FollowUpScheduled(follow_up=FollowUp(**fields)))  # type: ignore[arg-type]


def test_hot_requires_a_follow_up_and_queues_call_asap() -> None:
    lead = Lead.create("isa", T0)
    with pytest.raises(InvalidChange, match="requires a future follow-up"):
        lead.send(StatusChanged(milestone="Contacted", status="Hot"))
    lead.send(CallLogged(disposition="No Answer"))
    follow_up = FollowUp(id="f", subject="Email", start_at=T0 + timedelta(days=2))
    lead.send(StatusChanged(milestone="Contacted", status="Hot", follow_up=follow_up))
    entry = lead.calls()[-1]
    assert (entry.label, entry.available_at) == ("CallASAP", lead.now)  # no hold for ASAP
    # M18/M23: CallASAP 100, Hot adds 10, early month adds 20 for "contacted, no application".
    assert entry.priority == 100 + 10 + 20


def test_horizon_sets_a_follow_up_at_a_third_of_the_time_and_refuses_later_ones() -> None:
    lead = Lead.create("isa", T0)
    lead.send(CallLogged(disposition="Engaged"))
    horizon = MONDAY + timedelta(days=180)
    lead.send(HorizonStated(horizon=horizon))
    auto = lead.state.follow_ups[-1]
    limit = T0 + (local(horizon, time(10)) - T0) / 3
    assert T0 + timedelta(days=55) < auto.start_at <= limit
    too_late = FollowUp(id="late", subject="Call", start_at=limit + timedelta(days=5))
    with pytest.raises(InvalidChange, match="follow up no later than") as error:
        lead.send(FollowUpScheduled(follow_up=too_late))
    assert error.value.reason == "FollowUpTooLate"


def test_callback_periods_follow_the_status_back_and_forth() -> None:
    lead = Lead.create("isa", local(date(2026, 3, 16), time(10)))
    start = lead.now
    gaps = []
    for disposition in ["No Answer", "Engaged", "No Answer", "Engaged"]:
        lead.send(CallLogged(disposition=disposition))
        entry = lead.calls()[-1]
        gaps.append((lead.state.status, entry.available_at - lead.now))
        lead.now = entry.available_at
    assert gaps == [
        ("Contact Attempted", timedelta(hours=2)),
        ("Engaged", timedelta(hours=48)),  # the 48h hold is longer than 18h
        ("Contact Attempted", timedelta(hours=2)),
        ("Engaged", timedelta(hours=48)),
    ]
    assert start < lead.now


def test_production_cycle_tightens_contacted_early_in_the_month() -> None:
    book_isa = Lead.create("isa", T0).book
    periods = {"Engaged": book_isa.callback_periods["Engaged"]}
    book = book_isa.model_copy(
        update={
            "callback_periods": periods,
            "dispositions": {
                **book_isa.dispositions,
                "Engaged": book_isa.dispositions["Engaged"].model_copy(
                    update={"hold": timedelta(0)}
                ),
            },
        }
    )

    def gap_and_priority(day: date) -> tuple[timedelta, int]:
        lead = Lead.create(book, local(day, time(10)))
        lead.send(CallLogged(disposition="Engaged"))
        lead.send(StatusChanged(milestone="Contacted", status="Engaged"))
        lead.send(CallLogged(disposition="Engaged"))
        entry = lead.calls()[-1]
        return entry.available_at - lead.now, entry.priority

    # Month end (Mar 30) then the new month (Apr 2): the band switches across the boundary.
    assert gap_and_priority(date(2026, 3, 30)) == (timedelta(hours=27), 80)
    assert gap_and_priority(date(2026, 4, 2)) == (timedelta(hours=9), 100)
