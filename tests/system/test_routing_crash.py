"""A thousand new leads routed across twenty agents while the worker is SIGKILLed mid-way:
each lead is given exactly once, every agent exactly their cap, and each lead's designation
is the agent its assignment names. Real worker processes (`leadflow worker`) on the
Temporal dev server and real PostgreSQL; the routing activity decides under the account's
lock, once per lead and attempt, so an activity the dead worker had begun (or committed
without answering) is answered from its row by the next worker."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections import Counter
from pathlib import Path

import yaml
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from leadflow.client import LeadflowClient
from leadflow.engine.refs import LeadRef
from leadflow.playbook.sources import PlaybookFolder
from leadflow.store.accounts import ensure_account
from leadflow.store.routing_tables import RoutingAssignment
from leadflow.store.users import save_user
from leadflow.workflows.messages import EnsureLead
from tests.factories import PLAYBOOKS
from tests.services import ProvidersUnderTest, worker_env, worker_process

LEADS, AGENTS, CAP = 1000, 20, 50  # the caps take exactly every lead


async def _count(db: AsyncEngine, account: str) -> int:
    async with db.connect() as conn:
        query = select(func.count()).where(RoutingAssignment.account_id == account)
        return int((await conn.execute(query)).scalar_one())


async def test_a_thousand_leads_are_each_given_once_across_a_killed_worker(
    dev_env: WorkflowEnvironment,
    dev_address: str,
    database_url: str,
    db: AsyncEngine,
    providers: ProvidersUnderTest,
    tmp_path: Path,
) -> None:
    account = f"route-{uuid.uuid4().hex[:8]}"
    data = PLAYBOOKS.get("isa").model_dump(mode="json")
    data["routing"] = {"rules": [{"name": "team", "designation": "isa", "caps": {"per_day": CAP}}]}
    (tmp_path / "isa.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    await ensure_account(db, account, "Routing", "isa")
    agents = [f"agent-{i:02d}" for i in range(AGENTS)]
    for agent in agents:
        await save_user(db, account, agent, agent.title(), None, None, ["isa"])
    env = worker_env(dev_address, database_url, providers, account, tmp_path)
    first = worker_process(env)
    second: subprocess.Popen[bytes] | None = None
    try:
        client = LeadflowClient(
            dev_env.client,
            account,
            sends_task_queue=f"{account}-sends",
            playbooks=PlaybookFolder(tmp_path),
        )
        refs = [LeadRef(account_id=account, lead_id=f"R{i:04d}") for i in range(LEADS)]
        gate = asyncio.Semaphore(16)

        async def arrive(ref: LeadRef) -> None:
            async with gate:
                await client.ensure_lead(EnsureLead(lead=ref, playbook="isa"))

        arriving = asyncio.gather(*(arrive(ref) for ref in refs))
        for _ in range(600):  # until about a third are given
            if await _count(db, account) >= LEADS // 3:
                break
            await asyncio.sleep(0.1)
        given_before = await _count(db, account)
        first.kill()  # SIGKILL: no shutdown, activities in flight left as they are
        first.wait()
        assert given_before < LEADS, "every lead was routed before the kill"
        second = worker_process(env)
        await asyncio.wait_for(arriving, timeout=300)
        for _ in range(1200):
            if await _count(db, account) >= LEADS:
                break
            await asyncio.sleep(0.25)
        async with db.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        RoutingAssignment.lead_id,
                        RoutingAssignment.attempt,
                        RoutingAssignment.agent,
                    ).where(RoutingAssignment.account_id == account)
                )
            ).all()
        assert sorted(r.lead_id for r in rows) == [ref.lead_id for ref in refs]  # once each
        assert {r.attempt for r in rows} == {1} and all(r.agent for r in rows)
        assert Counter(r.agent for r in rows) == dict.fromkeys(agents, CAP)
        by_lead = {r.lead_id: r.agent for r in rows}
        for ref in refs[::10]:
            state = await client.describe(ref)
            assert state.designations["isa"].id == by_lead[ref.lead_id], ref.lead_id
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
