"""The client backend services use to create and change leads (M26)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from leadflow.models.lead import (
    EnsureLead,
    LeadInput,
    LeadRef,
    LeadSnapshot,
    LeadState,
    MilestoneChange,
)
from leadflow.workflows import search_attributes as sa
from leadflow.workflows.lead import LeadWorkflow, memo_for


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


class LeadUnavailable(LeadflowError):
    """The lead did not answer in time: no worker is polling, or the worker is overloaded."""


class LeadflowClient:
    def __init__(
        self, client: Client, task_queue: str = "leadflow", *, answer_timeout: float = 30.0
    ) -> None:
        self.temporal = client
        self.task_queue = task_queue
        self.answer_timeout = answer_timeout

    @contextlib.asynccontextmanager
    async def _answer_in_time(self, lead: LeadRef) -> AsyncIterator[None]:
        """Bound every call: an update with no worker to run it would otherwise wait forever."""
        deadline = asyncio.timeout(self.answer_timeout)
        try:
            async with deadline:
                yield
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            if not deadline.expired():
                raise
            raise LeadUnavailable(
                f"lead {lead.lead_id!r} of account {lead.account_id!r} did not answer within "
                f"{self.answer_timeout:g}s; is a leadflow worker running on task queue "
                f"{self.task_queue!r}? The request can be retried safely."
            ) from None

    async def ensure_lead(self, request: EnsureLead) -> LeadSnapshot:
        """Start the lead's workflow if absent; either way return where the lead stands."""
        start = WithStartWorkflowOperation(
            LeadWorkflow.run,
            LeadInput(ensure=request),
            id=request.lead.workflow_id,
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            memo=memo_for(request.lead, request.first_name, request.last_name),
            search_attributes=TypedSearchAttributes(
                [SearchAttributePair(sa.LEAD_ACCOUNT, request.lead.account_id)]
            ),
            static_summary=f"Lead {request.lead.lead_id} of {request.lead.account_id}",
        )
        try:
            async with self._answer_in_time(request.lead):
                return await self.temporal.execute_update_with_start_workflow(
                    LeadWorkflow.ensure, request, start_workflow_operation=start
                )
        except WorkflowUpdateFailedError as exc:
            raise _rejected(exc) from None

    async def change_milestone(self, lead: LeadRef, change: MilestoneChange) -> LeadSnapshot:
        handle = self.temporal.get_workflow_handle_for(LeadWorkflow.run, lead.workflow_id)
        try:
            async with self._answer_in_time(lead):
                return await handle.execute_update(
                    LeadWorkflow.change_milestone, change, id=f"change:{change.request_id}"
                )
        except WorkflowUpdateFailedError as exc:
            raise _rejected(exc) from None
        except RPCError as exc:
            raise _missing(exc, lead) from None

    async def describe(self, lead: LeadRef) -> LeadState:
        handle = self.temporal.get_workflow_handle_for(LeadWorkflow.run, lead.workflow_id)
        try:
            async with self._answer_in_time(lead):
                return await handle.query(LeadWorkflow.state)
        except RPCError as exc:
            raise _missing(exc, lead) from None


def new_request_id() -> str:
    return uuid.uuid4().hex


def _rejected(exc: WorkflowUpdateFailedError) -> ChangeRejected:
    cause = exc.cause
    if isinstance(cause, ApplicationError):
        return ChangeRejected(cause.message, cause.type)
    return ChangeRejected(str(cause or exc))


def _missing(exc: RPCError, lead: LeadRef) -> Exception:
    if exc.status == RPCStatusCode.NOT_FOUND:
        return LeadNotFound(lead)
    return exc
