"""What a lead receives if nobody answers: the engine run forward over timers alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import Field

from leadflow.engine.commands import Command, InvalidChange, QueueCall
from leadflow.engine.decide import decide, new_state
from leadflow.engine.events import LeadCreated, PlaybookChanged, TimerFired
from leadflow.engine.migrate import keeps_past_steps
from leadflow.engine.refs import LeadRef
from leadflow.engine.state import ConsentHeld, EngineState, Member, Party
from leadflow.models import Message
from leadflow.playbook.schema import Playbook

MAX_WAKE_UPS = 10_000
# A lead's agenda is read by a query, on the worker that runs the leads: it looks this far
# ahead, and decides at most this often (the ISA cadence wakes 18 times in 90 days; a
# decision takes about 0.3 ms, so a query holds the worker's event loop for ~60 ms at most).
AGENDA_DAYS = 90
AGENDA_WAKE_UPS = 200
SAMPLE_CONSENT = datetime(2000, 1, 3, 12, tzinfo=UTC)  # the sample lead's web form, long ago


class Entry(Message):
    """One command and the moment the engine issued it."""

    at: datetime
    command: Annotated[Command, Field(discriminator="kind")]


def sample_lead(book: Playbook, **facts: Any) -> EngineState:
    """A lead with every party and designation filled, who consented to texts in writing."""
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
    facts = base | facts
    given = {role: Party.model_validate(p) for role, p in facts["parties"].items()}
    facts.setdefault("consents", written_consents(given))
    return new_state(book, **facts)


def written_consents(parties: dict[str, Party]) -> list[ConsentHeld]:
    """Each party's written consent to marketing texts (a sample web form's), for those who
    consented to texts: what a marketing text to a US number needs on record."""
    return [
        ConsentHeld(
            id=f"sample-{role}",
            party=role,
            channels=["sms"],
            given_at=SAMPLE_CONSENT,
            means="web_form",
            seller="the sample's business",
        )
        for role, party in parties.items()
        if party.phone is not None and party.sms_consent
    ]


def timeline(book: Playbook, state: EngineState, start: datetime, days: int) -> list[Entry]:
    """Create the lead at `start`, then wake it at every due time until `days` have passed."""
    decision = decide(book, state, LeadCreated(), start)
    created = [Entry(at=start, command=command) for command in decision.commands]
    return created + project(book, decision.state, start, days)


def project(
    book: Playbook, state: EngineState, now: datetime, days: int, wake_ups: int = MAX_WAKE_UPS
) -> list[Entry]:
    """Wake the lead at every due time for `days` from `now`, with no other event, at most
    `wake_ups` times. A queued call moving on to its next window is no touch: left out."""
    end = now + timedelta(days=days)
    entries: list[Entry] = []
    for _ in range(wake_ups):
        if state.next_due is None or state.next_due > end:
            break
        now = state.next_due
        decision = decide(book, state, TimerFired(), now)
        entries += [Entry(at=now, command=c) for c in decision.commands if not _moved(c)]
        state = decision.state
    return entries


NEXT_SHOWN = 5  # touches compared before and after a migration, per lead


@dataclass(frozen=True)
class Preview:
    """What a migration does to one lead."""

    from_version: int
    stopped: list[str]  # campaigns the new version no longer has
    going_on: list[str]  # campaigns continuing, from their current step
    before: list[Entry]  # the next touches on the old version...
    after: list[Entry]  # ...and on the new one
    refused: str | None = None  # why the lead cannot move, if it cannot


def migration(
    old: Playbook, new: Playbook, state: EngineState, now: datetime, days: int
) -> Preview:
    """Before and after for one lead, computed like the move itself (nothing changes)."""
    before = _touches(project(old, state, now, days))
    stopped = sorted(name for name in state.campaigns if name not in new.campaigns)
    going_on = sorted(name for name in state.campaigns if name in new.campaigns)
    try:
        keeps_past_steps(old, new, state)
        moved = decide(new, state, PlaybookChanged(version=new.version), now).state
    except InvalidChange as exc:
        return Preview(state.playbook_version, stopped, going_on, before, [], str(exc))
    after = _touches(project(new, moved, now, days))
    return Preview(state.playbook_version, stopped, going_on, before, after)


def _touches(entries: list[Entry]) -> list[Entry]:
    kinds = {"send_message", "queue_call", "create_task"}
    return [e for e in entries if e.command.kind in kinds][:NEXT_SHOWN]


def _moved(command: Command) -> bool:
    """A queued call moved on to its next window: the same call, not a new touch."""
    return isinstance(command, QueueCall) and command.moved
