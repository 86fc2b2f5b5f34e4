"""The errors the client raises, each with a message a caller can show to a person."""

from __future__ import annotations

from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from leadflow.engine.refs import LeadRef

__all__ = [
    "CONFLICTS",
    "ChangeRejected",
    "Conflict",
    "LeadNotFound",
    "LeadUnavailable",
    "LeadflowError",
    "missing",
    "rejected",
]


class LeadflowError(Exception):
    """Base of the errors a caller can show to a person."""


class LeadNotFound(LeadflowError):
    def __init__(self, lead: LeadRef) -> None:
        super().__init__(f"lead {lead.lead_id!r} of account {lead.account_id!r} does not exist")
        self.lead = lead


class ChangeRejected(LeadflowError):
    """The lead refused the change; the message says why and what to do."""

    def __init__(self, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind


class Conflict(ChangeRejected):
    """The request contradicts what the lead already has: a reused request id, or facts of an
    existing lead that only its own updates change (`fields` names them)."""

    def __init__(self, message: str, kind: str | None = None, fields: list[str] | None = None):
        super().__init__(message, kind)
        self.fields = fields or []


CONFLICTS = ("RequestIdReused", "LeadExists")


class LeadUnavailable(LeadflowError):
    """The lead did not answer in time: no worker is polling, or the worker is overloaded."""


def rejected(exc: WorkflowUpdateFailedError) -> ChangeRejected:
    cause = exc.cause
    if isinstance(cause, ApplicationError):
        if cause.type in CONFLICTS:
            fields = list(cause.details[0]) if cause.details else []
            return Conflict(cause.message, cause.type, fields)
        return ChangeRejected(cause.message, cause.type)
    return ChangeRejected(str(cause or exc))


def missing(exc: RPCError, lead: LeadRef) -> Exception:
    if exc.status == RPCStatusCode.NOT_FOUND:
        return LeadNotFound(lead)
    return exc
