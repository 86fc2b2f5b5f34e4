"""The deploy gate on the real dev server: `leadflow replay` replays running leads'
histories against this code (exit 0), and finds the leads a changed workflow would break."""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.testing import WorkflowEnvironment

from leadflow.client import LeadflowClient
from leadflow.deploy.replay import replay
from tests.factories import PLAYBOOKS, eventually, new_lead
from tests.keys import converter
from tests.services import ProvidersUnderTest, worker_env


@workflow.defn(name="LeadWorkflow", sandboxed=False)  # a test module: not sandboxable
class ChangedLeadWorkflow:
    """A release that broke running leads: it waits where today's code decides."""

    @workflow.run
    async def run(self, lead: Any) -> None:
        await workflow.sleep(timedelta(days=365))


async def _running(
    dev_leads: LeadflowClient, dev_env: WorkflowEnvironment, account: str
) -> list[str]:
    """Three leads of a new account, each past its first decision."""
    started = [new_lead(account, "isa") for _ in range(3)]
    for request in started:
        await dev_leads.ensure_lead(request)

    async def listed() -> list[str]:
        query = f'LeadAccount = "{account}"'
        return [w.id async for w in dev_env.client.list_workflows(query)]

    found = await eventually(lambda: _all(listed, 3))
    assert len(found) == 3
    return sorted(r.lead.workflow_id for r in started)


async def _all(listed: Any, n: int) -> list[str]:
    found: list[str] = await listed()
    return found if len(found) == n else []


async def test_the_gate_replays_running_leads_and_passes(
    dev_leads: LeadflowClient,
    dev_env: WorkflowEnvironment,
    dev_address: str,
    database_url: str,
    providers: ProvidersUnderTest,
) -> None:
    account = f"gate-{uuid.uuid4().hex[:8]}"
    await _running(dev_leads, dev_env, account)
    env = worker_env(dev_address, database_url, providers, "unused", PLAYBOOKS.folder)
    code, out, err = await _leadflow(
        env, "replay", "--query", f'LeadAccount = "{account}"', "--sample", "2", "--seed", "7"
    )
    assert code == 0, out + err
    assert "2 of 2 replayed (3 listed by the query)" in out

    code, out, err = await _leadflow(env, "replay", "--query", "LeadAccount = ")
    assert code == 2 and "Traceback" not in err
    assert err.startswith("leadflow: error: --query"), err


async def _leadflow(env: dict[str, str], *args: str) -> tuple[int | None, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "leadflow", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode, out.decode(), err.decode()


async def test_the_gate_names_the_leads_a_changed_workflow_would_break(
    dev_leads: LeadflowClient, dev_env: WorkflowEnvironment
) -> None:
    account = f"gate-{uuid.uuid4().hex[:8]}"
    leads = await _running(dev_leads, dev_env, account)
    query = f'LeadAccount = "{account}"'
    found = await replay(
        dev_env.client, converter(PLAYBOOKS.by_digest), query, sample=10,
        workflows=[ChangedLeadWorkflow],
    )  # fmt: skip
    assert found.listed == 3 and not found.replayed
    assert sorted(found.failed) == leads
    assert all("Nondeterminism" in why or "nondeterminism" in why for why in found.failed.values())
