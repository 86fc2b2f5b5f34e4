"""The activity that keeps the CRM tables in step with a lead's decisions.

One decision's commands are written in one statement: one round trip to PostgreSQL, all or
nothing. Every row carries a business key (the lead's decision counter and the command's
place, or the engine's own touch key), so a retried activity leaves exactly one row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

from leadflow import metrics
from leadflow.activities.payloads import ApplyDecision
from leadflow.activities.routing import RoutingActivities
from leadflow.engine.commands import (
    Audit,
    CloseRouting,
    CompleteTask,
    CreateTask,
    DequeueCall,
    EndConsents,
    FirstTouch,
    QueueCall,
    RecordHistory,
    RecordOptOut,
    SaveParties,
    SendMessage,
    SetPlaybook,
    SetStatus,
)
from leadflow.store import call_logs, leads, opt_outs, outbox, queue, routing
from leadflow.store import consents as consent_records
from leadflow.store.db import Write, run_together


class LeadStoreActivities:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @activity.defn
    async def apply_decision(self, decision: ApplyDecision) -> None:
        touched = next((c for c in decision.commands if isinstance(c, FirstTouch)), None)
        business = None
        if touched is not None:  # speed to lead in the working hours of its user, too
            business = await routing.business_seconds(self._engine, decision.lead, touched)
        await run_together(self._engine, writes(decision, business))
        metrics.count_touches(decision.commands)

    def all(self) -> list[Callable[..., Any]]:
        return [self.apply_decision, RoutingActivities(self._engine).route_lead]


def _row_key(decision: ApplyDecision, index: int) -> str:
    """A command's row: the lead, its decision's number, the command's place in it."""
    return f"{decision.lead.workflow_id}:{decision.decision}:{index}"


def writes(decision: ApplyDecision, business: int | None = None) -> list[Write]:
    """The decision's commands as statements that can run together: at most one per row.

    Where commands of one decision meet on a row, what they come to is written: the last
    status, the lead's one call-queue row as the last queue command left it, the last
    parties, each address's last word per channel, a task created and completed at once.
    """
    lead, at = decision.lead, decision.at
    status: SetStatus | None = None
    notes: list[tuple[str, RecordHistory]] = []
    tasks: dict[str, CreateTask] = {}
    completed: dict[str, datetime] = {}
    queue_row: QueueCall | DequeueCall | None = None
    logged = False  # the claimed call was logged: the claim ends with it
    closed = False  # routing closed: the lead's call is no longer held for its user
    messages: list[tuple[str, SendMessage]] = []
    parties: SaveParties | None = None
    consents: dict[str, str] = {}
    contact: dict[tuple[str, str], RecordOptOut] = {}
    audits: list[tuple[str, Audit]] = []
    moved: SetPlaybook | None = None
    ended: list[EndConsents] = []
    out: list[Write] = []
    for index, command in enumerate(decision.commands):
        if isinstance(command, SetStatus):
            status = command
        elif isinstance(command, SetPlaybook):
            moved = command
        elif isinstance(command, RecordHistory):
            notes.append((_row_key(decision, index), command))
        elif isinstance(command, CreateTask):
            tasks[f"{lead.workflow_id}:{command.key}"] = command
        elif isinstance(command, CompleteTask):
            completed[f"{lead.workflow_id}:{command.key}"] = at
        elif isinstance(command, QueueCall | DequeueCall):
            queue_row = command
            logged = logged or (isinstance(command, DequeueCall) and command.ends_claim)
        elif isinstance(command, SendMessage):
            messages.append((f"{lead.workflow_id}:{command.key}", command))
        elif isinstance(command, SaveParties):
            parties = command
            for role, p in command.parties.items():
                if p.sms_consent and p.phone:
                    consents.setdefault(p.phone, f"lead {lead.lead_id} ({role})")
        elif isinstance(command, RecordOptOut):
            for address in command.addresses:
                for channel in command.channels:
                    contact[(address, channel)] = command
        elif isinstance(command, Audit):
            audits.append((_row_key(decision, index), command))
        elif isinstance(command, EndConsents):
            ended.append(command)
        elif isinstance(command, CloseRouting):
            out.append(routing.close_write(lead, at))
            closed = True
        elif isinstance(command, FirstTouch):
            out.append(
                routing.first_touch_insert(lead, command.at, command.by, command.seconds, business)
            )

    if (record := decision.record) is not None:
        out.append(
            leads.lead_insert(
                record.lead,
                first_name=record.first_name,
                last_name=record.last_name,
                time_zone=record.time_zone,
                milestone=status.milestone if status else record.milestone,
                status=status.status if status else record.status,
                at=record.at,
                playbook=(
                    (record.playbook, record.playbook_version)
                    if record.playbook and record.playbook_version
                    else None
                ),
                source=record.source,
            )
        )
    if status is not None and moved is not None:  # one UPDATE of the row for both
        out.append(
            leads.status_and_playbook_update(
                lead, status.milestone, status.status, at, moved.name, moved.version
            )
        )
    elif status is not None:  # a retried first decision finds its row there already
        out.append(leads.status_update(lead, status.milestone, status.status, at))
    elif moved is not None:
        out.append(leads.playbook_update(lead, moved.name, moved.version))
    if notes:
        out.append(leads.notes_insert(lead, notes, at))
    if calls := [(key, note) for key, note in notes if note.call is not None]:
        out.extend(call_logs.calls_insert(lead, calls, at))
    if tasks:
        out.append(leads.tasks_upsert(lead, tasks, completed))
    if done := [key for key in completed if key not in tasks]:
        out.append(leads.tasks_complete(done, at))
    if isinstance(queue_row, QueueCall):
        out.append(queue.entry_upsert(lead, queue_row, at, release=logged, held=not closed))
    elif isinstance(queue_row, DequeueCall):
        out.append(queue.entry_delete(lead))
    elif closed:
        out.append(queue.unhold(lead))
    if messages:
        out.append(outbox.messages_insert(lead, messages, at))
    if parties is not None:
        out.extend(leads.parties_replace(lead, parties.parties))
    if consents:
        out.append(opt_outs.consents_insert(lead.account_id, list(consents.items()), at))
    out.extend(_contact_changes(lead.account_id, contact, at))
    if audits:
        out.append(leads.audits_insert(lead, audits, at))
    out += [consent_records.ended(lead, c.ids, c.at, c.why) for c in ended]
    return out


def _contact_changes(
    account_id: str, contact: dict[tuple[str, str], RecordOptOut], at: datetime
) -> list[Write]:
    """Each address's last opt-out or opt-in per channel: one statement per address and way."""
    by_address: dict[tuple[str, bool, str, datetime], list[str]] = defaultdict(list)
    for (address, channel), command in contact.items():
        said = command.at or at
        by_address[(address, command.opted_in, command.source, said)].append(channel)
    out: list[Write] = []
    for (address, opted_in, source, said), channels in by_address.items():
        if opted_in:
            out.append(opt_outs.opt_in_delete(account_id, channels, address, said))
        else:
            out.append(
                opt_outs.opt_out_insert(account_id, channels, address, source=source, at=said)
            )
    return out
