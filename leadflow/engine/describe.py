"""Commands in words, one wording wherever a person reads them: the timeline `simulate`
prints, the rows of `playbook preview` and the one-line summary of a workflow's decision."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import leadflow.engine.localtime as localtime
from leadflow.engine.commands import (
    Audit,
    CloseRouting,
    Command,
    CompleteTask,
    CreateTask,
    DequeueCall,
    EndConsents,
    FirstTouch,
    QueueCall,
    RecordHistory,
    RecordOptOut,
    RouteLead,
    SaveParties,
    SendMessage,
    SetPlaybook,
    SetStatus,
)

SUMMARY_LIMIT = 200  # characters the Temporal UI shows of an activity's summary


@dataclass(frozen=True)
class Words:
    what: str  # the headline: "sms to borrower", "queue CallASAP", "task", "status"
    target: str  # whom or which: the channel and party, the queue label, the assignee
    detail: str  # the rest, times local to the lead


def words(command: Command, zone: str) -> Words:
    """The command as a person reads it; times are shown in the lead's time zone."""
    match command:
        case SendMessage():
            to = f"{command.channel} to {command.party}"
            return Words(to, to, f"{command.to} from {command.sender.name}: {command.body}")
        case QueueCall():
            when = localtime.describe(command.available_at, zone)
            detail = f"priority {command.priority}, from {when}. {command.notes}".strip()
            if command.moved:  # the same call, on to its next window
                return Words(f"moved {command.label}", command.label, f"{detail} {command.why}")
            return Words(f"queue {command.label}", command.label, detail)
        case DequeueCall():
            return Words("dequeue", "", command.reason)
        case CreateTask():
            assignee = command.assignee or "(unassigned)"
            due = localtime.describe(command.due_at, zone)
            return Words("task", assignee, f"{command.subject} for {assignee}, due {due}")
        case SetStatus():
            return Words("status", "", f"{command.milestone} / {command.status}")
        case SetPlaybook():
            return Words("playbook", "", f"{command.name} version {command.version}")
        case RecordHistory():
            note = f"{command.action} by {command.actor}: {command.note}".rstrip(": ")
            return Words("history", "", note)
        case SaveParties():
            return Words("parties", "", ", ".join(sorted(command.parties)))
        case RecordOptOut():
            verb = "opted back in to" if command.opted_in else "opted out of"
            detail = f"{', '.join(command.addresses)} {verb} {', '.join(command.channels)}"
            return Words("opt-out", "", detail)
        case CompleteTask():
            return Words("task done", "", command.key)
        case EndConsents():
            return Words("consent ended", "", f"{', '.join(command.ids)}: {command.why}")
        case RouteLead():
            return Words("route", "", f"who takes the lead (attempt {command.attempt})")
        case CloseRouting():
            return Words("routing closed", "", command.why)
        case FirstTouch():
            return Words("first touch", "", f"by {command.by}")
        case Audit():
            until = f" until {localtime.describe(command.until, zone)}" if command.until else ""
            detail = f"{command.key}: {command.reason}{until}"
            return Words(f"audit {command.outcome}", command.outcome, detail)


def summary(commands: Sequence[Command]) -> str:
    """One short line for what a decision writes: its touches, queue entries, tasks and
    status, then how many audit lines ("record" when nothing else)."""
    parts: list[str] = []
    for command in commands:
        match command:
            case SetStatus():
                parts.append(f"set {command.milestone} / {command.status}")
            case SendMessage() | QueueCall() | DequeueCall():
                parts.append(words(command, "UTC").what)
            case CreateTask():
                parts.append(f"task {command.subject}")
    audits = sum(1 for c in commands if isinstance(c, Audit))
    if audits:
        parts.append(f"{audits} audit")
    text = "; ".join(parts) or "record"
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 3] + "..."
