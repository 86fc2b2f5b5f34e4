"""What the lead page says is coming up: what will happen to the lead, each once, in the
thread's words; the engine's own notes stay in the audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from leadflow.api.web.coming_up import coming_up
from leadflow.engine.commands import Audit, CreateTask, QueueCall, RecordHistory, SendMessage
from leadflow.engine.preview import Entry
from leadflow.engine.state import Member

AT = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)


def test_each_touch_call_and_task_is_said_once_and_the_engines_notes_are_not() -> None:
    ivy = Member(id="isa", name="Ivy")
    text = SendMessage(
        key="k1", channel="sms", party="borrower", to="+13125550100", sender=ivy,
        template="intro", body="Hi",
    )  # fmt: skip
    agenda = [
        Entry(at=AT, command=text),
        Entry(at=AT, command=Audit(key="k1", outcome="fired", reason="sms to borrower (new)")),
        Entry(at=AT, command=Audit(key="e", outcome="skipped", reason="borrower has no email")),
        Entry(
            at=AT + timedelta(days=2),
            command=QueueCall(key="c", label="Redial", priority=50, available_at=AT),
        ),
        Entry(at=AT + timedelta(days=2), command=Audit(key="c", outcome="fired", reason="queued")),
        Entry(
            at=AT + timedelta(days=3),
            command=CreateTask(key="t", subject="Ask for documents", assignee="ana", due_at=AT),
        ),
        Entry(
            at=AT,
            command=RecordHistory(
                key="h", action="Note", milestone="New", status="New", note="x", actor="a"
            ),
        ),
    ]
    assert coming_up(agenda) == [
        (AT, "Text to borrower (intro)"),
        (AT + timedelta(days=2), "Call queued as Redial"),
        (AT + timedelta(days=3), "Task: Ask for documents, for ana"),
    ]
