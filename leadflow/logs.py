"""How leadflow's processes log: one event per line, as text or (LOG_FORMAT=json) as JSON
objects a log pipeline reads without parsing, each with the account and lead it concerns.

The Temporal SDK tags the records of workflow and activity loggers with the run they come
from; a lead's workflow id (`lead:<account>:<lead>`) gives the account and lead ids, added
to every such record as `account_id` and `lead_id`.

No line names a person's phone or email: an SDK's error often echoes the recipient ("The
'To' number +13125550142 is not a valid phone number"), and a log pipeline keeps what it is
given for longer, and for more readers, than the database does. `Redact` masks E.164
numbers and email addresses in the message, its arguments, the exception and the stack
on every handler; a lead is found by the `lead_id` beside it instead.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from leadflow.errors import ConfigError

FORMATS = ("text", "json")
TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that log at INFO on every request (or check): their warnings and errors still
# come through.
CHATTY = ("twilio", "httpx", "alembic")
PHONE = re.compile(r"(?<![\w+])\+[1-9]\d{6,14}(?!\d)")  # E.164
EMAIL = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
_TRACEBACKS = logging.Formatter()


def redact(text: str) -> str:
    return EMAIL.sub("<email>", PHONE.sub("<phone>", text))


class Redact(logging.Filter):
    """Mask phones and emails in what a record will print, whatever the format."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit: logging's own complaint
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info:  # formatted here, once: every formatter prints exc_text then
            record.exc_text = record.exc_text or _TRACEBACKS.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class LeadIds(logging.Filter):
    """Give a record from a lead's workflow or activity its `account_id` and `lead_id`."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key in ("temporal_workflow", "temporal_activity"):
            details: dict[str, Any] = getattr(record, key, None) or {}
            parts = str(details.get("workflow_id", "")).split(":", 2)
            if len(parts) == 3 and parts[0] == "lead":
                record.account_id, record.lead_id = parts[1], parts[2]
                break
        return True


def configure(verbose: bool = False, format: str | None = None) -> None:
    """Log to stderr, one event per line (`format`: text or json; default text)."""
    chosen = (format or "text").strip().lower()
    if chosen not in FORMATS:
        raise ConfigError(f"LOG_FORMAT is invalid: expected text or json, got {format!r}")
    handler = logging.StreamHandler(sys.stderr)
    if chosen == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter(TEXT))
    handler.addFilter(LeadIds())
    handler.addFilter(Redact())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.WARNING)
