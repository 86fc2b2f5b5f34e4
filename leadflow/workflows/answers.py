"""The refusals LeadWorkflow answers its callers with, and how a failed send reads to the
engine. Each refusal is non-retryable: asking again would be refused again."""

from __future__ import annotations

from temporalio.exceptions import ActivityError, ApplicationError

from leadflow.engine.commands import InvalidChange, SendMessage
from leadflow.engine.events import DeliveryFailed

FAILED_BECAUSE = {  # the send activity's error type -> what the engine hears
    "BadNumber": "bad_number",
    "OptedOut": "opted_out",
    "Filtered": "filtered",
    "Undeliverable": "undeliverable",
    "Rejected": "undeliverable",
    "WindowClosed": "not_sent",
    "Listed": "listed",
    "Reassigned": "reassigned",
}
WITH_DETAIL = ("Listed", "Reassigned")  # their message says which list, or what was asked


def refused(exc: InvalidChange) -> ApplicationError:
    return ApplicationError(str(exc), type=exc.reason, non_retryable=True)


def reused(request_id: str) -> ApplicationError:
    return ApplicationError(
        f"request_id {request_id!r} was already used for another request; "
        "use a new request_id for a new change",
        type="RequestIdReused",
        non_retryable=True,
    )


def wrong_lead(mine: str, asked: str) -> ApplicationError:
    return ApplicationError(
        f"this workflow is lead {mine!r}, not {asked!r}", type="WrongLead", non_retryable=True
    )


def no_facts(workflow_id: str) -> ApplicationError:
    return ApplicationError(
        f"{workflow_id} was started without its facts: start a lead with "
        "LeadflowClient.ensure_lead (update-with-start), which brings them",
        type="NoFacts",
        non_retryable=True,
    )


def lead_exists(lead_id: str, changed: list[str]) -> ApplicationError:
    return ApplicationError(
        f"lead {lead_id!r} already exists with other {', '.join(changed)}; "
        "an existing lead changes through its own updates",
        changed,
        type="LeadExists",
        non_retryable=True,
    )


def delivery_failed(message: SendMessage, kind: str | None) -> DeliveryFailed:
    """A send that failed for good (its error type `kind`), as the event the engine hears:
    an email that cannot be delivered bounced; a text or call failed for the provider's
    reason."""
    name, _, detail = (kind or "").partition(": ")  # "Listed: <the list and the rule>"
    reason = FAILED_BECAUSE.get(name, "undeliverable")
    if message.channel == "email" and reason in ("bad_number", "undeliverable"):  # not_sent stays
        reason = "bounced"
    address = message.to if reason == "reassigned" else None
    return DeliveryFailed(
        key=message.key, channel=message.channel, reason=reason, detail=detail, address=address
    )


def failed_kind(exc: ActivityError) -> str | None:
    """The error type a send activity failed with for good."""
    cause = exc.cause
    if not isinstance(cause, ApplicationError):
        return None
    return f"{cause.type}: {cause.message}" if cause.type in WITH_DETAIL else cause.type
