"""The client backend services use to create and change leads.

Every method returns a typed result or raises a `LeadflowError` whose message a caller can
show to a person: `LeadNotFound`, `ChangeRejected` (with the reason), `LeadUnavailable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import Priority, WorkflowIDConflictPolicy
from temporalio.service import RPCError
from temporalio.workflow import UpdateMethodMultiParam

from leadflow.client.checks import MAX_REQUEST_BYTES, contacts, refuse_unfit
from leadflow.client.errors import (
    ChangeRejected,
    Conflict,
    LeadflowError,
    LeadNotFound,
    LeadUnavailable,
    missing,
    rejected,
)
from leadflow.engine import bounds
from leadflow.engine.commands import Audit, InvalidChange
from leadflow.engine.contacts import checked_member, checked_party
from leadflow.engine.decide import decide, initial_state
from leadflow.engine.events import (
    CampaignChanged,
    ConsentRecorded,
    DeliveryFailed,
    DesignationsChanged,
    KeyDatesChanged,
    LeadCreated,
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
from leadflow.engine.refs import LeadRef
from leadflow.engine.state import ConsentHeld, EngineState, Member, Party
from leadflow.playbook.load import PlaybookError
from leadflow.playbook.schema import Playbook
from leadflow.playbook.shelf import SHELF
from leadflow.playbook.sources import PlaybookSource, UnknownPlaybook
from leadflow.workflows.lead import LeadWorkflow
from leadflow.workflows.messages import (
    REVISION,
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
    fingerprint,
)
from leadflow.workflows.visibility import start_search_attributes

__all__ = [
    "MAX_REQUEST_BYTES",
    "ChangeRejected",
    "Conflict",
    "LeadNotFound",
    "LeadUnavailable",
    "LeadflowClient",
    "LeadflowError",
    "OptOutChannel",
]
T = TypeVar("T")
# Temporal runs a queue's tasks by priority key, 1 first, 3 when unset (every live lead's):
# an import's leads wait behind them. Within a key, dispatch is fair across accounts.
BULK_PRIORITY = 4
R = TypeVar("R", bound=BaseModel)
OptOutChannel = Literal["sms", "email", "call", "all"]


class LeadflowClient:
    def __init__(
        self,
        client: Client,
        task_queue: str = "leadflow",
        *,
        answer_timeout: float = 30.0,
        playbooks: PlaybookSource | None = None,
        history_limit: int = 8_000,
        sends_task_queue: str | None = None,
        sender_queues: dict[str, str] | None = None,
    ) -> None:
        self.temporal = client
        self.task_queue = task_queue
        self.sends_task_queue = sends_task_queue or f"{task_queue}-sends"
        self.sender_queues = sender_queues or {}
        self.answer_timeout = answer_timeout
        self.playbooks = playbooks
        self.history_limit = history_limit

    # ---- creating and changing leads -------------------------------------------------------

    async def ensure_lead(
        self, request: EnsureLead, playbook: Playbook | None = None, *, bulk: bool = False
    ) -> LeadSnapshot:
        """Start the lead's workflow if absent; either way return where the lead stands.

        A new lead starts on `playbook` (the account's current version) or, without one,
        the playbook its request names in the client's playbook source; an existing lead
        keeps the one it has. A lead the playbook refuses is refused before it starts.
        Its tasks wait behind others' only as their account's share (`fairness_key`);
        `bulk` (an import's) puts them behind every live lead's (`priority`).
        """
        refuse_unfit(request)
        book = playbook or self.playbook(request.playbook)
        request = request.model_copy(
            update={
                "parties": contacts(request.parties, checked_party),
                "designations": contacts(request.designations, checked_member),
            }
        )
        # Refuse a start the playbook refuses here, before anything starts: with
        # update-with-start a workflow starts even when its update's validator says no.
        try:
            bounds.facts(request)
            state = initial_state(book, request)
            # What its first decision will leave it with, so it starts with the search
            # attributes it keeps (the next touch to the minute) and upserts none at once.
            # In a thread: it renders the account's templates, which must not hold the loop.
            now = datetime.now(UTC)
            state = (await asyncio.to_thread(decide, book, state, LeadCreated(), now)).state
        except InvalidChange as exc:
            raise ChangeRejected(str(exc), exc.reason) from None
        start = WithStartWorkflowOperation(
            LeadWorkflow.run,
            LeadInput(
                # The facts travel once, in the ensure update the run starts with.
                # By reference: the worker finds it on its shelf, in PostgreSQL or in its
                # playbook files (here it goes on this process's shelf, for a worker beside).
                playbook_ref=SHELF.put(book),
                history_limit=self.history_limit,
                sends_task_queue=self.sends_task_queue,
                sender_queues=self.sender_queues,
                revision=REVISION,
            ),
            id=request.lead.workflow_id,
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            # Set at the start, so the workflow upserts only what its decisions change.
            # No memo: the ids are in the workflow id and LeadAccount.
            # No summary either: the workflow id names the lead and its account, and a
            # summary is sealed into the start event of every lead.
            search_attributes=start_search_attributes(state, minutes=True),
            priority=Priority(
                priority_key=BULK_PRIORITY if bulk else None, fairness_key=request.lead.account_id
            ),
        )
        async with self._answer_in_time(request.lead):
            try:
                return await self.temporal.execute_update_with_start_workflow(
                    LeadWorkflow.ensure,
                    request,
                    start_workflow_operation=start,
                    # Unique among the lead's updates (a repeated id would get the first
                    # answer back), and short: history keeps it four times.
                    id=f"ensure-{secrets.token_urlsafe(9)}",
                )
            except WorkflowUpdateFailedError as exc:
                raise rejected(exc) from None

    async def change_milestone(self, lead: LeadRef, change: MilestoneChange) -> LeadSnapshot:
        return await self._update(lead, LeadWorkflow.change_milestone, change, change.request_id)

    async def log_call(self, lead: LeadRef, call: CallLog) -> LeadSnapshot:
        """The snapshot says the new status and when the lead is back in the call queue."""
        return await self._update(lead, LeadWorkflow.log_call, call, call.request_id)

    async def schedule_follow_up(self, lead: LeadRef, request: ScheduleFollowUp) -> LeadSnapshot:
        return await self._update(
            lead, LeadWorkflow.schedule_follow_up, request, request.request_id
        )

    async def state_horizon(self, lead: LeadRef, request: StateHorizon) -> LeadSnapshot:
        """The lead said when they mean to buy or sell; a horizon in the past is refused."""
        return await self._update(lead, LeadWorkflow.state_horizon, request, request.request_id)

    async def send_message(self, lead: LeadRef, message: AgentMessage) -> LeadSnapshot:
        """An agent's own text or email to the lead: sent now through the gate, or refused
        (`ChangeRejected`) with why; the same request id twice sends once."""
        return await self._update(lead, LeadWorkflow.send_message, message, message.request_id)

    async def migrate(self, lead: LeadRef, request: MigratePlaybook) -> LeadSnapshot:
        """Move the lead to a newer version of its playbook (see `leadflow.migration`)."""
        return await self._update(lead, LeadWorkflow.migrate, request, request.request_id)

    async def complete_follow_up(self, lead: LeadRef, request: CompleteFollowUp) -> LeadSnapshot:
        return await self._update(
            lead, LeadWorkflow.complete_follow_up, request, request.request_id
        )

    # ---- facts that need no answer (signals) --------------------------------------------------

    async def reply_received(self, lead: LeadRef, event: ReplyReceived) -> None:
        await self._signal(lead, LeadWorkflow.reply_received, event)

    async def opt_out(
        self, lead: LeadRef, channel: OptOutChannel = "sms", source: str = "lead"
    ) -> None:
        await self._signal(lead, LeadWorkflow.opt_out, OptedOut(channel=channel, source=source))

    async def opt_in(
        self, lead: LeadRef, channel: OptOutChannel = "sms", source: str = "lead"
    ) -> None:
        await self._signal(lead, LeadWorkflow.opt_in, OptedIn(channel=channel, source=source))

    async def set_key_dates(self, lead: LeadRef, dates: dict[str, date | None]) -> None:
        await self._signal(lead, LeadWorkflow.set_key_dates, KeyDatesChanged(dates=dates))

    async def set_parties(self, lead: LeadRef, parties: dict[str, Party | None]) -> None:
        event = PartiesChanged(parties=contacts(parties, checked_party))
        await self._signal(lead, LeadWorkflow.set_parties, event)

    async def assign_designations(
        self, lead: LeadRef, assignments: Mapping[str, Member | None]
    ) -> None:
        """In one signal: the lead takes them all, or none if the signal fails."""
        event = DesignationsChanged(assignments=contacts(assignments, checked_member))
        await self._signal(lead, LeadWorkflow.assign_designations, event)

    async def assign_designation(
        self, lead: LeadRef, designation: str, member: Member | None
    ) -> None:
        await self.assign_designations(lead, {designation: member})

    async def record_consent(self, lead: LeadRef, consent: ConsentHeld) -> None:
        """A party's consent, once its evidence is on record (`consent_records`)."""
        await self._signal(lead, LeadWorkflow.record_consent, ConsentRecorded(consent=consent))

    async def set_relationship(self, lead: LeadRef, event: RelationshipDates) -> None:
        """The established business relationship's dates: an inquiry, a transaction."""
        await self._signal(lead, LeadWorkflow.set_relationship, event)

    async def number_reassigned(self, lead: LeadRef, phone: str, detail: str) -> None:
        """The Reassigned Numbers Database said the party's number was disconnected."""
        await self._signal(
            lead, LeadWorkflow.number_reassigned, NumberReassigned(phone=phone, detail=detail)
        )

    async def routing(self, lead: LeadRef, event: LeadRouted | LeadReleased) -> None:
        """A user took the lead's offer (the store decided) or gives back what they hold."""
        taken = isinstance(event, LeadRouted)
        await self._signal(lead, LeadWorkflow.offer_taken if taken else LeadWorkflow.release, event)

    async def delivery_failed(self, lead: LeadRef, event: DeliveryFailed) -> None:
        """A provider reported after the fact that a touch could not be delivered."""
        await self._signal(lead, LeadWorkflow.delivery_failed, event)

    async def enroll(self, lead: LeadRef, campaign: str, actor: str = "system") -> None:
        await self._campaign(lead, CampaignChanged(op="start", campaign=campaign, actor=actor))

    async def switch_campaign(
        self, lead: LeadRef, from_campaign: str, to_campaign: str, actor: str = "system"
    ) -> None:
        event = CampaignChanged(
            op="switch", campaign=to_campaign, switch_from=from_campaign, actor=actor
        )
        await self._campaign(lead, event)

    async def pause_campaign(self, lead: LeadRef, campaign: str, actor: str = "system") -> None:
        await self._campaign(lead, CampaignChanged(op="pause", campaign=campaign, actor=actor))

    async def resume_campaign(self, lead: LeadRef, campaign: str, actor: str = "system") -> None:
        await self._campaign(lead, CampaignChanged(op="resume", campaign=campaign, actor=actor))

    async def cancel_campaign(self, lead: LeadRef, campaign: str, actor: str = "system") -> None:
        await self._campaign(lead, CampaignChanged(op="cancel", campaign=campaign, actor=actor))

    # ---- reading ----------------------------------------------------------------------------

    async def describe(self, lead: LeadRef) -> EngineState:
        state: EngineState = await self._query(lead, LeadWorkflow.state)
        return state

    async def agenda(self, lead: LeadRef, days: int = 30) -> list[Entry]:
        entries: list[Entry] = await self._query(lead, LeadWorkflow.agenda, days)
        return entries

    async def audit(self, lead: LeadRef) -> list[Audit]:
        lines: list[Audit] = await self._query(lead, LeadWorkflow.audit)
        return lines

    def playbook(self, name: str | None) -> Playbook:
        """The playbook called `name` in this client's source, or why not as `ChangeRejected`."""
        if self.playbooks is None:
            raise ChangeRejected(
                "no playbook given, and this client has no playbook source to find "
                f"{name or 'a default'!r} in; pass the lead's playbook",
                "UnknownPlaybook",
            )
        try:
            return self.playbooks.get(name)
        except UnknownPlaybook as exc:
            raise ChangeRejected(exc.problems[0][1], "UnknownPlaybook") from None
        except PlaybookError as exc:
            raise ChangeRejected(str(exc), "InvalidPlaybook") from None

    # ---- plumbing ---------------------------------------------------------------------------

    def _handle(self, lead: LeadRef) -> WorkflowHandle[Any, Any]:
        return self.temporal.get_workflow_handle_for(LeadWorkflow.run, lead.workflow_id)

    async def _update(
        self,
        lead: LeadRef,
        update: UpdateMethodMultiParam[[Any, R], LeadSnapshot],
        arg: R,
        request_id: str,
    ) -> LeadSnapshot:
        # The same request id with another body is another update: the lead refuses it (a
        # repeat with the same body is the same update, answered once).
        refuse_unfit(arg)
        update_id = f"{update._defn.name}:{request_id}:{fingerprint(arg)[-12:]}"
        async with self._answer_in_time(lead):
            try:
                return await self._handle(lead).execute_update(update, arg, id=update_id)
            except WorkflowUpdateFailedError as exc:
                raise rejected(exc) from None
            except RPCError as exc:
                raise missing(exc, lead) from None

    async def _signal(self, lead: LeadRef, signal: Callable[..., Any], arg: Any) -> None:
        refuse_unfit(arg)
        async with self._answer_in_time(lead):
            try:
                await self._handle(lead).signal(signal, arg)
            except RPCError as exc:
                raise missing(exc, lead) from None

    async def _campaign(self, lead: LeadRef, event: CampaignChanged) -> None:
        await self._signal(lead, LeadWorkflow.campaign, event)

    async def _query(self, lead: LeadRef, query: Callable[..., Any], *args: Any) -> Any:
        async with self._answer_in_time(lead):
            try:
                return await self._handle(lead).query(query, *args)
            except RPCError as exc:
                raise missing(exc, lead) from None

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
