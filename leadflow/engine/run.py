"""One decision in progress, and the small helpers every rule set shares: whom a task or
a message is from, the history note, leaving the call queue, the facts a change may name."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leadflow.engine.commands import (
    Audit,
    CallFacts,
    Command,
    CreateTask,
    DequeueCall,
    InvalidChange,
    RecordHistory,
)
from leadflow.engine.state import EngineState, Member, Party
from leadflow.playbook.schema import Playbook, Sender


@dataclass
class Run:
    """One decision in progress: the playbook, the state being changed, the commands so far."""

    book: Playbook
    s: EngineState
    now: datetime
    out: list[Command] = field(default_factory=list)

    def emit(self, command: Command) -> None:
        self.out.append(command)

    def audit(self, key: str, outcome: Any, reason: str, until: datetime | None = None) -> None:
        self.out.append(Audit(key=key, outcome=outcome, reason=reason, until=until))


def sender_for(run: Run, given: Sender | None) -> Sender:
    return given or run.book.defaults.sender


def member_for(run: Run, sender: Sender) -> Member | None:
    if sender.user is not None:
        user = run.book.users[sender.user]
        return Member(id=sender.user, name=user.name, phone=user.phone, email=user.email)
    assert sender.designation is not None
    return run.s.designations.get(sender.designation)


def task(
    run: Run, key: str, subject: str, assignee: Sender | None, due: datetime, notes: str = ""
) -> None:
    who = None
    if assignee is not None:
        member = member_for(run, assignee)
        if member is None:
            notes = f"No {assignee.designation} is assigned on this lead: assign one."
        else:
            who = member.id
    run.emit(CreateTask(key=key, subject=subject, assignee=who, due_at=due, notes=notes))
    run.audit(key, "fired", f"task: {subject}")


def history(run: Run, action: str, note: str, actor: str, call: CallFacts | None = None) -> None:
    s = run.s
    run.emit(
        RecordHistory(
            call=call,
            key=f"history:{s.changes}:{len(run.out)}",
            action=action,
            milestone=s.milestone,
            status=s.status,
            note=note,
            actor=actor,
        )
    )


def dequeue(run: Run, reason: str, *, ends_claim: bool = False) -> None:
    if run.s.queue is not None:
        run.s.queue = None
        run.emit(DequeueCall(reason=reason, ends_claim=ends_claim))


def primary_party(s: EngineState) -> Party | None:
    """Who the lead is: the borrower, or the first party on file."""
    return s.parties.get("borrower") or next(iter(s.parties.values()), None)


def merge(into: dict[str, Any], changes: dict[str, Any], known: list[str], what: str) -> None:
    """Set or (with None) remove named facts, refusing names the playbook does not define."""
    for name in changes:
        if name not in known:
            raise InvalidChange(
                f"unknown {what} {name!r}; the playbook has {', '.join(known) or '(none)'}",
                f"Unknown{what.title().replace(' ', '')}",
            )
    for name, value in changes.items():
        if value is None:
            into.pop(name, None)
        else:
            into[name] = value
