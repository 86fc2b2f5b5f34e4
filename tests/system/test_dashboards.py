"""The Grafana dashboard and the Prometheus alert rules in deploy/ read only series the
worker and the API really serve: a worker process and the API run a few leads (one
workflow task failing, a lead evicted from a one-lead cache), and every metric name the
rules and the panels use must be among the names they expose."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from leadflow.api.app import create_app
from leadflow.client import LeadflowClient
from leadflow.engine.refs import LeadRef
from leadflow.playbook.sources import PlaybookFolder
from tests.factories import api_settings, eventually, isa_lead
from tests.integration.test_api import Served
from tests.places import Place
from tests.services import ProvidersUnderTest, free_port, worker_env, worker_process

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
METRICS_TOKEN = "metrics-" + uuid.uuid4().hex
# A series leadflow's rules may read: the SDK's, leadflow's own, the API's HTTP ones.
_METRIC = re.compile(r"\b((?:temporal|leadflow|http)_[a-z0-9_]+)\b")


def _rules() -> list[dict[str, Any]]:
    loaded = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    return [rule for group in loaded["groups"] for rule in group["rules"]]


def _panels() -> list[dict[str, Any]]:
    panels: list[dict[str, Any]] = json.loads((DEPLOY / "grafana" / "leadflow.json").read_text())[
        "panels"
    ]
    return panels


def used() -> dict[str, set[str]]:
    """Each metric name the rules and the panels read, and where."""
    found: dict[str, set[str]] = {}
    for rule in _rules():
        for name in _METRIC.findall(rule["expr"]):
            found.setdefault(name, set()).add(f"alert {rule['alert']}")
    for panel in _panels():
        for target in panel["targets"]:
            for name in _METRIC.findall(target["expr"]):
                found.setdefault(name, set()).add(f"panel {panel['title']!r}")
    return found


def served(exposition: str) -> set[str]:
    """The names a scrape exposes: every sample's, and those of a declared family that has
    none yet (a labelled series before its first value)."""
    names: set[str] = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(maxsplit=3)
            names.add(family)
            if kind == "histogram":
                names |= {f"{family}_bucket", f"{family}_sum", f"{family}_count"}
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def test_the_alert_rules_and_the_dashboard_are_well_formed() -> None:
    rules = _rules()
    assert {rule["alert"] for rule in rules} >= {
        "LeadflowNonDeterminism",
        "LeadflowWorkflowTaskBacklog",
        "LeadflowActivityBacklog",
        "LeadflowStickyCacheMisses",
        "LeadflowSendsFailing",
    }
    for rule in rules:
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]
    titles = [panel["title"] for panel in _panels()]
    assert len(titles) == len(set(titles))
    ids = [panel["id"] for panel in _panels()]
    assert len(ids) == len(set(ids))
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert scrape["rule_files"] == ["alerts.yml"]
    assert {job["job_name"] for job in scrape["scrape_configs"]} == {
        "leadflow-worker",
        "leadflow-api",
    }


async def test_every_series_the_rules_and_the_dashboard_read_is_served(
    dev_env: WorkflowEnvironment,
    dev_address: str,
    database_url: str,
    providers: ProvidersUnderTest,
    db: AsyncEngine,
    tmp_path: Path,
) -> None:
    place = Place.where_it_is(12)  # midday: the leads' first touches fire at once
    queue = f"dash-{uuid.uuid4().hex[:8]}"
    metrics = f"127.0.0.1:{free_port()}"
    playbooks = place.playbook_folder(tmp_path, "isa")
    env = worker_env(dev_address, database_url, providers, queue, playbooks)
    # One lead in memory: the second evicts the first, whose next task misses the cache.
    env |= {"METRICS_ADDRESS": metrics, "WORKER_CACHED_LEADS": "1"}
    worker = worker_process(env, tmp_path / "worker.log")
    try:
        client = LeadflowClient(
            dev_env.client, queue, sends_task_queue=f"{queue}-sends",
            playbooks=PlaybookFolder(playbooks),
        )  # fmt: skip
        exposed = ""

        async def scraped(*names: str) -> bool:
            nonlocal exposed
            try:
                async with httpx.AsyncClient() as http:
                    exposed = (await http.get(f"http://{metrics}/metrics", timeout=2)).text
            except httpx.HTTPError:
                return False
            return all(f"\n{name}" in exposed for name in names)

        async def ensure(n: int) -> None:
            lead = LeadRef(account_id=queue, lead_id=f"D-{n}")
            email = f"d{n}@example.com"
            await client.ensure_lead(isa_lead(lead, "isa", place.zone, place.phone(), email))

        await ensure(0)  # alone in the cache: its next tasks find it there
        assert await eventually(lambda: scraped("temporal_sticky_cache_hit"), timeout=40), exposed
        for n in (1, 2):
            await ensure(n)
        # A workflow task that fails: the counter the non-determinism alert reads.
        broken = await dev_env.client.start_workflow(
            "NoSuchWorkflow", id=f"broken-{queue}", task_queue=queue
        )
        wanted = (
            "leadflow_sends",
            "temporal_workflow_task_execution_failed",
            "temporal_sticky_cache_miss",
            "temporal_activity_schedule_to_start_latency",
        )
        assert await eventually(lambda: scraped(*wanted), timeout=40), exposed
        await broken.terminate("test over")
    finally:
        worker.kill()
        worker.wait()

    app = create_app(
        api_settings(client, metrics_token=METRICS_TOKEN), client=dev_env.client, engine=db
    )
    async with Served(app) as api:
        await api.get("/health")
        answer = await api.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert answer.status_code == 200, answer.text

    names = served(exposed) | served(answer.text)
    missing = {name: where for name, where in used().items() if name not in names}
    assert not missing, f"read but never served: {missing}; served: {sorted(names)}"
