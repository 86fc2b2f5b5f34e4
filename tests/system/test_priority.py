"""On the real dev server (fairness on, as `leadflow dev` runs it): a live lead's tasks carry
its account as Temporal's fairness key at the default priority, an imported one's the same
key behind them (priority 4)."""

from __future__ import annotations

import uuid

from temporalio.testing import WorkflowEnvironment

from leadflow.client import BULK_PRIORITY, LeadflowClient
from tests.factories import new_lead


async def _priority(env: WorkflowEnvironment, workflow_id: str) -> tuple[int, str]:
    described = await env.client.get_workflow_handle(workflow_id).describe()
    priority = described.raw_description.workflow_execution_info.priority
    return priority.priority_key, priority.fairness_key


async def test_live_and_imported_leads_carry_their_account_and_their_priority(
    dev_leads: LeadflowClient, dev_env: WorkflowEnvironment
) -> None:
    account = f"fair-{uuid.uuid4().hex[:8]}"
    live, imported = new_lead(account), new_lead(account)
    await dev_leads.ensure_lead(live)
    await dev_leads.ensure_lead(imported, bulk=True)
    assert await _priority(dev_env, live.lead.workflow_id) == (0, account)  # 0: the default
    assert await _priority(dev_env, imported.lead.workflow_id) == (BULK_PRIORITY, account)
