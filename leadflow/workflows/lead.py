"""LeadWorkflow: one durable workflow per lead (M25).

Updates and timers become events in an inbox; a single loop applies them one at a time,
records each change in PostgreSQL through activities, and sleeps until the next due item.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import (
    RetryPolicy,
    SearchAttributeKey,
    SearchAttributeUpdate,
    SearchAttributeValueType,
)
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    import leadflow.workflows.localtime as localtime
    import leadflow.workflows.search_attributes as sa
    from leadflow.activities.store import LeadStoreActivities
    from leadflow.models.lead import (
        EnsureLead,
        FollowUpDue,
        LeadInput,
        LeadRecord,
        LeadRef,
        LeadSnapshot,
        LeadState,
        MilestoneChange,
        MilestoneRecord,
    )

STORE_TIMEOUT = timedelta(seconds=30)
STORE_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30))
# Continue-as-new well before the server's own limits, even if it has not suggested it yet.
MAX_HISTORY_EVENTS = 8_000


def _set_or_unset(
    key: SearchAttributeKey[SearchAttributeValueType], value: SearchAttributeValueType | None
) -> SearchAttributeUpdate[SearchAttributeValueType]:
    return key.value_unset() if value is None else key.value_set(value)


@dataclass
class _Pending:
    change: MilestoneChange
    result: LeadSnapshot | None = None


def memo_for(lead: LeadRef, first_name: str | None, last_name: str | None) -> dict[str, Any]:
    """The memo ops see in the UI; continue-as-new drops it, so each run sets it again."""
    name = " ".join(part for part in (first_name, last_name) if part)
    return {"account": lead.account_id, "lead": lead.lead_id, "name": name}


@workflow.defn
class LeadWorkflow:
    @workflow.init
    def __init__(self, input: LeadInput) -> None:
        now = workflow.now()
        new = input.ensure
        self._is_new = input.carried is None
        self._state = input.carried or LeadState(
            lead=new.lead,
            first_name=new.first_name,
            last_name=new.last_name,
            time_zone=new.time_zone,
            milestone=new.milestone,
            status=new.status,
            created_at=now,
            updated_at=now,
        )
        self._inbox: deque[_Pending] = deque()
        self._recorded = not self._is_new
        self._ensure_answered = False
        self._published: dict[str, object] = {}

    @workflow.run
    async def run(self, input: LeadInput) -> None:
        self._publish()
        if self._is_new:
            await self._record_lead()
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await workflow.wait_condition(
                    lambda: bool(self._inbox),
                    timeout=self._time_to_follow_up(),
                    timeout_summary="until the lead's follow-up",
                )
            await self._drain()
            if self._follow_up_due():
                await self._follow_up()
            if self._history_too_long():
                await self._continue_as_new(input)

    @workflow.update
    async def ensure(self, request: EnsureLead) -> LeadSnapshot:
        """Answer update-with-start: once the lead is on record, say where it stands."""
        await workflow.wait_condition(lambda: self._recorded)
        created = self._is_new and not self._ensure_answered
        self._ensure_answered = True
        return self._snapshot(created=created)

    @ensure.validator
    def _check_ensure(self, request: EnsureLead) -> None:
        if request.lead != self._state.lead:
            raise ApplicationError(
                f"this workflow is lead {self._state.lead.lead_id!r}, not {request.lead.lead_id!r}",
                type="WrongLead",
                non_retryable=True,
            )

    @workflow.update
    async def change_milestone(self, change: MilestoneChange) -> LeadSnapshot:
        if change.request_id in self._state.processed_requests:
            return self._snapshot()
        pending = _Pending(change)
        self._inbox.append(pending)
        await workflow.wait_condition(lambda: pending.result is not None)
        assert pending.result is not None
        return pending.result

    @change_milestone.validator
    def _check_change(self, change: MilestoneChange) -> None:
        if change.follow_up_at is not None and change.follow_up_at <= workflow.now():
            raise ApplicationError(
                f"follow_up_at {change.follow_up_at.isoformat()} is in the past; "
                "a follow-up must be scheduled in the future",
                type="InvalidChange",
                non_retryable=True,
            )

    @workflow.query
    def state(self) -> LeadState:
        return self._state

    async def _drain(self) -> None:
        while self._inbox:
            pending = self._inbox.popleft()
            await self._apply(pending)

    async def _apply(self, pending: _Pending) -> None:
        change = pending.change
        if change.request_id not in self._state.processed_requests:
            now = workflow.now()
            await workflow.execute_activity_method(
                LeadStoreActivities.record_milestone,
                MilestoneRecord(
                    lead=self._state.lead,
                    key=f"{self._state.lead.workflow_id}:{change.request_id}",
                    change=change,
                    at=now,
                ),
                start_to_close_timeout=STORE_TIMEOUT,
                retry_policy=STORE_RETRY,
                summary=f"Record {change.action}: {change.milestone} / {change.status or '-'}",
            )
            state = self._state
            state.milestone = change.milestone
            state.status = change.status
            state.follow_up_at = change.follow_up_at
            state.updated_at = now
            state.changes += 1
            state.remember(change.request_id)
            self._publish()
        pending.result = self._snapshot()

    def _time_to_follow_up(self) -> timedelta | None:
        due = self._state.follow_up_at
        if due is None:
            return None
        return max(due - workflow.now(), timedelta(0))

    def _follow_up_due(self) -> bool:
        due = self._state.follow_up_at
        return due is not None and due <= workflow.now()

    async def _follow_up(self) -> None:
        state = self._state
        assert state.follow_up_at is not None
        due = state.follow_up_at
        await workflow.execute_activity_method(
            LeadStoreActivities.create_task,
            FollowUpDue(
                lead=state.lead,
                key=f"{state.lead.workflow_id}:follow-up:{due.isoformat()}",
                due_at=due,
                notes=f"Follow-up due with {state.milestone} / {state.status or '-'}",
            ),
            start_to_close_timeout=STORE_TIMEOUT,
            retry_policy=STORE_RETRY,
            summary="Create follow-up task",
        )
        state.follow_up_at = None
        self._publish()

    async def _record_lead(self) -> None:
        state = self._state
        await workflow.execute_activity_method(
            LeadStoreActivities.record_lead,
            LeadRecord(
                lead=state.lead,
                first_name=state.first_name,
                last_name=state.last_name,
                time_zone=state.time_zone,
                milestone=state.milestone,
                status=state.status,
                at=state.created_at,
            ),
            start_to_close_timeout=STORE_TIMEOUT,
            retry_policy=STORE_RETRY,
            summary="Record new lead",
        )
        self._recorded = True

    def _history_too_long(self) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() > (
            MAX_HISTORY_EVENTS
        )

    async def _continue_as_new(self, input: LeadInput) -> None:
        # Updates wait on the loop, so keep applying them until every handler has returned.
        while not workflow.all_handlers_finished():
            await workflow.wait_condition(
                lambda: bool(self._inbox) or workflow.all_handlers_finished()
            )
            await self._drain()
        workflow.continue_as_new(
            LeadInput(ensure=input.ensure, carried=self._state),
            memo=memo_for(self._state.lead, self._state.first_name, self._state.last_name),
        )

    def _snapshot(self, *, created: bool = False) -> LeadSnapshot:
        state = self._state
        return LeadSnapshot(
            workflow_id=state.lead.workflow_id,
            milestone=state.milestone,
            status=state.status,
            follow_up_at=state.follow_up_at,
            changes=state.changes,
            created=created,
        )

    def _publish(self) -> None:
        """Keep search attributes and the current-details line in step with the state (M27)."""
        state = self._state
        wanted: list[SearchAttributeUpdate[Any]] = [
            sa.LEAD_ACCOUNT.value_set(state.lead.account_id),
            sa.LEAD_MILESTONE.value_set(state.milestone),
            _set_or_unset(sa.LEAD_STATUS, state.status),
            _set_or_unset(sa.LEAD_NEXT_TOUCH, state.follow_up_at),
        ]
        changed = [u for u in wanted if self._published.get(u.key.name, ...) != u.value]
        if changed:
            workflow.upsert_search_attributes(changed)
            self._published.update((u.key.name, u.value) for u in changed)
        workflow.set_current_details(self._details())

    def _details(self) -> str:
        state = self._state
        line = f"{state.milestone} / {state.status or 'no status'}"
        if state.follow_up_at is not None:
            due = localtime.describe(state.follow_up_at, state.time_zone)
            line += f". Next: follow-up {due}"
        return line
