"""What a lead receives if nobody answers: the engine run forward over timers alone."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import Field

from leadflow.engine.commands import Command
from leadflow.engine.decide import decide, new_state
from leadflow.engine.events import LeadCreated, TimerFired
from leadflow.engine.refs import LeadRef
from leadflow.engine.state import EngineState, Member, Party
from leadflow.models import Message
from leadflow.playbook.schema import Playbook

MAX_WAKE_UPS = 10_000


class Entry(Message):
    """One command and the moment the engine issued it."""

    at: datetime
    command: Annotated[Command, Field(discriminator="kind")]


def sample_lead(book: Playbook, **facts: Any) -> EngineState:
    """A lead with every party and designation filled, who consented to texts."""
    parties = {
        role: Party(
            name=f"{role.replace('_', ' ').title()} Example",
            phone=f"+1312555{1000 + i:04d}",
            email=f"{role}@example.com",
            sms_consent=True,
        )
        for i, role in enumerate(book.parties)
    }
    members = {
        name: Member(
            id=name,
            name=f"{name.replace('_', ' ').title()} Person",
            phone="+13125550199",
            email=f"{name}@team.example.com",
        )
        for name in book.designations
    }
    base: dict[str, Any] = {
        "lead": LeadRef(account_id="preview", lead_id="sample"),
        "first_name": "Jordan",
        "last_name": "Example",
        "parties": parties,
        "designations": members,
    }
    return new_state(book, **(base | facts))


def timeline(book: Playbook, state: EngineState, start: datetime, days: int) -> list[Entry]:
    """Create the lead at `start`, then wake it at every due time until `days` have passed."""
    decision = decide(book, state, LeadCreated(), start)
    created = [Entry(at=start, command=command) for command in decision.commands]
    return created + project(book, decision.state, start, days)


def project(book: Playbook, state: EngineState, now: datetime, days: int) -> list[Entry]:
    """Wake the lead at every due time for `days` from `now`, with no other event."""
    end = now + timedelta(days=days)
    entries: list[Entry] = []
    for _ in range(MAX_WAKE_UPS):
        if state.next_due is None or state.next_due > end:
            break
        now = state.next_due
        decision = decide(book, state, TimerFired(), now)
        entries += [Entry(at=now, command=command) for command in decision.commands]
        state = decision.state
    return entries
