"""On the real Temporal dev server: ops find leads by their search attributes, and the
API's readiness sees which task queues workers poll."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.testing import WorkflowEnvironment

from leadflow.api.app import create_app
from leadflow.client import LeadflowClient
from leadflow.engine.refs import LeadRef
from leadflow.playbook.sources import PlaybookFolder
from leadflow.worker import build_send_worker, build_worker
from tests.factories import PLAYBOOKS, api_settings, change, eventually, isa_lead, new_lead
from tests.integration.test_api import Served
from tests.places import Place
from tests.services import ProvidersUnderTest, free_port, worker_env, worker_process


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
    handle = dev_env.client.get_workflow_handle(hot.lead.workflow_id)
    described = await handle.describe()
    # No summary and no memo sealed into history: the ids are in the workflow id and
    # LeadAccount; the current details (in the worker's memory) name the playbook version.
    assert await described.static_summary() is None and await described.memo() == {}
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    lines = metadata.current_details.splitlines()
    assert lines[0] == "insurance v1: Contacted / Hot"
    assert any(line.startswith("Queue: Callback") for line in lines[1:]), lines


async def _ready_when(api: httpx.AsyncClient, polled: str | None) -> httpx.Response | None:
    """/ready's answer once the task queue `polled` is (None: once it is ready)."""
    answer = await api.get("/ready")
    if polled is None:
        return answer if answer.status_code == 200 else None
    return answer if answer.json()["task_queues"][polled] == "polled" else None


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
            polled = await eventually(lambda: _ready_when(api, f"{queue} (workflows)"))
            assert polled is not None and polled.status_code == 503
            assert polled.json()["detail"] == f"no answer from a worker on {queue}-sends (sends)"
            sends = build_send_worker(dev_env.client, db, providers.config, f"{queue}-sends", 10)
            async with sends:
                ready = await eventually(lambda: _ready_when(api, None))
    assert ready is not None and ready.json()["status"] == "ready"


async def test_the_worker_serves_the_sdks_and_leadflows_metrics_after_a_touch(
    dev_env: WorkflowEnvironment,
    dev_address: str,
    database_url: str,
    providers: ProvidersUnderTest,
    tmp_path: Path,
) -> None:
    place = Place.where_it_is(12)  # midday: the new lead's first touches fire at once
    queue = f"metrics-{uuid.uuid4().hex[:8]}"
    metrics = f"127.0.0.1:{free_port()}"
    playbooks = place.playbook_folder(tmp_path, "isa")
    env = worker_env(dev_address, database_url, providers, queue, playbooks)
    log = tmp_path / "worker.log"
    worker = worker_process({**env, "METRICS_ADDRESS": metrics, "LOG_FORMAT": "json"}, log)
    try:
        client = LeadflowClient(
            dev_env.client,
            queue,
            sends_task_queue=f"{queue}-sends",
            playbooks=PlaybookFolder(playbooks),
        )
        phone = place.phone()
        lead = LeadRef(account_id=queue, lead_id="M-1")
        await client.ensure_lead(isa_lead(lead, "isa", place.zone, phone, "m1@example.com"))

        last: list[str] = [""]

        async def scraped() -> str | None:
            try:
                async with httpx.AsyncClient() as http:
                    last[0] = (await http.get(f"http://{metrics}/metrics", timeout=2)).text
            except httpx.HTTPError:
                return None
            both = ('channel="sms"', 'channel="email"')  # the text and the email both sent
            sends = [line for line in last[0].splitlines() if line.startswith("leadflow_sends{")]
            return last[0] if all(any(c in line for line in sends) for c in both) else None

        found = await eventually(scraped, timeout=30)
        assert found, f"no send counted ({place.describe()}): {last[0]}"
        samples = [
            (sample.name, sample.labels, sample.value)
            for family in text_string_to_metric_families(found)
            for sample in family.samples
        ]
        # The SDK's own (task latencies, requests) beside leadflow's (touches and sends).
        names = {name for name, _, _ in samples}
        assert {
            "temporal_workflow_task_execution_latency_bucket",
            "temporal_request_total",
        } <= names

        def counted(name: str, **labels: str) -> float:
            return sum(
                value
                for found_name, found_labels, value in samples
                if found_name == name and labels.items() <= found_labels.items()
            )

        assert counted("leadflow_sends_total", channel="sms", outcome="sent") == 1
        assert counted("leadflow_sends_total", channel="email", outcome="sent") == 1
        assert counted("leadflow_touches_total", outcome="fired", channel="sms") == 1
        assert counted("leadflow_touches_total", outcome="fired", channel="call") == 1
        # Its log: one JSON object a line, a send's naming the account and lead it was for.
        events = [json.loads(line) for line in log.read_text().splitlines()]
        sends = [e for e in events if e["message"].startswith("send sms ")]
        assert sends and sends[0]["level"] == "INFO", events
        assert (sends[0]["account_id"], sends[0]["lead_id"]) == (queue, "M-1")
    finally:
        worker.kill()
        worker.wait()
