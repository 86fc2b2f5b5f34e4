"""Each logged call's facts for the reports, written with its history note by the store
activity (the note's key is the row's: a retried decision leaves one row); a contact keeps
the campaign message it came after (`store.answered`)."""

from __future__ import annotations

from datetime import datetime

from leadflow.engine.commands import RecordHistory
from leadflow.engine.refs import LeadRef
from leadflow.store.answered import COLUMNS, last_message
from leadflow.store.db import Write, rows_insert
from leadflow.store.report_tables import CallLog


def calls_insert(lead: LeadRef, notes: list[tuple[str, RecordHistory]], at: datetime) -> Write:
    """The rows of the notes that log a call (each note here carries its `call`)."""
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
    last = {name: last_message(name, "r.account_id", "r.lead_id", "r.at") for name in COLUMNS}
    computed = tuple((name, f"CASE WHEN r.contact THEN {sql} END") for name, sql in last.items())
    return rows_insert(CallLog, rows, computed=computed)
