"""A deferred campaign step moves the later ones only as far as it must: a step written at a
local time stays on its own day unless the deferral reached it (`campaigns.shift_after_deferral`,
from the second state-law table on)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from leadflow.engine import localtime
from leadflow.playbook.load import default_playbook
from leadflow.playbook.schema import Playbook, Step
from tests.engine_driver import CHICAGO, Lead, local

MONDAY = date(2026, 3, 2)
SATURDAY = date(2026, 3, 7)  # the night before clocks go forward in Chicago
TOUCHES = "isa_touches"


def cadence(*steps: tuple[str, str | None]) -> Playbook:
    """The ISA playbook with its touches replaced by texts `after` enrollment, `at` a time."""
    book = default_playbook("isa")
    made = [
        Step.model_validate({"after": after, "at": at, "do": "sms", "template": "missed_you_sms"})
        for after, at in steps
    ]
    campaign = book.campaigns[TOUCHES].model_copy(update={"steps": made})
    return book.model_copy(update={"campaigns": {**book.campaigns, TOUCHES: campaign}})


def fired(lead: Lead) -> dict[int, datetime]:
    """When each step of the touches campaign was sent, by step index."""
    prefix = f"campaign:{TOUCHES}:1:"
    return {
        int(s.command.key.removeprefix(prefix).split(":")[0]): s.at
        for s in lead.log
        if s.command.kind == "send_message" and s.command.key.startswith(prefix)
    }


def written(lead: Lead, arrival: datetime, index: int) -> datetime:
    """Where a step with a time of day falls as written: its day counted from the arrival."""
    step = lead.book.campaigns[TOUCHES].steps[index]
    assert step.at is not None
    moment = localtime.add_wall_clock(arrival, step.after, CHICAGO)
    return local(localtime.local_date(moment, CHICAGO), step.at)


def test_fixed_time_steps_keep_their_own_days_when_the_first_steps_are_deferred() -> None:
    """A cadence of steps at fixed local times whose first steps are deferred keeps every
    later step on its own day: the ISA touches of a lead arriving at 22:15."""
    arrival = local(MONDAY, time(22, 15))
    lead = Lead.create("isa", arrival)
    lead.run_for(timedelta(days=61))
    sent = fired(lead)
    assert sent[0] == local(MONDAY + timedelta(days=1), time(8))  # the night's intro, at eight
    steps = lead.book.campaigns[TOUCHES].steps
    at_steps = [i for i, step in enumerate(steps) if step.at is not None]
    assert at_steps and all(i in sent for i in at_steps)
    assert {i: sent[i] for i in at_steps} == {i: written(lead, arrival, i) for i in at_steps}


def test_a_step_written_at_seven_forty_five_keeps_its_day_after_a_night_deferral() -> None:
    arrival = local(MONDAY, time(22, 15))
    lead = Lead.create(cadence(("0d", None), ("3d", "07:45"), ("5d", "10:00")), arrival)
    lead.run_for(timedelta(days=6))
    sent = fired(lead)
    thursday = MONDAY + timedelta(days=3)
    assert sent[1] == local(thursday, time(8))  # its own day, held to the window's opening
    assert sent[2] == local(MONDAY + timedelta(days=5), time(10))


def test_a_step_the_deferral_reached_goes_the_next_day_at_its_time_and_nothing_bunches() -> None:
    arrival = local(MONDAY, time(22, 15))
    lead = Lead.create(
        cadence(("0d", None), ("1d", "08:00"), ("1d", "09:00"), ("2d", "08:00"), ("4d", "10:00")),
        arrival,
    )
    lead.run_for(timedelta(days=6))
    sent = fired(lead)
    tuesday, wednesday = MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)
    assert sent[0] == local(tuesday, time(8))
    assert sent[1] == local(wednesday, time(8))  # its 08:00 was taken by the deferred intro
    assert sent[2] == local(wednesday, time(9))  # after the step before it
    assert sent[3] == local(MONDAY + timedelta(days=3), time(8))
    assert sent[4] == local(MONDAY + timedelta(days=4), time(10))  # on its own day
    times = [sent[i] for i in sorted(sent)]
    assert times == sorted(times) and len(set(times)) == len(times)


def test_a_later_step_is_never_due_before_a_deferred_step_went() -> None:
    """Texas opens at noon on Sundays: a Saturday-night lead's first text waits until then,
    and the Sunday-morning step goes on Monday at its time, the Monday one on Tuesday."""
    arrival = local(SATURDAY, time(22))
    lead = Lead.create(
        cadence(("0d", None), ("1d", "10:00"), ("2d", "10:00"), ("4d", "10:00")),
        arrival,
        region="TX",
    )
    lead.run_for(timedelta(days=5))
    sent = fired(lead)
    sunday = SATURDAY + timedelta(days=1)
    assert sent[0] == local(sunday, time(12))
    assert sent[1] == local(sunday + timedelta(days=1), time(10))
    assert sent[2] == local(sunday + timedelta(days=2), time(10))
    assert sent[3] == local(SATURDAY + timedelta(days=4), time(10))  # on its own day


def test_a_deferral_of_a_day_or_more_moves_later_steps_by_its_whole_days() -> None:
    """Pennsylvania is closed on Sundays: a Saturday-evening lead's first text waits until
    Monday, a day and more, and the cadence moves one day, each step at its time."""
    arrival = local(SATURDAY, time(20))
    lead = Lead.create(
        cadence(("0d", None), ("1d", "10:00"), ("3d", "11:00")), arrival, region="PA"
    )
    lead.run_for(timedelta(days=6))
    sent = fired(lead)
    monday = SATURDAY + timedelta(days=2)
    assert sent[0] == local(monday, time(9))
    assert sent[1] == local(monday, time(10))
    assert sent[2] == local(SATURDAY + timedelta(days=4), time(11))


def test_a_step_whose_time_comes_while_a_deferred_step_waits_goes_the_next_day_alone() -> None:
    """07:45 is before the window opens: that step waits until 08:00, and the 07:50 step
    written after it would come first; it goes the next day at its time instead, so neither
    goes before the other nor with it, and the step after it keeps its own day."""
    arrival = local(MONDAY, time(14))
    lead = Lead.create(cadence(("1d", "07:45"), ("1d", "07:50"), ("3d", "10:00")), arrival)
    lead.run_for(timedelta(days=5))
    sent = fired(lead)
    assert sent[0] == local(MONDAY + timedelta(days=1), time(8))
    assert sent[1] == local(MONDAY + timedelta(days=2), time(8))
    assert sent[2] == local(MONDAY + timedelta(days=3), time(10))
    assert audits_mention(lead, "step 1 deferred: later steps 15m later")


def audits_mention(lead: Lead, text: str) -> bool:
    return any(text in a.reason for a in lead.audits("note"))


def test_leads_on_the_first_state_law_table_move_later_steps_by_the_whole_deferral() -> None:
    arrival = local(MONDAY, time(22, 15))
    lead = Lead.create(cadence(("0d", None), ("1d", "10:30"), ("3d", "07:45")), arrival, law=1)
    lead.run_for(timedelta(days=6))
    sent = fired(lead)
    assert sent[0] == local(MONDAY + timedelta(days=1), time(8))
    assert sent[1] == local(MONDAY + timedelta(days=2), time(10, 30))  # a day late, as before
    assert sent[2] == local(MONDAY + timedelta(days=4), time(8))  # 07:45 on day 4, held to 08:00


def test_a_step_deferred_at_a_set_time_shifts_later_steps_as_before_on_the_first_table() -> None:
    arrival = local(MONDAY, time(14))
    lead = Lead.create(cadence(("1d", "07:45"), ("2d", "09:00")), arrival, law=1)
    lead.run_for(timedelta(days=3))
    sent = fired(lead)
    assert sent[0] == local(MONDAY + timedelta(days=1), time(8))
    assert sent[1] == local(MONDAY + timedelta(days=2), time(9))


ARRIVAL_DAYS = st.integers(min_value=0, max_value=260).map(
    lambda n: date(2026, 3, 1) + timedelta(n)
)
MINUTES = st.builds(lambda h, m: h * 60 + m, st.sampled_from(range(24)), st.sampled_from(range(60)))
OPEN_TIMES = st.integers(min_value=8 * 12 + 1, max_value=21 * 12 - 1).map(
    lambda n: f"{n // 12:02d}:{n % 12 * 5:02d}"
)  # in the window, after its opening: a step never lands on a deferred one by its time alone


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(day=SATURDAY, minute=22 * 60 + 15, first=None, days=[1, 3, 5], times=["10:30"] * 6)
@given(
    day=ARRIVAL_DAYS,
    minute=MINUTES,
    first=st.one_of(st.none(), OPEN_TIMES),
    days=st.lists(st.integers(min_value=1, max_value=30), min_size=1, max_size=6, unique=True),
    times=st.lists(OPEN_TIMES, min_size=6, max_size=6),
)
def test_every_step_at_a_time_goes_on_its_written_day_whatever_the_hour_the_lead_arrives(
    day: date, minute: int, first: str | None, days: list[int], times: list[str]
) -> None:
    """A lead open every day from 08:00 to 21:00, arriving at any hour of any day (both
    clock changes included): the first step waits for the morning if it must, every later
    step goes on its written day at its time, in order, never two at once."""
    arrival = local(day, time(minute // 60, minute % 60))
    steps = [("0d", first)] + [(f"{d}d", t) for d, t in zip(sorted(days), times, strict=False)]
    lead = Lead.create(cadence(*steps), arrival)
    lead.run_for(timedelta(days=max(days) + 2))
    sent = fired(lead)
    assert sorted(sent) == list(range(len(steps)))
    for i in range(1, len(steps)):
        assert sent[i] == written(lead, arrival, i)
    times_sent = [sent[i] for i in range(len(steps))]
    assert times_sent == sorted(times_sent) and len(set(times_sent)) == len(times_sent)


def test_many_short_deferrals_never_add_up_to_a_lost_day() -> None:
    """Thirty daily steps written for 07:00 each wait an hour for the window: thirty hours
    held back in all, yet each goes on its own day, and so does the step after them."""
    steps = [(f"{n}d", "07:00") for n in range(1, 31)] + [("31d", "10:00")]
    lead = Lead.create(cadence(*steps), local(MONDAY, time(12)))
    lead.run_for(timedelta(days=33))
    sent = fired(lead)
    assert [sent[n] for n in range(30)] == [
        local(MONDAY + timedelta(days=n + 1), time(8)) for n in range(30)
    ]
    assert sent[30] == local(MONDAY + timedelta(days=31), time(10))
