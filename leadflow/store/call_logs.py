"""Each logged call's facts for the reports, written with its history note by the store
activity (the note's key is the row's: a retried decision leaves one row); a contact keeps
the campaign message it came after, and marks that message (`store.answered`)."""

from __future__ import annotations

from datetime import datetime

from leadflow.engine.commands import RecordHistory
from leadflow.engine.refs import LeadRef
from leadflow.store.answered import COLUMNS, REACHED, last_message, marked
from leadflow.store.db import Write, rows_insert
from leadflow.store.report_tables import CallLog


def calls_insert(
    lead: LeadRef, notes: list[tuple[str, RecordHistory]], at: datetime
) -> list[Write]:
    """The rows of the notes that log a call (each note here carries its `call`), and the
    mark on the message each contact came after."""
    rows = [
        {
            "key": key,
            "account_id": lead.account_id,
            "lead_id": lead.lead_id,
            "at": at,
            "channel": note.call.channel,
            "direction": note.call.direction,
            "disposition": note.call.disposition,
            "contact": note.call.contact,
            "attempt": note.call.attempt,
            "actor": note.actor,
        }
        for key, note in notes
        if note.call is not None
    ]
    last = {name: last_message(name, "r.account_id", "r.lead_id", "r.at", True) for name in COLUMNS}
    computed = tuple((name, f"CASE WHEN r.contact THEN {sql} END") for name, sql in last.items())
    out = [rows_insert(CallLog, rows, computed=computed)]
    if any(note.call is not None and note.call.contact for _, note in notes):
        out.append(Write(_MARK, (lead.account_id, lead.lead_id, at)))
    return out


# Marking twice marks once: a retried decision may run it again.
_ANSWERED = last_message("answered_key", "$1::varchar", "$2::varchar", "$3::timestamptz", True)
_MARK = marked("m.key", str(REACHED), f"(SELECT {_ANSWERED} AS key) m")
