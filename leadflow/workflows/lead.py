"""LeadWorkflow: one durable workflow per lead, as long as the lead lives.

Its handlers are the lead's interface: updates answer (and their validators refuse before
anything is written), signals are facts that need no answer, queries read. What happens
between them, the inbox and the loop, is `leadflow.workflows.loop`.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from leadflow.engine.commands import Audit
    from leadflow.engine.events import (
        CampaignChanged,
        ConsentRecorded,
        DeliveryFailed,
        DesignationsChanged,
        KeyDatesChanged,
        LeadReleased,
        LeadRouted,
        NumberReassigned,
        OptedIn,
        OptedOut,
        PartiesChanged,
        RelationshipDates,
        ReplyReceived,
    )
    from leadflow.engine.preview import Entry
    from leadflow.engine.state import EngineState
    from leadflow.workflows.loop import LeadLoop
    from leadflow.workflows.messages import (
        AgentMessage,
        CallLog,
        CompleteFollowUp,
        EnsureLead,
        LeadInput,
        LeadSnapshot,
        MigratePlaybook,
        MilestoneChange,
        ScheduleFollowUp,
        StateHorizon,
    )


# Outside the sandbox: it would load a fresh copy of this module for every lead a worker
# holds (about 40 KB each), to guard code that only hands over to the loop; the engine and
# the loop are deterministic by construction, and tests/unit/test_determinism.py guards them.
# Under a versioned deploy its runs are pinned (the workers' default behaviour,
# `worker.deployment`): a behaviour named here would fail every task on unversioned workers.
@workflow.defn(sandboxed=False)
class LeadWorkflow:
    @workflow.init
    def __init__(self, input: LeadInput) -> None:
        self._lead = LeadLoop(input)

    @workflow.run
    async def run(self, input: LeadInput) -> None:
        await self._lead.run(input)

    # ---- updates: the caller needs an answer ----------------------------------------------

    @workflow.update
    async def ensure(self, request: EnsureLead) -> LeadSnapshot:
        """Answer update-with-start: once the lead is on record, say where it stands."""
        return await self._lead.ensure(request)

    @ensure.validator
    def _check_ensure(self, request: EnsureLead) -> None:
        self._lead.check_ensure(request)

    @workflow.update
    async def change_milestone(self, change: MilestoneChange) -> LeadSnapshot:
        return await self._lead.submit(change)

    @change_milestone.validator
    def _check_change(self, change: MilestoneChange) -> None:
        self._lead.validate(change)

    @workflow.update
    async def log_call(self, call: CallLog) -> LeadSnapshot:
        """Answers with the new status and when the lead is back in the call queue."""
        return await self._lead.submit(call)

    @log_call.validator
    def _check_call(self, call: CallLog) -> None:
        self._lead.validate(call)

    @workflow.update
    async def schedule_follow_up(self, request: ScheduleFollowUp) -> LeadSnapshot:
        return await self._lead.submit(request)

    @schedule_follow_up.validator
    def _check_follow_up(self, request: ScheduleFollowUp) -> None:
        self._lead.validate(request)

    @workflow.update
    async def state_horizon(self, request: StateHorizon) -> LeadSnapshot:
        return await self._lead.submit(request)

    @state_horizon.validator
    def _check_horizon(self, request: StateHorizon) -> None:
        self._lead.validate(request)

    @workflow.update
    async def complete_follow_up(self, request: CompleteFollowUp) -> LeadSnapshot:
        return await self._lead.submit(request)

    @complete_follow_up.validator
    def _check_completed(self, request: CompleteFollowUp) -> None:
        self._lead.validate(request)

    @workflow.update
    async def send_message(self, message: AgentMessage) -> LeadSnapshot:
        """An agent's own text or email: sent now, or refused with why."""
        return await self._lead.submit(message)

    @send_message.validator
    def _check_message(self, message: AgentMessage) -> None:
        self._lead.validate(message)

    @workflow.update
    async def migrate(self, request: MigratePlaybook) -> LeadSnapshot:
        """Move the lead to a newer version of its playbook, between two decisions."""
        return await self._lead.submit(request)

    @migrate.validator
    def _check_migration(self, request: MigratePlaybook) -> None:
        self._lead.validate(request)

    # ---- signals: facts that need no answer ------------------------------------------------

    @workflow.signal
    def reply_received(self, event: ReplyReceived) -> None:
        self._lead.hear(event)

    @workflow.signal
    def opt_out(self, event: OptedOut) -> None:
        self._lead.hear(event)

    @workflow.signal
    def opt_in(self, event: OptedIn) -> None:
        self._lead.hear(event)

    @workflow.signal
    def set_key_dates(self, event: KeyDatesChanged) -> None:
        self._lead.hear(event)

    @workflow.signal
    def set_parties(self, event: PartiesChanged) -> None:
        self._lead.hear(event)

    @workflow.signal
    def assign_designations(self, event: DesignationsChanged) -> None:
        self._lead.hear(event)

    @workflow.signal
    def campaign(self, event: CampaignChanged) -> None:
        self._lead.hear(event)

    @workflow.signal
    def delivery_failed(self, event: DeliveryFailed) -> None:
        self._lead.hear(event)

    @workflow.signal
    def record_consent(self, event: ConsentRecorded) -> None:
        self._lead.hear(event)

    @workflow.signal
    def set_relationship(self, event: RelationshipDates) -> None:
        self._lead.hear(event)

    @workflow.signal
    def number_reassigned(self, event: NumberReassigned) -> None:
        self._lead.hear(event)

    @workflow.signal
    def release(self, event: LeadReleased) -> None:
        """The user routing gave the lead gives it back."""
        self._lead.hear(event)

    @workflow.signal
    def offer_taken(self, event: LeadRouted) -> None:
        """A user took the lead's standing offer (the store decided, under its lock)."""
        self._lead.hear(event)

    @workflow.signal
    def nudge(self) -> None:
        """Wake the lead, nothing else: a run pinned to an older version moves to the current
        one (`leadflow deploy nudge`) without waiting for its next touch."""

    # ---- queries ---------------------------------------------------------------------------

    @workflow.query
    def state(self) -> EngineState:
        return self._lead.state

    @workflow.query
    def agenda(self, days: int = 30) -> list[Entry]:
        """What the lead receives over the next `days` if nothing else happens."""
        return self._lead.agenda(days)

    @workflow.query
    def audit(self) -> list[Audit]:
        return self._lead.audit


__all__ = ["LeadWorkflow"]
