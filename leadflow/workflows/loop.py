"""The lead's loop: everything LeadWorkflow does between its handlers.

Updates and signals become events in an inbox. One loop takes them one at a time, or the
timer when the next touch is due, asks the engine what to do, writes the commands in one
activity, and sleeps again. Continue-as-new keeps each run's history short, and moves a
lead to the version a versioned deploy made current.

This is workflow code (deterministic: time from `workflow.now()`, I/O only through
activities), kept out of the workflow's own module on purpose: the sandbox passes it
through, so a worker holds one copy of it for every cached lead instead of one per lead.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

import leadflow.workflows.answers as answers
import leadflow.workflows.refusals as refusals
import leadflow.workflows.visibility as visibility
from leadflow.activities.payloads import ApplyDecision, LeadRecord
from leadflow.activities.store import LeadStoreActivities
from leadflow.engine import bounds, calls
from leadflow.engine.commands import Audit, InvalidChange, RouteLead, SendMessage
from leadflow.engine.decide import decide, describe_next, initial_state, new_state
from leadflow.engine.describe import summary
from leadflow.engine.events import (
    LeadCreated,
    TimerFired,
)
from leadflow.engine.migrate import keeps_past_steps
from leadflow.engine.preview import AGENDA_DAYS, AGENDA_WAKE_UPS, Entry, project
from leadflow.engine.refs import LeadRef
from leadflow.engine.state import EngineState
from leadflow.workflows.inbox import Checked, Pending
from leadflow.workflows.messages import (
    REVISION,
    AgentMessage,
    CallLog,
    CompleteFollowUp,
    EnsureLead,
    LeadCarry,
    LeadInput,
    LeadSnapshot,
    MigratePlaybook,
    MilestoneChange,
    ScheduleFollowUp,
    StateHorizon,
    fingerprint,
)
from leadflow.workflows.sending import Sender

LOCAL_STORE_PATCH = "store-in-task"  # histories from before write their decisions remotely
SENDS_PATCH = "send-messages"  # histories from before sending was wired in replay without it
# Histories from before the state-law table replay under their playbook alone; a lead moves
# to it at its next live decision: one id per decision, as the SDK memoizes a patch per run.
# Each later table adds its own (one version per marker); a new lead starts on the first
# table from revision 3, the second from 4, the third from 5, with no marker.
LAW_PATCHES = {1: "state-law-1", 2: "state-law-2", 3: "state-law-3"}
STORE_TIMEOUT = timedelta(seconds=30)
AWAITED = LeadRef(account_id="awaited", lead_id="awaited")  # a new lead before its facts
FACTS_WAIT = timedelta(minutes=1)  # a run started without its ensure update ends after this
STORE_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30))
AUDIT_KEPT = 100
Request = (
    MilestoneChange | CallLog | ScheduleFollowUp | CompleteFollowUp | StateHorizon | MigratePlaybook
) | AgentMessage


class LeadLoop:
    """One lead's state and the loop that moves it, driven by LeadWorkflow's handlers."""

    def __init__(self, input: LeadInput) -> None:
        self._book = input.pinned_playbook()
        self._ref = input.playbook_ref  # changes when the lead migrates
        self._is_new = input.carried is None
        self._invalid: InvalidChange | None = None
        # Revision 2: a new lead's facts arrive with the ensure update it starts with.
        self._awaiting_facts = input.carried is None and input.ensure is None
        self._facts_by_update = False
        if input.carried is not None:
            self._carry = input.carried
        elif input.ensure is not None:
            try:
                state = initial_state(self._book, input.ensure, law=0)
            except InvalidChange as exc:  # the ensure update's validator tells the caller
                self._invalid = exc
                state = self._placeholder(input.ensure.lead)
            self._carry = LeadCarry(engine=state)
        else:  # until its ensure update: a lead of no account (the update brings its ref)
            self._carry = LeadCarry(engine=self._placeholder(AWAITED))
        self._inbox: deque[Pending] = deque()
        self._checked: Checked | None = None
        self._retry_due: datetime | None = None  # a timer whose decision raised waits till
        self._sender = Sender(
            input.sends_task_queue,
            input.sender_queues,
            lambda failed: self._inbox.append(Pending(failed)),
            batched=input.revision >= 3,
            local_route=input.revision >= 6,
        )
        self._law_at_start = min(3, max(0, input.revision - 2))  # revision 3: table 1, 4: 2
        self._timed = input.revision >= 6  # a new lead keeps when it came in
        self._recorded = not self._is_new
        self._ensure_answered = False
        self._lean = input.revision >= 1  # see LeadInput.revision
        self._minutes = input.revision >= 2  # the next touch published to the minute
        # From revision 1 the run starts with its search attributes set (by the client, or
        # carried over by continue-as-new): only what the loop changes is upserted.
        self._published: dict[str, object] = {}
        if not self._awaiting_facts:
            self._seed_published()

    def _placeholder(self, lead: LeadRef) -> EngineState:
        """A lead with no facts yet (or facts the playbook refuses): nothing acts on it."""
        return new_state(self._book, lead=lead, time_zone="UTC", milestone="?", status="?", law=0)

    def _seed_published(self) -> None:
        if self._lean:
            wanted = visibility.search_attributes(self.state, minutes=self._minutes)
            self._published = {u.key.name: u.value for u in wanted if not u.value}
            self._published.update(
                (pair.key.name, pair.value) for pair in workflow.info().typed_search_attributes
            )

    @property
    def state(self) -> EngineState:
        return self._carry.engine

    @property
    def audit(self) -> list[Audit]:
        return self._carry.audit

    def agenda(self, days: int) -> list[Entry]:
        """The next `days` (at most AGENDA_DAYS) if nothing else happens, bounded: a query."""
        days = max(0, min(days, AGENDA_DAYS))
        try:
            return project(self._book, self.state, workflow.now(), days, AGENDA_WAKE_UPS)
        except Exception as exc:
            if not refusals.undecidable(exc):
                raise
            return []  # what the loop's timer refuses sends nothing either

    def hear(self, event: Any) -> None:
        """A signal: a fact for the loop, no answer owed."""
        self._inbox.append(Pending(event))

    async def run(self, input: LeadInput) -> None:
        if self._invalid is not None:
            raise answers.refused(self._invalid)
        if self._awaiting_facts:  # the ensure update's handler ran first when it came
            try:
                await workflow.wait_condition(lambda: not self._awaiting_facts, timeout=FACTS_WAIT)
            except TimeoutError:
                raise answers.no_facts(workflow.info().workflow_id) from None
        if not (self._is_new and self._minutes):  # a new lead started as its decision leaves it
            self._publish()
        if self._is_new:
            s = self.state
            facts = {name: getattr(s, name) for name in LeadRecord.model_fields if name != "at"}
            record = LeadRecord(at=workflow.now(), **facts)
            await self._decide(Pending(LeadCreated()), record=record)
            self._recorded = True
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await workflow.wait_condition(
                    lambda: bool(self._inbox) or self._must_continue(input),
                    timeout=self._until_next_due(),
                    # Revision 1 on: the details say what is next (not sealed into every timer)
                    timeout_summary=(
                        None
                        if self._lean
                        else describe_next(self._book, self.state) or "next touch"
                    ),
                )
            if self._inbox:
                await self._decide(self._inbox.popleft())
            elif self._due():
                await self._decide(Pending(TimerFired()))
            if self._must_continue(input):
                await self._continue_as_new(input)

    async def ensure(self, request: EnsureLead) -> LeadSnapshot:
        """Say where the lead stands once on record. From revision 2 the first ensure brings
        the new lead's facts (its validator checked them); a later one must agree."""
        if self._awaiting_facts:
            state = initial_state(self._book, request, law=self._law_at_start)
            state.created_at = workflow.now() if self._timed else None
            self._carry = LeadCarry(engine=state)
            self._seed_published()
            self._awaiting_facts, self._facts_by_update = False, True
        elif self._facts_by_update and (changed := request.differences(self.state)):
            # Another ensure that came with the first, before there were facts to compare.
            raise answers.lead_exists(request.lead.lead_id, changed)
        await workflow.wait_condition(lambda: self._recorded)
        created = self._is_new and not self._ensure_answered
        self._ensure_answered = True
        return self._snapshot(created=created)

    def check_ensure(self, request: EnsureLead) -> None:
        if self._awaiting_facts:  # the facts the handler will start the lead with
            if request.lead.workflow_id != workflow.info().workflow_id:
                raise answers.wrong_lead(workflow.info().workflow_id, request.lead.lead_id)
            with refusals.rejecting("ensure"):
                bounds.facts(request)
                initial_state(self._book, request)
            return
        if request.lead != self.state.lead:
            raise answers.wrong_lead(self.state.lead.lead_id, request.lead.lead_id)
        if self._invalid is not None:  # a new lead the playbook refuses: nothing starts
            raise answers.refused(self._invalid)
        if changed := request.differences(self.state):
            raise answers.lead_exists(request.lead.lead_id, changed)

    def validate(self, request: Request) -> None:
        """Refuse before anything is written; a migration also when no worker holds its
        version, or the version cannot hold the lead (its milestone and status unlinked)."""
        if request.request_id in self._carry.processed:
            if self._carry.reused(request.request_id, fingerprint(request)):
                raise answers.reused(request.request_id)
            return  # a repeat: the handler answers with the lead as it is
        book = request.newer() if isinstance(request, MigratePlaybook) else self._book
        event = request.event()
        with refusals.rejecting(event.type):
            keeps_past_steps(self._book, book, self.state)  # a migration's; else nothing
            bounds.event(event)  # dates the lead could not hold
            decision = decide(book, self.state, event, workflow.now())
            calls.check_room(self.state, decision.state)  # the open follow-ups' limit
        if book is self._book:
            s, now = self.state, workflow.now()
            asked = fingerprint(request)
            self._checked = Checked(request.request_id, asked, s, s.law, now, decision)

    async def submit(self, request: Request) -> LeadSnapshot:
        if request.request_id in self._carry.processed:
            return self._snapshot()
        pending = Pending(request.event(), request.request_id, fingerprint(request), answered=True)
        if isinstance(request, MigratePlaybook):  # moves at the loop's next turn
            pending.moving_to = (request.newer(), request.playbook_ref)
        self._inbox.append(pending)
        await workflow.wait_condition(lambda: pending.done)
        if pending.error is not None:
            raise pending.error
        assert pending.result is not None
        return pending.result

    async def _decide(self, pending: Pending, record: LeadRecord | None = None) -> None:
        now = workflow.now()
        if pending.request_id is not None and pending.request_id in self._carry.processed:
            if self._carry.reused(pending.request_id, pending.fingerprint):
                pending.error, pending.done = answers.reused(pending.request_id), True
            else:
                pending.result, pending.done = self._snapshot(), True
            return
        for version, patch in LAW_PATCHES.items():  # from here on the lead keeps to it
            if self.state.law < version and workflow.patched(f"{patch}:{self._carry.decisions}"):
                self.state.law = version
        book = pending.moving_to[0] if pending.moving_to else self._book
        checked, self._checked = self._checked, None
        kind, failed = pending.event.type, None
        try:
            if checked is not None and checked.fits(pending, self.state, now):
                decision = checked.decision  # the validator's, a moment ago
            else:
                decision = decide(book, self.state, pending.event, now)
            if pending.moving_to is not None:  # the lead runs the newer version from here
                self._book, self._ref = pending.moving_to
        except InvalidChange as exc:
            if pending.request_id is not None:  # an update: its caller hears why
                pending.error, pending.done = answers.refused(exc), True
                return
            workflow.logger.warning("refused %s: %s", kind, exc)
            decision = refusals.refused(self.state, kind, f"refused: {exc}")
        except Exception as exc:  # which, and why: leadflow.workflows.refusals
            if not refusals.undecidable(exc) or not workflow.patched(refusals.PATCH):
                raise
            failed, timer = exc, isinstance(pending.event, TimerFired)
            workflow.logger.warning("refused %s: %s", kind, type(exc).__name__)
            why = refusals.why_undecidable(exc, retry=timer)
            decision = refusals.refused(self.state, kind, why)
            if timer:
                self._retry_due = now + refusals.RETRY_DUE
        if failed is None:
            self._retry_due = None
        self._carry.decisions += 1
        in_task = False
        if decision.commands or record is not None:
            writes = ApplyDecision(
                lead=self.state.lead,
                decision=self._carry.decisions,
                at=now,
                commands=decision.commands,
                record=record,
            )
            in_task = self._lean or workflow.patched(LOCAL_STORE_PATCH)
            if in_task:
                # In the same workflow task: one marker in history instead of three events and
                # no round trip through the server. The writes are idempotent upserts, so a
                # task retried on another worker writes the same rows again, harmlessly.
                await workflow.execute_local_activity_method(
                    LeadStoreActivities.apply_decision,
                    writes,
                    start_to_close_timeout=STORE_TIMEOUT,
                    retry_policy=STORE_RETRY,
                    # No summary: it would be sealed into every decision's marker, and the
                    # audit (the query, the store) says what each decision did.
                    summary=None if self._lean else summary(decision.commands),
                )
            else:
                await workflow.execute_activity_method(
                    LeadStoreActivities.apply_decision,
                    writes,
                    start_to_close_timeout=STORE_TIMEOUT,
                    retry_policy=STORE_RETRY,
                    summary=summary(decision.commands),
                )
        sends = [c for c in decision.commands if isinstance(c, SendMessage)]
        # A run that writes in the task was started after sends were wired: it needs no
        # second patch marker (each costs history events) to know it sends.
        if sends and (in_task or workflow.patched(SENDS_PATCH)):
            self._sender.send(self.state.lead.workflow_id, sends)
        for ask in (c for c in decision.commands if isinstance(c, RouteLead)):
            self._sender.route(decision.state.lead, ask, self._book.routing)
        self._carry.engine = decision.state
        audits = [c for c in decision.commands if isinstance(c, Audit)]
        self._carry.audit = (self._carry.audit + audits)[-AUDIT_KEPT:]
        if failed is not None and pending.request_id is not None:
            pending.error, pending.done = refusals.undecidable_update(kind, failed), True
            return
        if pending.request_id is not None:
            self._carry.remember(pending.request_id, pending.fingerprint)
        self._publish()
        if pending.answered:
            pending.result = self._snapshot()
        pending.done = True

    def _next_due(self) -> datetime | None:
        due, retry = self.state.next_due, self._retry_due
        return due if due is None or retry is None else max(due, retry)

    def _until_next_due(self) -> timedelta | None:
        due = self._next_due()
        return None if due is None else max(due - workflow.now(), timedelta(0))

    def _due(self) -> bool:
        due = self._next_due()
        return due is not None and due <= workflow.now()

    def _must_continue(self, input: LeadInput) -> bool:
        """History grew long, or (a versioned deploy) another version became current."""
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() > input.history_limit
            or info.is_target_worker_deployment_version_changed()
        )

    async def _continue_as_new(self, input: LeadInput) -> None:
        # Updates wait on the loop: keep deciding until every handler has returned.
        while self._inbox or self._sender.busy or not workflow.all_handlers_finished():
            if self._inbox:
                await self._decide(self._inbox.popleft())
            else:
                await workflow.wait_condition(
                    lambda: (
                        bool(self._inbox)
                        or (not self._sender.busy and workflow.all_handlers_finished())
                    )
                )
        s = self.state
        self._carry.runs += 1
        # The same input, carrying this run's state (which makes the ensure request moot) and
        # the playbook it runs now (a migration's). Search attributes carry over as they are.
        new_input: dict[str, Any] = {"carried": self._carry, "ensure": None, "revision": REVISION}
        if self._ref is not None and self._ref != input.playbook_ref:  # migrated
            new_input |= {"playbook_ref": self._ref, "playbook": None}
        workflow.continue_as_new(
            input.model_copy(update=new_input),
            memo=visibility.memo_for(s.lead) if not self._lean else None,
            # Each run is pinned to its version; the next starts on the current one.
            initial_versioning_behavior=workflow.ContinueAsNewVersioningBehavior.AUTO_UPGRADE,
        )

    def _snapshot(self, *, created: bool = False) -> LeadSnapshot:
        return LeadSnapshot.of(self.state, runs=self._carry.runs, created=created)

    def _publish(self) -> None:
        """Keep search attributes and details in step; upsert only what changed (a command)."""
        wanted = visibility.search_attributes(self.state, minutes=self._minutes)
        changed = [u for u in wanted if self._published.get(u.key.name, ...) != u.value]
        if changed:
            workflow.upsert_search_attributes(changed)
            self._published.update((u.key.name, u.value) for u in changed)
        workflow.set_current_details(visibility.details(self._book, self.state))
