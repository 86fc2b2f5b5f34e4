"""Drive the pure engine through time in tests: events at moments, timers in between."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from leadflow.engine import localtime
from leadflow.engine.commands import Command, QueueCall, SendMessage
from leadflow.engine.decide import decide
from leadflow.engine.events import Event, LeadCreated, TimerFired
from leadflow.engine.preview import sample_lead
from leadflow.engine.state import EngineState
from leadflow.playbook.load import default_playbook
from leadflow.playbook.schema import Playbook

CHICAGO = "America/Chicago"


def local(day: date, clock: time, zone: str = CHICAGO) -> datetime:
    return localtime.at_local(day, clock, zone).astimezone(UTC)


def with_hold(playbook: str, disposition: str, hold: timedelta) -> Playbook:
    """A shipped playbook whose disposition holds the lead out of the queue for `hold`."""
    book = default_playbook(playbook)
    changed = book.dispositions[disposition].model_copy(update={"hold": hold})
    return book.model_copy(update={"dispositions": {**book.dispositions, disposition: changed}})


@dataclass
class Sent:
    at: datetime
    command: Command


@dataclass
class Lead:
    """A lead, its playbook and everything the engine told us to do, with when."""

    book: Playbook
    state: EngineState
    now: datetime
    log: list[Sent] = field(default_factory=list)

    @classmethod
    def create(cls, playbook: str | Playbook, at: datetime, **facts: Any) -> Lead:
        book = default_playbook(playbook) if isinstance(playbook, str) else playbook
        lead = cls(book, sample_lead(book, **facts), at)
        lead.send(LeadCreated())
        return lead

    def send(self, event: Event, at: datetime | None = None) -> list[Command]:
        """Run timers up to `at`, then apply the event there."""
        if at is not None:
            self.run_until(at)
        decision = decide(self.book, self.state, event, self.now)
        self.state = decision.state
        self.log += [Sent(self.now, c) for c in decision.commands]
        return decision.commands

    def run_until(self, moment: datetime) -> None:
        while self.state.next_due is not None and self.state.next_due <= moment:
            self.now = self.state.next_due
            self.send(TimerFired())
        self.now = max(self.now, moment)

    def run_for(self, delta: timedelta) -> None:
        self.run_until(self.now + delta)

    def commands(self, kind: str, since: datetime | None = None) -> list[Any]:
        return [
            s.command
            for s in self.log
            if s.command.kind == kind and (since is None or s.at >= since)
        ]

    def messages(self, since: datetime | None = None) -> list[SendMessage]:
        return self.commands("send_message", since)

    def idle(self) -> bool:
        """Nothing is due but the queued call's move to its next window, if one is queued."""
        queued = self.state.queue.callable_until if self.state.queue is not None else None
        return self.state.next_due in (None, queued)

    def calls(self, since: datetime | None = None) -> list[QueueCall]:
        """The calls queued (a queued call moved on to its next window is the same call)."""
        return [c for c in self.commands("queue_call", since) if not c.moved]

    def audits(self, outcome: str) -> list[Any]:
        return [c for c in self.commands("audit") if c.outcome == outcome]

    def day_of(self, moment: datetime, start: datetime) -> int:
        zone = self.state.time_zone
        return (localtime.local_date(moment, zone) - localtime.local_date(start, zone)).days
