"""What LeadWorkflow hands its store, read from the in-memory store: the lead's record once,
one history note per request id, nothing for a refused change, a change after a durable sleep
stamped with the server's time."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from leadflow.activities.memory import MemoryStoreActivities
from leadflow.client import ChangeRejected, LeadflowClient
from tests.factories import change, new_lead


def commands(store: MemoryStoreActivities, kind: str) -> list[tuple[datetime, Any]]:
    """Every command of `kind` the store received, with the moment it was decided."""
    return [(d.at, c) for d in store.decisions for c in d.commands if c.kind == kind]


async def test_a_change_after_thirty_days_is_decided_thirty_days_later(
    leads: LeadflowClient, time_env: WorkflowEnvironment, store: MemoryStoreActivities
) -> None:
    started = time.monotonic()
    request = new_lead()
    await leads.ensure_lead(request)
    created = store.decisions[0].at

    await time_env.sleep(timedelta(days=30))
    await leads.change_milestone(
        request.lead, change("Quoted", "Requote", note="wants a quote", actor="ana")
    )

    ((at, note),) = commands(store, "record_history")
    assert (note.action, note.milestone, note.status, note.note, note.actor) == (
        "Lead Update",
        "Quoted",
        "Requote",
        "wants a quote",
        "ana",
    )
    assert at - created >= timedelta(days=30)
    assert [(s.milestone, s.status) for _, s in commands(store, "set_status")][-1] == (
        "Quoted",
        "Requote",
    )
    # Thirty days pass on the server's clock, not on ours.
    assert time.monotonic() - started < 15


async def test_the_lead_record_is_handed_over_once(
    leads: LeadflowClient, store: MemoryStoreActivities
) -> None:
    request = new_lead()
    await leads.ensure_lead(request)
    await leads.ensure_lead(request)

    records = [d.record for d in store.decisions if d.record is not None]
    assert [(r.lead, r.first_name, r.milestone) for r in records] == [
        (request.lead, "Pat", "No Milestone")
    ]


async def test_a_repeated_request_id_records_one_note(
    leads: LeadflowClient, store: MemoryStoreActivities
) -> None:
    request = new_lead()
    await leads.ensure_lead(request)
    update = change("Quoted", "Requote")
    await leads.change_milestone(request.lead, update)
    await leads.change_milestone(request.lead, update)

    assert len(commands(store, "record_history")) == 1


async def test_a_refused_change_hands_the_store_nothing(
    leads: LeadflowClient, store: MemoryStoreActivities
) -> None:
    request = new_lead()
    await leads.ensure_lead(request)
    before = len(store.decisions)
    with pytest.raises(ChangeRejected, match="not linked"):
        await leads.change_milestone(request.lead, change("Sold", "Hot"))
    assert len(store.decisions) == before
    assert commands(store, "record_history") == []
