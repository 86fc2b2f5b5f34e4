"""A lead's timeline as people and programs read it: one entry shape and one vocabulary for
`leadflow simulate` and `leadflow playbook preview`, as a table or as JSON.

The JSON is a list of `TimelineEntry`; its JSON Schema is `docs/timeline.schema.json`
(`leadflow timeline-schema` prints it). Each entry has the common fields (`at`,
`local_at`, `local_time`, `day`, `kind`, `what`, `detail`) and the typed fields of its
kind; fields that do not apply are left out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime
from typing import Annotated, Any, Literal

import typer
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter
from rich.table import Table
from rich.text import Text

import leadflow.engine.localtime as localtime
from leadflow.engine.commands import (
    Command,
    SendMessage,
)
from leadflow.engine.describe import words

Kind = Literal[
    "lead",  # the lead arrived
    "event",  # a scripted event (simulate): a call logged, a reply, a milestone change...
    "message",  # a text, MMS or email sent
    "call",  # a call queued for an agent
    "dequeue",  # the lead's call left the queue
    "task",  # a task created for a person
    "task_done",  # a task completed
    "status",  # milestone and status changed
    "playbook",  # the lead moved to a newer version of its playbook
    "history",  # a history note recorded (internal)
    "parties",  # the lead's parties saved (internal)
    "opt_out",  # addresses opted out of channels, or back in
    "consent_ended",  # consents a revocation ended
    "route",  # the lead asked routing who takes it
    "first_touch",  # the first human action on the lead (speed to lead)
    "audit",  # why a touch fired, was deferred, held, skipped or stopped
]
# Rows a person rarely needs: shown with --all (always in JSON).
INTERNAL_KINDS = ("history", "parties")
INTERNAL_OUTCOMES = ("fired", "note")
ROUTING_NOTES = ("routing:", "worked:", "first-touch:")  # notes a person reads: shown


class TimelineEntry(BaseModel):
    """One line of a lead's timeline."""

    model_config = ConfigDict(extra="forbid")

    at: AwareDatetime = Field(description="when, ISO 8601 in UTC")
    local_at: AwareDatetime = Field(description="the same moment with the lead's UTC offset")
    local_time: str = Field(
        description="the lead's local time in words, with the year and zone",
        examples=["Mon 30 Nov 2026 10:00 America/Chicago"],
    )
    day: int = Field(description="days since the lead arrived, in the lead's calendar")
    kind: Kind
    what: str = Field(
        description="the headline, one vocabulary: `sms to borrower`, `email to borrower`, "
        "`queue CallASAP`, `dequeue`, `task`, `task done`, `status`, `opt-out`, `deferred`, "
        "`skipped`, `held`, `stopped`, `completed`, `fired`, `note`, `lead created`, "
        "`event call`, ..."
    )
    detail: str = Field(description="the rest in words, times local to the lead")
    # message
    channel: str | None = Field(default=None, description="sms, mms or email")
    party: str | None = Field(default=None, description="the lead's party it went to")
    to: str | None = Field(default=None, description="the phone (E.164) or email address")
    sender_id: str | None = None
    sender_name: str | None = None
    template: str | None = None
    subject: str | None = Field(default=None, description="an email's or a task's subject")
    body: str | None = None
    # call
    label: str | None = Field(default=None, description="CallASAP, Redial, Callback...")
    priority: int | None = None
    available_at: AwareDatetime | None = Field(
        default=None, description="when an agent may take the call"
    )
    why: str | None = Field(default=None, description="why the call is not due at once")
    notes: str | None = None
    # who may be solicited (message and call), decided at the moment of contact
    lists: list[str] | None = Field(
        default=None,
        description="the do-not-call lists the send or the claim checks the number on",
    )
    exemption: str | None = Field(
        default=None,
        description="why no list holds it (written consent, a live business relationship)",
    )
    reassigned_since: date | None = Field(
        default=None,
        description="the day the Reassigned Numbers Database is asked about, at the send",
    )
    # task
    assignee: str | None = None
    due_at: AwareDatetime | None = None
    # status
    milestone: str | None = None
    status: str | None = None
    # audit
    key: str | None = Field(default=None, description="the touch's key")
    outcome: str | None = Field(
        default=None, description="fired, deferred, held, skipped, stopped, completed, note"
    )
    reason: str | None = None
    until: AwareDatetime | None = Field(default=None, description="deferred or held until")
    # opt-out
    addresses: list[str] | None = None
    channels: list[str] | None = None
    opted_in: bool | None = None


TIMELINE = TypeAdapter(list[TimelineEntry])

# The options both commands that print a timeline take.
AsJson = Annotated[
    bool, typer.Option("--json", help="JSON (docs/timeline.schema.json) instead of a table")
]
Everything = Annotated[
    bool,
    typer.Option(
        "--all",
        "--audit",
        help="also the internal rows: fired audit lines, history notes, saved parties",
    ),
]


def schema() -> dict[str, Any]:
    """The JSON Schema of a timeline (a list of entries)."""
    document = TIMELINE.json_schema()
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "leadflow timeline"
    return document


def entry(
    at: datetime, day0: date, zone: str, kind: Kind, what: str, detail: str, **typed: Any
) -> TimelineEntry:
    local = localtime.to_local(at, zone)
    return TimelineEntry(
        at=at,
        local_at=local,
        local_time=localtime.describe(at, zone, year=True),
        day=(local.date() - day0).days,
        kind=kind,
        what=what,
        detail=detail,
        **typed,
    )


# Each command's kind of entry; its fields of the same names become the entry's typed fields.
KINDS: dict[str, Kind] = {
    "send_message": "message",
    "queue_call": "call",
    "dequeue_call": "dequeue",
    "create_task": "task",
    "complete_task": "task_done",
    "set_status": "status",
    "set_playbook": "playbook",
    "record_history": "history",
    "save_parties": "parties",
    "record_opt_out": "opt_out",
    "end_consents": "consent_ended",
    "route_lead": "route",
    "first_touch": "first_touch",
    "close_routing": "route",
    "audit": "audit",
}
_COMMON = {"at", "local_at", "local_time", "day", "kind", "what", "detail"}
_TYPED = set(TimelineEntry.model_fields) - _COMMON


def of_command(at: datetime, day0: date, zone: str, command: Command) -> TimelineEntry:
    """A command the engine issued at `at`, in words and typed fields."""
    said = words(command, zone)
    typed = {
        name: value
        for name, value in command.model_dump(exclude={"kind"}).items()
        if name in _TYPED and value not in ("", None, [])
    }
    if isinstance(command, SendMessage):
        typed |= {"sender_id": command.sender.id, "sender_name": command.sender.name}
    what = said.what.removeprefix("audit ")
    return entry(at, day0, zone, KINDS[command.kind], what, said.detail, **typed)


def internal(item: TimelineEntry) -> bool:
    return (
        item.kind in INTERNAL_KINDS
        or (
            item.kind == "audit"
            and item.outcome in INTERNAL_OUTCOMES
            and not item.detail.startswith(ROUTING_NOTES)
        )
        or _moved(item)
    )


def _moved(item: TimelineEntry) -> bool:
    """A queued call moved on to its next window: the same call, not a new one."""
    return item.kind == "call" and item.what.startswith("moved ")


def summary(entries: Iterable[TimelineEntry]) -> str:
    """One line: how many calls, texts, emails and tasks, and what was deferred or skipped."""
    counted: Counter[str] = Counter()
    for item in entries:
        if item.kind == "message":
            counted["emails" if item.channel == "email" else "texts"] += 1
        elif item.kind == "call" and not _moved(item):
            counted["calls queued"] += 1
        elif item.kind == "task":
            counted["tasks"] += 1
        elif item.kind == "audit" and item.outcome in ("deferred", "skipped", "held"):
            counted[str(item.outcome)] += 1
    order = ("calls queued", "texts", "emails", "tasks", "deferred", "held", "skipped")
    return ", ".join(f"{counted[name]} {_one(name, counted[name])}" for name in order)


def _one(name: str, count: int) -> str:
    if count != 1 or name in ("deferred", "held", "skipped"):
        return name
    return (
        name.replace("calls", "call")
        .replace("texts", "text")
        .replace("emails", "email")
        .replace("tasks", "task")
    )


def table(entries: Iterable[TimelineEntry], title: str, *, everything: bool) -> Table:
    """The entries as a table that reads at 80 columns (the zone is in the title)."""
    shown = Table(title=title, title_justify="left")
    shown.add_column("day", justify="right")
    shown.add_column("local time", no_wrap=True)
    shown.add_column("what", overflow="fold")
    shown.add_column("detail", overflow="fold", ratio=1)
    for item in entries:
        if not everything and internal(item):
            continue
        when = f"{item.local_at:%a %d %b %H:%M}"
        # Text cells: a detail holding brackets (a lead's words, a YAML path) is not markup.
        shown.add_row(str(item.day), when, Text(item.what), Text(item.detail + at_contact(item)))
    return shown


def at_contact(item: TimelineEntry) -> str:
    """What the moment of contact checks a text or call against (a simulation has no list
    data: it says what would be checked, and what exempts it)."""
    if not item.lists:
        return ""
    named = ", ".join(item.lists)
    if item.exemption:
        return f" [not held by {named}: {item.exemption}]"
    return f" [checked against {named} when it goes: skipped if the number is on one]"
