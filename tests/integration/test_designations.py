"""Setting several designations at once reaches the lead as one signal: it takes them all
together, never half of them."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.enums.v1 import EventType

from leadflow.api.app import create_app
from leadflow.client import LeadflowClient
from leadflow.engine.refs import LeadRef
from leadflow.store.accounts import ensure_account, new_api_key
from tests.factories import api_settings, eventually
from tests.integration.test_api import PAT_ISA, Served


async def test_several_designations_go_in_one_signal(
    leads: LeadflowClient, db: AsyncEngine
) -> None:
    await ensure_account(db, "beta", "Beta Realty", "isa")
    app = create_app(api_settings(leads), client=leads.temporal, engine=db)
    lead_id = f"L-{uuid.uuid4().hex[:8]}"
    async with Served(app, await new_api_key(db, "beta")) as api:
        created = await api.put(f"/v1/leads/{lead_id}", json=PAT_ISA)
        assert created.status_code == 201, created.text
        both = {
            "isa": {"id": "isa-2", "name": "Iris Isa"},
            "loan_officer": {"id": "lo-1", "name": "Lena Officer", "phone": "+13125550100"},
        }
        answer = await api.put(f"/v1/leads/{lead_id}/designations", json={"assignments": both})
        assert answer.status_code == 202, answer.text

    ref = LeadRef(account_id="beta", lead_id=lead_id)

    async def assigned() -> dict[str, str] | None:
        state = await leads.describe(ref)
        ids = {k: m.id for k, m in state.designations.items()}
        return ids if ids.get("loan_officer") else None

    assert await eventually(assigned) == {"isa": "isa-2", "loan_officer": "lo-1"}
    history = await leads.temporal.get_workflow_handle(ref.workflow_id).fetch_history()
    signals = [
        e
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    ]
    assert len(signals) == 1
    assert signals[0].workflow_execution_signaled_event_attributes.signal_name == (
        "assign_designations"
    )
