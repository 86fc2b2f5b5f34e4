"""A versioned deploy on the real dev server: workers of two builds of one Worker
Deployment. A lead stays pinned to the build it started on while another becomes current
(its updates answered there), new leads start on the current build, a nudge moves the
pinned lead to the current build at continue-as-new with its state and no
non-determinism, and a rollback makes the build before current again."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from leadflow.client import LeadflowClient
from leadflow.deploy import versions
from leadflow.deploy.replay import replay
from leadflow.engine.refs import LeadRef
from leadflow.worker import build_send_worker, build_worker
from tests.factories import PLAYBOOKS, change, eventually, new_lead
from tests.keys import converter
from tests.services import ProvidersUnderTest


async def _pinned_to(env: WorkflowEnvironment, lead: LeadRef) -> tuple[str, str, int]:
    """The lead's current run, the build it is pinned to, and how."""
    described = await env.client.get_workflow_handle(lead.workflow_id).describe()
    info = described.raw_description.workflow_execution_info.versioning_info
    return described.run_id or "", info.deployment_version.build_id, info.behavior


def _workers(
    env: WorkflowEnvironment, db: AsyncEngine, providers: ProvidersUnderTest, queue: str,
    version: WorkerDeploymentVersion,
) -> tuple[Worker, Worker]:  # fmt: skip
    return (
        build_worker(env.client, db, queue, version=version),
        build_send_worker(env.client, db, providers.config, f"{queue}-sends", 100, version=version),
    )


async def _current(env: WorkflowEnvironment, deployment: str, build: str) -> bool:
    """Make `build` current once its workers have registered it."""
    try:
        await versions.set_current(env.client, deployment, build)
    except RPCError:
        return False
    return True


async def test_a_pinned_lead_stays_on_its_build_then_moves_at_continue_as_new(
    dev_env: WorkflowEnvironment, db: AsyncEngine, providers: ProvidersUnderTest
) -> None:
    deployment, queue = f"leadflow-{uuid.uuid4().hex[:8]}", f"ver-{uuid.uuid4().hex[:8]}"
    v1, v2 = (WorkerDeploymentVersion(deployment, build) for build in ("v1", "v2"))
    leads = LeadflowClient(dev_env.client, queue, playbooks=PLAYBOOKS)
    account = f"ver-{uuid.uuid4().hex[:6]}"
    first, sends1 = _workers(dev_env, db, providers, queue, v1)
    async with first, sends1:
        assert await eventually(lambda: _current(dev_env, deployment, "v1"), timeout=30)
        woken, asleep = new_lead(account), new_lead(account)
        runs = {}
        for lead in (woken, asleep):
            await leads.ensure_lead(lead)
            run, build, behavior = await _pinned_to(dev_env, lead.lead)
            assert (build, behavior) == ("v1", VersioningBehavior.PINNED)
            runs[lead.lead.lead_id] = run

        second, sends2 = _workers(dev_env, db, providers, queue, v2)
        async with second, sends2:
            assert await eventually(lambda: _current(dev_env, deployment, "v2"), timeout=30)
            fresh = new_lead(account)
            await leads.ensure_lead(fresh)
            assert (await _pinned_to(dev_env, fresh.lead))[1] == "v2"
            found = await versions.describe(dev_env.client, deployment)
            assert found.current == "v2"
            assert {b.build_id: b.status for b in found.builds}["v1"] == "draining"

            # A lead woken by an update is answered by the build it is pinned to, then its
            # run continues as new on the current one, with its state.
            soon = (await dev_env.get_current_time()) + timedelta(days=1)
            hot = change("Contacted", "Hot", follow_up_at=soon)
            assert (await leads.change_milestone(woken.lead, hot)).status == "Hot"

            async def moved(lead: LeadRef) -> bool:
                now = await _pinned_to(dev_env, lead)
                return now[0] != runs[lead.lead_id] and now[1] == "v2"

            assert await eventually(lambda: moved(woken.lead), timeout=20)
            assert (await leads.describe(woken.lead)).status == "Hot"
            # A sleeping lead stays pinned until it wakes, or until a nudge wakes it.
            assert await _pinned_to(dev_env, asleep.lead) == (
                runs[asleep.lead.lead_id],
                "v1",
                VersioningBehavior.PINNED,
            )

            async def nudged() -> int:
                return await versions.nudge(dev_env.client, deployment, "v1")

            assert await eventually(nudged, timeout=20) == 1
            assert await eventually(lambda: moved(asleep.lead), timeout=20)
            # Every run's history replays against this code: nothing non-deterministic.
            for lead in (woken, asleep):
                checked = await replay(
                    dev_env.client, converter(PLAYBOOKS.by_digest),
                    f"WorkflowId = '{lead.lead.workflow_id}'", sample=10,
                )  # fmt: skip
                assert checked.listed == 2 and checked.ok, checked.failed

            assert await versions.rollback(dev_env.client, deployment) == "v1"
            assert (await versions.describe(dev_env.client, deployment)).current == "v1"
