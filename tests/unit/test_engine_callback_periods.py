"""The callback-periods preset: callback periods and the production cycle."""

from __future__ import annotations

from datetime import date, time, timedelta

from leadflow.engine.events import CallLogged, StatusChanged
from tests.engine_driver import Lead, local, with_hold

MONDAY = date(2026, 3, 16)  # mid-month: no production-cycle band applies
T0 = local(MONDAY, time(10))


def test_attempted_is_back_within_2_to_4_hours_and_contacted_within_18_to_24() -> None:
    lead = Lead.create("callback-periods", T0)
    first = lead.calls()[0]
    assert (first.label, first.available_at) == ("CallASAP", T0)
    lead.send(CallLogged(disposition="No Answer"), at=local(MONDAY, time(10, 5)))
    back = lead.calls()[-1]
    assert lead.state.status == "Contact Attempted"
    assert (back.label, back.available_at) == ("Redial", local(MONDAY, time(12, 5)))
    period = lead.book.callback_periods["Contact Attempted"]
    assert (period.min, period.max) == (timedelta(hours=2), timedelta(hours=4))

    lead.send(CallLogged(disposition="Engaged"), at=local(MONDAY, time(15, 10)))
    back = lead.calls()[-1]
    assert (lead.state.status, lead.state.contacted) == ("Contacted", True)
    tuesday = MONDAY + timedelta(days=1)
    assert (back.label, back.available_at) == ("Callback", local(tuesday, time(9, 10)))
    period = lead.book.callback_periods["Contacted"]
    assert (period.min, period.max) == (timedelta(hours=18), timedelta(hours=24))


def test_no_answer_returns_the_lead_after_the_longer_of_hold_and_callback_period() -> None:
    lead = Lead.create(with_hold("callback-periods", "No Answer", timedelta(hours=1)), T0)
    lead.send(CallLogged(disposition="No Answer"), at=T0 + timedelta(minutes=5))
    assert lead.state.status == "Contact Attempted"
    back = lead.calls()[-1]
    # A 1-hour hold and the attempted period of 2-4 hours: 2 hours wins.
    assert back.label == "Redial"
    assert back.available_at == T0 + timedelta(minutes=5, hours=2)
    assert lead.commands("dequeue_call")

    lead = Lead.create(with_hold("callback-periods", "No Answer", timedelta(hours=5)), T0)
    lead.send(CallLogged(disposition="No Answer"), at=T0 + timedelta(minutes=5))
    assert lead.calls()[-1].available_at == T0 + timedelta(minutes=5, hours=5)


def test_callback_periods_follow_the_status_back_and_forth() -> None:
    start = local(MONDAY, time(17))  # every return lands inside calling hours
    lead = Lead.create("callback-periods", start)
    gaps = []
    for disposition in ["No Answer", "Engaged", "No Answer", "Engaged"]:
        lead.send(CallLogged(disposition=disposition))
        entry = lead.calls()[-1]
        gaps.append((lead.state.status, entry.label, entry.available_at - lead.now))
        lead.now = entry.available_at
    assert gaps == [
        ("Contact Attempted", "Redial", timedelta(hours=2)),
        ("Contacted", "Callback", timedelta(hours=18)),
        ("Contact Attempted", "Callback", timedelta(hours=2)),  # contact lost: 2 h again
        ("Contacted", "Callback", timedelta(hours=18)),
    ]
    assert lead.now == start + timedelta(hours=40)


def test_production_cycle_tightens_contacted_early_in_the_month() -> None:
    def gap_and_priority(
        day: date, milestone: str, clock: time = time(10)
    ) -> tuple[timedelta, int]:
        lead = Lead.create("callback-periods", local(day, clock))
        lead.send(CallLogged(disposition="Engaged"))
        lead.send(StatusChanged(milestone=milestone, status="Contacted"))
        lead.send(CallLogged(disposition="Engaged"))
        entry = lead.calls()[-1]
        return entry.available_at - lead.now, entry.priority

    # "Contacted, no application": month end (Mar 30) stretches 18 h by half; the new month
    # (Apr 2) halves it and ranks it 20 ahead; mid-month (Mar 16) is the plain period.
    assert gap_and_priority(date(2026, 3, 30), "Contacted") == (timedelta(hours=27), 80)
    assert gap_and_priority(date(2026, 4, 2), "Contacted") == (timedelta(hours=9), 100)
    assert gap_and_priority(date(2026, 3, 16), "Contacted", time(15)) == (timedelta(hours=18), 80)
    # "Application, no scheduled closing": the other way round.
    assert gap_and_priority(date(2026, 4, 2), "Application") == (timedelta(hours=27), 80)
    assert gap_and_priority(date(2026, 3, 30), "Application") == (timedelta(hours=9), 100)
