"""What ops and orchestrators poll: liveness, readiness, metrics.

`/health` says the process answers (a liveness probe: restart it if not). `/ready` says
whether it can do its work now (a readiness probe: send it traffic or not): PostgreSQL and
Temporal answer, and workers poll the lead task queue and every send queue. A lead update
sent while no worker polls waits for one and times out, so a load balancer should stop at
`/ready` first. `/metrics` names every account and counts its queue: it answers only
`Authorization: Bearer <METRICS_TOKEN>` (Prometheus's `authorization` setting), and is off
(404) while `METRICS_TOKEN` is unset.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field, SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from leadflow import __version__
from leadflow.api.deps import AppSettings, Database, Leads, Metrics
from leadflow.api.errors import RETRY_AFTER

CHECK_TIMEOUT = 2.0
# An idle worker's long poll returns empty after about a minute and it polls again at once;
# a poller the server has not seen for longer than this has gone.
POLLED_WITHIN = timedelta(seconds=90)

router = APIRouter(tags=["ops"])
Up = Literal["up", "down"]
Polled = Literal["polled", "not polled", "unknown"]


class Health(BaseModel):
    status: Literal["ok"] = Field(description="the process answers")
    version: str = __version__


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    database: Up = Field(description="PostgreSQL answers a query")
    temporal: Up = Field(description="the Temporal frontend answers its health check")
    task_queues: dict[str, Polled] = Field(
        description="each task queue this API starts work on, and whether a worker polled it "
        "in the last 90 s (`unknown`: the server cannot say, e.g. the time-skipping test "
        "server)",
        examples=[{"leadflow (workflows)": "polled", "leadflow-sends (sends)": "polled"}],
    )
    detail: str | None = Field(default=None, description="what is missing, in words")
    version: str = __version__


async def _database_up(engine: AsyncEngine) -> bool:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


async def _temporal_up(client: Client) -> bool:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            return await client.service_client.check_health()
    except Exception:
        return False


async def _polled(client: Client, queue: str, kind: TaskQueueType.ValueType) -> Polled:
    request = DescribeTaskQueueRequest(
        namespace=client.namespace, task_queue=TaskQueue(name=queue), task_queue_type=kind
    )
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            described = await client.workflow_service.describe_task_queue(request)
    except RPCError as exc:
        return "unknown" if exc.status == RPCStatusCode.UNIMPLEMENTED else "not polled"
    except Exception:
        return "not polled"
    seen = datetime.now(UTC) - POLLED_WITHIN
    recent = any(p.last_access_time.ToDatetime(tzinfo=UTC) > seen for p in described.pollers)
    return "polled" if recent else "not polled"


def require_bearer(expected: SecretStr | None, given: str | None, setting: str, what: str) -> None:
    """404 while `setting` is unset (the endpoint is off), 401 unless `given` is its value
    (compared in constant time)."""
    if expected is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"{what} is off: set {setting} to turn it on"
        )
    if not given or not secrets.compare_digest(
        given.encode(), expected.get_secret_value().encode()
    ):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            f"{what} needs its credential: 'Authorization: Bearer <{setting}>'",
            headers={"WWW-Authenticate": "Bearer"},
        )


_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <METRICS_TOKEN>")


def _scraper(
    settings: AppSettings,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    given = bearer.credentials if bearer is not None else None
    require_bearer(settings.metrics_token, given, "METRICS_TOKEN", "the metrics endpoint")


@router.get("/metrics", include_in_schema=False, dependencies=[Depends(_scraper)])
async def metrics(database: Database, metrics: Metrics) -> Response:
    """The API's metrics for Prometheus (see leadflow/api/metrics.py)."""
    with contextlib.suppress(Exception):  # a database down still leaves the request metrics
        await metrics.count_queue(database)
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/health", response_model=Health)
async def health() -> Health:
    """Liveness: the process answers. It checks nothing else; see `/ready`."""
    return Health(status="ok")


@router.get(
    "/ready",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "a dependency or a worker is missing"}},
)
async def ready(leads: Leads, database: Database, settings: AppSettings) -> JSONResponse:
    """Readiness: PostgreSQL and Temporal answer, and workers poll the lead task queue and
    every send queue. 503 (with `Retry-After`) naming what is missing otherwise."""
    queues = {
        f"{leads.task_queue} (workflows)": (
            leads.task_queue,
            TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        ),
        **{
            f"{queue} (sends)": (queue, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)
            for queue in (leads.sends_task_queue, *sorted(settings.sender_queues().values()))
        },
    }
    database_up, temporal_up, *polled = await asyncio.gather(
        _database_up(database),
        _temporal_up(leads.temporal),
        *(_polled(leads.temporal, queue, kind) for queue, kind in queues.values()),
    )
    body = Readiness(
        status="ready",
        database="up" if database_up else "down",
        temporal="up" if temporal_up else "down",
        task_queues=dict(zip(queues, polled, strict=True)),
    )
    missing = [
        name for name, up in (("PostgreSQL", database_up), ("Temporal", temporal_up)) if not up
    ]
    if temporal_up:
        missing += [
            f"a worker on {name}" for name, seen in body.task_queues.items() if seen == "not polled"
        ]
    if missing:
        body = body.model_copy(
            update={"status": "not ready", "detail": "no answer from " + ", ".join(missing)}
        )
        return JSONResponse(
            body.model_dump(), status_code=503, headers={"Retry-After": RETRY_AFTER}
        )
    return JSONResponse(body.model_dump())
