"""On the real Temporal dev server: ops find leads by their search attributes, and the
API's readiness sees which task queues workers poll."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from leadflow.api.app import create_app
from leadflow.client import LeadflowClient
from leadflow.worker import build_send_worker, build_worker
from tests.factories import PLAYBOOKS, api_settings, change, eventually, new_lead
from tests.integration.test_api import Served
from tests.services import ProvidersUnderTest


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


async def _ready_when(api: httpx.AsyncClient, detail: str | None) -> httpx.Response | None:
    """/ready's answer once its detail is `detail` (None: ready) with one queue polled."""
    answer = await api.get("/ready")
    found = answer.json()["detail"]
    if detail is None:
        return answer if found is None else None
    return answer if found and found.count(detail) == 1 else None


async def test_ready_names_the_task_queue_no_worker_polls_until_one_does(
    dev_env: WorkflowEnvironment, db: AsyncEngine, providers: ProvidersUnderTest
) -> None:
    queue = f"ready-{uuid.uuid4().hex[:8]}"
    leads = LeadflowClient(dev_env.client, queue, playbooks=PLAYBOOKS)
    app = create_app(api_settings(leads), client=dev_env.client, engine=db)
    async with Served(app) as api:
        alone = await api.get("/ready")
        assert alone.status_code == 503 and alone.headers["retry-after"] == "1"
        body = alone.json()
        assert (body["status"], body["database"], body["temporal"]) == ("not ready", "up", "up")
        assert body["task_queues"] == {
            f"{queue} (workflows)": "not polled",
            f"{queue}-sends (sends)": "not polled",
        }
        assert body["detail"] == (
            f"no answer from a worker on {queue} (workflows), a worker on {queue}-sends (sends)"
        )
        assert (await api.get("/health")).status_code == 200  # alive all the same

        async with build_worker(dev_env.client, db, queue):
            polled = await eventually(lambda: _ready_when(api, "no answer from a worker on "))
            assert polled is not None and polled.status_code == 503
            assert polled.json()["detail"] == f"no answer from a worker on {queue}-sends (sends)"
            sends = build_send_worker(dev_env.client, db, providers.config, f"{queue}-sends", 10)
            async with sends:
                ready = await eventually(lambda: _ready_when(api, None))
    assert ready is not None and ready.json()["status"] == "ready"
