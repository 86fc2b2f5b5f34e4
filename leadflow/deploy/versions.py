"""Versioned deploys on Temporal's Worker Deployments: each release's workers join the
deployment as a build; a lead's run stays pinned to the build it started on (so no worker
ever replays it with other code), and its next run, at continue-as-new, starts on the build
current then. These are the operator's steps: see where each build stands, ramp a new one,
make it current, roll back to the one before, and nudge pinned leads so they move now
rather than at their next touch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.deployment.v1 import WorkerDeploymentInfo
from temporalio.api.enums.v1 import VersionDrainageStatus, WorkerDeploymentVersionStatus
from temporalio.api.workflowservice.v1 import (
    DescribeWorkerDeploymentRequest,
    SetWorkerDeploymentCurrentVersionRequest,
    SetWorkerDeploymentRampingVersionRequest,
)
from temporalio.client import Client

IDENTITY = "leadflow deploy"


class DeployProblem(ValueError):
    """A step the deployment cannot take as asked: the words say why."""


@dataclass(frozen=True)
class Build:
    build_id: str
    status: str  # current, ramping, draining, drained, inactive, created
    created_at: datetime | None
    last_current_at: datetime | None  # when it last stopped being current (None: never was)


@dataclass(frozen=True)
class Deployment:
    name: str
    current: str | None  # the current build (None: unversioned workers take new runs)
    ramping: str | None
    ramp_percent: float
    builds: list[Build]


def _status(build: WorkerDeploymentInfo.WorkerDeploymentVersionSummary) -> str:
    if build.drainage_status == VersionDrainageStatus.VERSION_DRAINAGE_STATUS_DRAINED:
        return "drained"
    if build.drainage_status == VersionDrainageStatus.VERSION_DRAINAGE_STATUS_DRAINING:
        return "draining"
    name = WorkerDeploymentVersionStatus.Name(build.status)
    return name.removeprefix("WORKER_DEPLOYMENT_VERSION_STATUS_").lower()


def _when(stamp: Timestamp) -> datetime | None:
    return datetime.fromtimestamp(stamp.seconds, UTC) if stamp.seconds else None


async def describe(client: Client, name: str) -> Deployment:
    """Where each build of the deployment stands."""
    answer = await client.workflow_service.describe_worker_deployment(
        DescribeWorkerDeploymentRequest(namespace=client.namespace, deployment_name=name)
    )
    info = answer.worker_deployment_info
    routing = info.routing_config
    builds = [
        Build(
            build_id=summary.deployment_version.build_id,
            status=_status(summary),
            created_at=_when(summary.create_time),
            last_current_at=_when(summary.last_current_time),
        )
        for summary in info.version_summaries
    ]
    return Deployment(
        name=name,
        current=routing.current_deployment_version.build_id or None,
        ramping=routing.ramping_deployment_version.build_id or None,
        ramp_percent=routing.ramping_version_percentage,
        builds=sorted(builds, key=lambda b: b.created_at or datetime.min.replace(tzinfo=UTC)),
    )


async def set_current(client: Client, name: str, build_id: str) -> None:
    """New leads, and every lead's next run, start on `build_id` from now on."""
    await client.workflow_service.set_worker_deployment_current_version(
        SetWorkerDeploymentCurrentVersionRequest(
            namespace=client.namespace, deployment_name=name, build_id=build_id,
            identity=IDENTITY,
        )
    )  # fmt: skip


async def ramp(client: Client, name: str, build_id: str, percent: float) -> None:
    """Send `percent` of new runs to `build_id`, the rest to the current build (0 ends the
    ramp)."""
    if not 0 <= percent <= 100:
        raise DeployProblem(f"a ramp is 0 to 100 percent, not {percent}")
    await client.workflow_service.set_worker_deployment_ramping_version(
        SetWorkerDeploymentRampingVersionRequest(
            namespace=client.namespace, deployment_name=name,
            build_id=build_id if percent else "", percentage=percent, identity=IDENTITY,
        )
    )  # fmt: skip


async def rollback(client: Client, name: str) -> str:
    """Make current again the build that was current before this one; its id."""
    found = await describe(client, name)
    before = [b for b in found.builds if b.build_id != found.current and b.last_current_at]
    if not before:
        raise DeployProblem(f"deployment {name!r} has no build that was current before")
    previous = max(before, key=lambda b: b.last_current_at or datetime.min.replace(tzinfo=UTC))
    await set_current(client, name, previous.build_id)
    return previous.build_id


def pinned_query(name: str, build_id: str) -> str:
    """The visibility query for the running leads pinned to a build."""
    return (
        "WorkflowType = 'LeadWorkflow' AND ExecutionStatus = 'Running' AND "
        f"TemporalWorkerDeploymentVersion = '{name}:{build_id}'"
    )


async def nudge(client: Client, name: str, build_id: str) -> int:
    """Wake every running lead pinned to `build_id`: each moves to the current build at
    once (its run continues as new there). How many were nudged."""
    nudged = 0
    async for execution in client.list_workflows(pinned_query(name, build_id)):
        await client.get_workflow_handle(execution.id, run_id=execution.run_id).signal("nudge")
        nudged += 1
    return nudged
