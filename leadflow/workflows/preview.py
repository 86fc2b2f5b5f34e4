"""What a lead receives if nobody answers: the engine run forward over timers alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from leadflow.models.engine import (
    Command,
    EngineState,
    LeadCreated,
    Member,
    Party,
    TimerFired,
)
from leadflow.models.lead import LeadRef
from leadflow.models.playbook import Playbook
from leadflow.workflows.engine import decide, new_state


@dataclass(frozen=True)
class Entry:
    at: datetime
    command: Command


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
    end = start + timedelta(days=days)
    decision = decide(book, state, LeadCreated(), start)
    entries = [Entry(start, command) for command in decision.commands]
    state = decision.state
    while state.next_due is not None and state.next_due <= end:
        now = state.next_due
        decision = decide(book, state, TimerFired(), now)
        entries += [Entry(now, command) for command in decision.commands]
        state = decision.state
    return entries
