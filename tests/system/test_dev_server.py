"""On the real Temporal dev server: ops find leads by their search attributes."""

from __future__ import annotations

from datetime import timedelta

from temporalio.testing import WorkflowEnvironment

from leadflow.client import LeadflowClient
from tests.factories import change, eventually, new_lead


async def test_ops_can_list_hot_leads_of_an_account(
    dev_leads: LeadflowClient, dev_env: WorkflowEnvironment
) -> None:
    hot, cold = new_lead("northwind"), new_lead("northwind")
    for request in (hot, cold):
        await dev_leads.ensure_lead(request)
    soon = (await dev_env.get_current_time()) + timedelta(days=1)
    await dev_leads.change_milestone(hot.lead, change("Contacted", "Hot", follow_up_at=soon))

    async def listed() -> list[str]:
        query = 'LeadAccount="northwind" AND LeadStatus="Hot"'
        return [w.id async for w in dev_env.client.list_workflows(query)]

    assert await eventually(listed) == [hot.lead.workflow_id]
    described = await dev_env.client.get_workflow_handle(hot.lead.workflow_id).describe()
    assert await described.static_summary() == (
        f"Lead {hot.lead.lead_id} of northwind (insurance v1)"
    )
    assert await described.memo() == {}  # the ids are in the workflow id and LeadAccount
