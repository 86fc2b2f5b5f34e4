"""What will happen to a lead, in the words of its conversation: the texts and emails it
will be sent, the calls it will be queued for, the tasks and changes due. The engine's
bookkeeping (its audit notes, history and party rows, consent and routing records) is not
something that happens to the lead, and stays in the audit, one click away."""

from __future__ import annotations

from datetime import datetime

from leadflow.engine.commands import (
    CreateTask,
    DequeueCall,
    QueueCall,
    RouteLead,
    SendMessage,
    SetStatus,
)
from leadflow.engine.preview import Entry

_CHANNEL = {"sms": "Text", "mms": "Picture text", "email": "Email"}
_ASKS = {
    "new": "who takes the lead",
    "retry": "again who may take the lead",
    "claim_window": "who is next, the claim window over",
    "unworked": "who is next, the lead not worked in time",
    "released": "who is next, the lead given back",
}


def words(entry: Entry) -> str | None:
    """The entry as the thread would say it, or None for the engine's bookkeeping."""
    match entry.command:
        case SendMessage(channel=channel, party=party, subject=subject, template=template):
            about = f": {subject}" if subject else f" ({template})"
            return f"{_CHANNEL.get(channel, channel)} to {party}{about}"
        case QueueCall(label=label, notes=notes):
            return f"Call queued as {label}" + (f": {notes}" if notes else "")
        case DequeueCall(reason=reason):
            return f"Leaves the call queue ({reason})"
        case CreateTask(subject=subject, assignee=assignee):
            return f"Task: {subject}" + (f", for {assignee}" if assignee else "")
        case SetStatus(milestone=milestone, status=status):
            return f"Becomes {milestone} / {status}"
        case RouteLead(reason=reason):
            return f"Routing decides {_ASKS[reason]}"
    return None


def coming_up(agenda: list[Entry]) -> list[tuple[datetime, str]]:
    """The agenda's entries that happen to the lead, with when, in order."""
    said = ((entry.at, words(entry)) for entry in agenda)
    return [(at, text) for at, text in said if text is not None]
