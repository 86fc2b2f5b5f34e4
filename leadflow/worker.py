"""The worker process: runs LeadWorkflow and its activities."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.converter import DataConverter
from temporalio.service import RPCError
from temporalio.worker import (
    PollerBehavior,
    PollerBehaviorAutoscaling,
    PollerBehaviorSimpleMaximum,
    Worker,
    WorkerDeploymentConfig,
)
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from leadflow import tracing
from leadflow.activities.send import SendActivities
from leadflow.activities.store import LeadStoreActivities
from leadflow.codec import check_keys
from leadflow.config import Settings
from leadflow.paths import shipped
from leadflow.playbook.sources import PlaybookFolder
from leadflow.providers.clients import ProviderConfig
from leadflow.store import playbooks
from leadflow.store.db import check_database, create_engine
from leadflow.temporal import connect, data_converter, ensure_search_attributes, metrics_runtime
from leadflow.workflows.lead import LeadWorkflow

log = logging.getLogger("leadflow.worker")

WORKFLOWS = [LeadWorkflow]
SDK_POLLERS = PollerBehaviorSimpleMaximum(maximum=5)  # the SDK's own default


# Jinja2 compiles templates to Python that imports its runtime lazily, and phonenumbers
# loads its per-region data lazily; inside the sandbox those imports would load fresh,
# restricted copies. Both are pure, so they pass through like the standard library does,
# as OpenTelemetry does: the tracing interceptor's spans need the one context it keeps.
SANDBOX = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules(
        "jinja2", "markupsafe", "phonenumbers", "holidays", "opentelemetry"
    )
)


def build_worker(
    client: Client,
    engine: AsyncEngine | None,
    task_queue: str,
    *,
    activities: Any = None,
    max_cached_workflows: int = 1000,
    pollers: PollerBehavior = SDK_POLLERS,
    version: WorkerDeploymentVersion | None = None,
) -> Worker:
    """A worker for LeadWorkflow and the store activity (PostgreSQL, or `activities`);
    with `version`, one of that Worker Deployment's (its leads pinned to it).
    `max_cached_workflows=0` keeps no lead in memory between tasks (each replays); `pollers`
    how many polls it keeps open on each of its queues."""
    if activities is None:
        assert engine is not None, "the store activity needs a database engine"
        activities = LeadStoreActivities(engine)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=activities.all(),
        workflow_runner=SANDBOX,
        max_cached_workflows=max_cached_workflows,
        workflow_task_poller_behavior=pollers,
        activity_task_poller_behavior=pollers,
        deployment_config=deployment(version),
        # Sends go through their own rate-limited queue, never eagerly from here.
        disable_eager_activity_execution=True,
    )


def build_send_worker(
    client: Client,
    engine: AsyncEngine,
    providers: ProviderConfig,
    task_queue: str,
    per_second: float = 10.0,
    pollers: PollerBehavior = SDK_POLLERS,
    version: WorkerDeploymentVersion | None = None,
) -> Worker:
    """The send activity alone, on its own queue, rate-limited across all workers; with
    `version`, the pinned leads' sends go to their own version's."""
    return Worker(
        client,
        task_queue=task_queue,
        activities=SendActivities(engine, providers).all(),
        max_task_queue_activities_per_second=per_second,
        max_concurrent_activities=32,
        activity_task_poller_behavior=pollers,
        deployment_config=deployment(version),
    )


def deployment(version: WorkerDeploymentVersion | None) -> WorkerDeploymentConfig | None:
    """A versioned worker's: its leads pinned to `version` unless told otherwise."""
    if version is None:
        return None
    return WorkerDeploymentConfig(
        version=version,
        use_worker_versioning=True,
        default_versioning_behavior=VersioningBehavior.PINNED,
    )


def pollers(settings: Settings) -> PollerBehavior:
    """The settings' polling: autoscaled between 2 and WORKER_POLLERS, or that many always."""
    if settings.worker_poller_autoscaling:
        return PollerBehaviorAutoscaling(
            minimum=2, maximum=settings.worker_pollers, initial=min(5, settings.worker_pollers)
        )
    return PollerBehaviorSimpleMaximum(maximum=settings.worker_pollers)


def lead_converter(settings: Settings, engine: AsyncEngine) -> DataConverter:
    """The converter that opens leads' inputs: a lead's playbook by digest, stored by the
    API, else one of the playbook files."""
    files = PlaybookFolder(
        Path(settings.playbooks_dir) if settings.playbooks_dir else shipped("playbooks")
    )
    return data_converter(
        settings.keyring(),
        [playbooks.loader(engine), files.by_digest],
        require_sealed=settings.require_sealed_payloads,
    )


async def run_worker(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or `stop`), then finish in-flight tasks and exit."""
    providers = settings.providers()
    keyring = settings.keyring()
    engine = create_engine(settings.database)
    try:
        await check_database(engine)
        await check_keys(engine, keyring)
        client = await connect(
            settings.temporal_address,
            settings.temporal_namespace,
            converter=lead_converter(settings, engine),
            runtime=metrics_runtime(settings.metrics_address),
            interceptors=tracing.interceptors("leadflow-worker"),  # none unless configured
            tls=settings.temporal_tls_config(),
        )
        if settings.metrics_address:
            log.info("metrics for Prometheus on http://%s/metrics", settings.metrics_address)
        try:
            added = await ensure_search_attributes(client)
            if added:
                log.info("registered search attributes %s", ", ".join(added))
        except RPCError as exc:
            log.warning(
                "could not register search attributes (%s); ask an operator to create "
                "them (README, Running against real services)",
                exc,
            )
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        senders = [
            build_send_worker(
                client,
                engine,
                providers,
                settings.sends_task_queue,
                settings.sends_per_second,
                pollers(settings),
                settings.deployment(),
            ),
            *(
                build_send_worker(
                    client,
                    engine,
                    providers,
                    queue,
                    settings.sender_rates[number],
                    pollers(settings),
                    settings.deployment(),
                )
                for number, queue in settings.sender_queues().items()
            ),
        ]
        async with contextlib.AsyncExitStack() as running:
            await running.enter_async_context(
                build_worker(
                    client,
                    engine,
                    settings.temporal_task_queue,
                    max_cached_workflows=settings.worker_cached_leads,
                    pollers=pollers(settings),
                    version=settings.deployment(),
                )
            )
            for sender in senders:
                await running.enter_async_context(sender)
            log.info("worker polling task queue %r", settings.temporal_task_queue)
            await stop.wait()
    finally:
        await engine.dispose()
