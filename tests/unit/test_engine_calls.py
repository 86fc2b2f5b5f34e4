"""Follow-ups, required follow-ups and the horizon rule on the queue (the insurance, isa
and leads-queue presets).

Each preset's own queue rules have their file: test_engine_isa, test_engine_callback_periods,
test_engine_leads_queue."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from leadflow.engine.commands import InvalidChange
from leadflow.engine.events import CallLogged, FollowUpScheduled, HorizonStated, StatusChanged
from leadflow.engine.state import FollowUp
from tests.engine_driver import Lead, local

MONDAY = date(2026, 3, 2)
T0 = local(MONDAY, time(10))


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
    # CallASAP 100 and Hot adds 10; no production cycle in the isa preset.
    assert entry.priority == 100 + 10


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
