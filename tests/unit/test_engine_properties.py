"""Properties of `decide` that hold for arbitrary event sequences (hypothesis)."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from leadflow.engine import localtime, phones
from leadflow.engine.commands import InvalidChange
from leadflow.engine.decide import decide
from leadflow.engine.events import (
    CallLogged,
    CampaignChanged,
    DeliveryFailed,
    FollowUpScheduled,
    KeyDatesChanged,
    LeadCreated,
    OptedIn,
    OptedOut,
    ReplyReceived,
    StatusChanged,
    TimerFired,
)
from leadflow.engine.preview import sample_lead
from leadflow.engine.state import EngineState, FollowUp
from leadflow.playbook.load import DEFAULTS, default_playbook
from leadflow.playbook.schema import Playbook

EXAMPLES = int(os.environ.get("LEADFLOW_PROPERTY_EXAMPLES", "300"))
BOOKS = {name: default_playbook(name) for name in DEFAULTS}
ZONES = ["America/Chicago", "America/New_York", "America/Los_Angeles", "America/Phoenix"]
REGIONS = [None, "FL", "TX", "MD", "CA"]


def _events(book: Playbook) -> st.SearchStrategy[Any]:
    statuses = [s.name for s in book.statuses]
    linked = [(m, status) for m, allowed in book.links.items() for status in allowed]
    soon = st.integers(min_value=1, max_value=60 * 24 * 40)
    follow_up = st.builds(
        lambda minutes, subject: ("follow_up", minutes, subject),
        soon,
        st.sampled_from(book.follow_ups.subjects),
    )
    return st.one_of(
        st.just(TimerFired()),
        st.builds(CallLogged, disposition=st.sampled_from(sorted(book.dispositions) or ["x"])),
        st.tuples(
            st.sampled_from(book.milestones), st.sampled_from(statuses), st.none() | follow_up
        ),
        st.sampled_from(linked).flatmap(  # mostly valid combinations, so the lead moves
            lambda pair: st.tuples(st.just(pair[0]), st.just(pair[1]), st.none() | follow_up)
        ),
        st.builds(ReplyReceived),
        st.builds(OptedOut, channel=st.sampled_from(["sms", "email", "call", "all"])),
        st.builds(OptedIn, channel=st.sampled_from(["sms", "email", "call", "all"])),
        st.builds(
            CampaignChanged,
            op=st.sampled_from(["start", "pause", "resume", "cancel"]),
            campaign=st.sampled_from(sorted(book.campaigns) or ["none"]),
        ),
        st.builds(
            lambda name, days: KeyDatesChanged(
                dates={name: date(2026, 1, 1) + timedelta(days=days)}
            ),
            st.sampled_from(book.key_dates or ["none"]),
            st.integers(0, 500),
        ),
        st.builds(lambda: DeliveryFailed(key="k", channel="sms", reason="bad_number")),
        follow_up,
    )


def _materialise(raw: Any, now: datetime) -> Any:
    """Events that carry a time are drawn as offsets and built at the moment they happen."""
    if isinstance(raw, tuple) and raw and raw[0] == "follow_up":
        _, minutes, subject = raw
        return FollowUpScheduled(
            follow_up=FollowUp(
                id=f"f{minutes}", subject=subject, start_at=now + timedelta(minutes=minutes)
            )
        )
    if isinstance(raw, tuple):
        milestone, status, extra = raw
        follow_up = None
        if extra is not None:
            follow_up = _materialise(extra, now).follow_up
        return StatusChanged(milestone=milestone, status=status, follow_up=follow_up)
    return raw


class Checker:
    """Replays one lead and checks every decision against the rules."""

    def __init__(self, book: Playbook, state: EngineState) -> None:
        self.book = book
        self.state = state
        self.queue: dict[str, Any] = {}
        self.decisions = 0
        self.commands = 0

    def window(self, region: str | None) -> tuple[Any, Any]:
        rules = self.book.compliance
        chosen = rules.state_quiet_hours.get(region or "", rules.quiet_hours)
        return chosen.start, chosen.end

    def apply(self, event: Any, now: datetime) -> None:
        before = self.state.model_copy(deep=True)
        try:
            decision = decide(self.book, self.state, event, now)
        except InvalidChange:
            assert self.state == before  # a refused event changes nothing
            return
        assert self.state == before  # decide never mutates its input
        again = decide(self.book, before, event, now)
        assert again == decision  # same inputs, same outputs
        s = decision.state
        for command in decision.commands:
            if command.kind == "send_message":
                party = s.parties[command.party]
                zone = party.time_zone or s.time_zone
                start, end = self.window(party.region or s.region)
                assert start <= localtime.to_local(now, zone).time() < end, command
                assert command.channel not in s.opted_out, command
                assert command.channel not in s.unreachable, command
                blocks = self.book.status(s.status).blocks
                assert command.channel not in blocks, command
            if command.kind == "queue_call":
                start, end = self.window(s.region)
                lead = s.parties.get("borrower") or next(iter(s.parties.values()))
                # One gate for every channel: the lead's zone and the phone's area-code zones.
                for zone in {s.time_zone, *phones.zones_for(lead.phone or "")}:
                    clock = localtime.to_local(command.available_at, zone).time()
                    assert start <= clock < end, (zone, command)
                assert command.available_at >= now - timedelta(seconds=1)
                if self.state.contacted:
                    assert command.label != "Redial", command
                self.queue = {"lead": command}
            if command.kind == "dequeue_call":
                self.queue = {}
        if self.queue:
            assert "call" not in s.opted_out and "call" not in s.unreachable
            assert "call" not in self.book.status(s.status).blocks
            for name, spec in self.book.campaigns.items():
                if s.contacted and spec.stop_on_contact:
                    assert name not in s.campaigns
        assert len(self.queue) <= 1
        assert (s.queue is None) == (not self.queue)
        assert s.next_due is None or s.next_due > now  # never in the past
        self.state = s
        self.decisions += 1
        self.commands += len(decision.commands)


# LEADFLOW_PROPERTY_EXAMPLES=5000 for a longer soak than CI's.
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(DEFAULTS),
    zone=st.sampled_from(ZONES),
    region=st.sampled_from(REGIONS),
    start_minutes=st.integers(0, 60 * 24 * 365),
    data=st.data(),
)
def test_rules_hold_for_any_event_sequence(
    name: str, zone: str, region: str | None, start_minutes: int, data: st.DataObject
) -> None:
    book = BOOKS[name]
    now = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=start_minutes)
    checker = Checker(book, sample_lead(book, time_zone=zone, region=region))
    checker.apply(LeadCreated(), now)
    steps = data.draw(
        st.lists(st.tuples(st.integers(0, 60 * 24 * 9), _events(book)), min_size=5, max_size=40)
    )
    for gap, raw in steps:
        target = now + timedelta(minutes=gap)
        while checker.state.next_due is not None and checker.state.next_due <= target:
            now = checker.state.next_due
            checker.apply(TimerFired(), now)
        now = target
        checker.apply(_materialise(raw, now), now)
    event(f"decisions: {min(checker.decisions // 10 * 10, 100)}+")
