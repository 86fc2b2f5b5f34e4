"""What ops see of a lead in the Temporal UI and CLI without asking it: the memo, the
search attributes they filter by and the current-details lines. Plain functions of the
lead's state, so the workflow only says when to publish them."""

from __future__ import annotations

from typing import Any

from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    SearchAttributeUpdate,
    SearchAttributeValueType,
    TypedSearchAttributes,
)

import leadflow.engine.localtime as localtime
import leadflow.workflows.search_attributes as sa
from leadflow.engine.decide import describe_next
from leadflow.engine.refs import LeadRef
from leadflow.engine.state import EngineState
from leadflow.playbook.schema import Playbook


def memo_for(lead: LeadRef) -> dict[str, Any]:
    """The memo of runs started before revision 1 (newer runs have none: the ids are in the
    workflow id and LeadAccount). Ids only: no name, phone or email."""
    return {"account": lead.account_id, "lead": lead.lead_id}


def start_search_attributes(s: EngineState, *, minutes: bool = False) -> TypedSearchAttributes:
    """The search attributes a new lead starts with: those of the state given that are not
    empty (an empty list is as good as none to a query, and the server drops it anyway)."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(u.key, u.value)
            for u in search_attributes(s, minutes=minutes)
            if u.value
        ]
    )


def search_attributes(s: EngineState, *, minutes: bool = False) -> list[SearchAttributeUpdate[Any]]:
    """Every search attribute as the lead's state says it should be. With `minutes` (runs
    of revision 2 on), the next touch's time to the minute: what ops filter by, and what a
    client that starts the lead a few milliseconds earlier than its first decision can
    foresee, so the run needs no upsert to correct it."""
    due = s.next_due.replace(second=0, microsecond=0) if minutes and s.next_due else s.next_due
    return [
        sa.LEAD_ACCOUNT.value_set(s.lead.account_id),
        sa.LEAD_MILESTONE.value_set(s.milestone),
        sa.LEAD_STATUS.value_set(s.status),
        sa.LEAD_CAMPAIGNS.value_set(sorted(s.campaigns)),
        _set_or_unset(sa.LEAD_NEXT_TOUCH, due),
        _set_or_unset(sa.LEAD_LOAN_PURPOSE, s.loan_purpose),
    ]


def details(book: Playbook, s: EngineState) -> str:
    """The playbook version the lead runs and where it stands, what wakes it next and when,
    its queue entry and campaigns (kept in the worker's memory, not in history: the
    workflow id names the lead and its account, so the lead's start has no summary)."""
    lines = [f"{book.name} v{book.version}: {s.milestone} / {s.status}"]
    if s.next_due is not None:
        what = describe_next(book, s)
        lines.append(f"Next: {what}, {localtime.describe(s.next_due, s.time_zone)}")
    if s.queue is not None:
        at = localtime.describe(s.queue.available_at, s.time_zone)
        lines.append(f"Queue: {s.queue.label} (priority {s.queue.priority}) from {at}")
    if s.campaigns:
        lines.append("Campaigns: " + ", ".join(sorted(s.campaigns)))
    return "\n".join(lines)


def _set_or_unset(
    key: SearchAttributeKey[SearchAttributeValueType], value: SearchAttributeValueType | None
) -> SearchAttributeUpdate[SearchAttributeValueType]:
    return key.value_unset() if value is None else key.value_set(value)
