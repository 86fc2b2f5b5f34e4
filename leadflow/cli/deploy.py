"""`leadflow replay`: the deploy gate, run with the code about to ship (TEMPORAL_ADDRESS,
TEMPORAL_NAMESPACE, DATABASE_URL and ENCRYPTION_KEYS from the environment, as the worker's:
it opens leads' inputs as the worker does); `leadflow deploy ...`: a versioned deploy's
steps (`leadflow.deploy.versions`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from leadflow.cli.oneline import fails_in_one_line
from leadflow.config import Settings, load_settings
from leadflow.deploy import versions
from leadflow.deploy.replay import DEFAULT_QUERY, Replayed
from leadflow.errors import ConfigError

out = Console()
T = TypeVar("T")


@fails_in_one_line
def replay(
    query: Annotated[
        str, typer.Option(help="a visibility query choosing the leads (default: running ones)")
    ] = DEFAULT_QUERY,
    sample: Annotated[int, typer.Option(min=1, help="how many of them to replay")] = 100,
    scan: Annotated[
        int, typer.Option(min=1, help="the sample is drawn among the first SCAN listed")
    ] = 10_000,
    seed: Annotated[int | None, typer.Option(help="the same seed draws the same sample")] = None,
) -> None:
    """Replay real leads' histories from the cluster against this code: exit 1 if any
    fails (a deploy would break those leads), 0 when all replay."""
    settings = load_settings()
    found = asyncio.run(_replay(settings, query, sample, scan, seed))
    for lead, why in sorted(found.failed.items()):
        out.print(f"[red]does not replay[/red] {escape(lead)}: {escape(why)}", soft_wrap=True)
    summary = f"{len(found.replayed)} of {len(found.replayed) + len(found.failed)} replayed"
    out.print(f"{summary} ({found.listed} listed by the query)", highlight=False)
    if not found.ok:
        raise typer.Exit(code=1)


async def _replay(
    settings: Settings, query: str, sample: int, scan: int, seed: int | None
) -> Replayed:
    from leadflow.deploy.replay import replay as replay_sample
    from leadflow.store.db import check_database, create_engine
    from leadflow.temporal import connect
    from leadflow.worker import lead_converter

    engine = create_engine(settings.database)
    try:
        await check_database(engine)
        converter = lead_converter(settings, engine)
        client = await connect(
            settings.temporal_address,
            settings.temporal_namespace,
            converter=converter,
            tls=settings.temporal_tls_config(),
        )
        try:
            return await replay_sample(
                client, converter, query, sample=sample, scan=scan, seed=seed
            )
        except RPCError as exc:
            if exc.status == RPCStatusCode.INVALID_ARGUMENT:
                raise ConfigError(f"--query {query[:80]!r}: {exc.message}") from None
            raise
    finally:
        await engine.dispose()


app = typer.Typer(
    help="Versioned deploys (Temporal Worker Deployments): see, ramp, make current, roll "
    "back, nudge. TEMPORAL_* from the environment; the deployment is WORKER_DEPLOYMENT's.",
    no_args_is_help=True,
)
Name = Annotated[
    str | None, typer.Option("--deployment", help="the deployment (default: WORKER_DEPLOYMENT)")
]


async def _client(settings: Settings) -> Client:
    from leadflow.temporal import connect, data_converter

    return await connect(
        settings.temporal_address,
        settings.temporal_namespace,
        converter=data_converter(settings.keyring()),
        tls=settings.temporal_tls_config(),
    )


def _run(step: Callable[[Client, str], Awaitable[T]], name: str | None) -> T:
    """Run one step against the deployment, its refusals as one line."""
    settings = load_settings()
    deployment = name or settings.worker_deployment
    if not deployment:
        raise ConfigError("--deployment: name the deployment, or set WORKER_DEPLOYMENT")

    async def run() -> T:
        try:
            return await step(await _client(settings), deployment)
        except RPCError as exc:
            raise ConfigError(f"deployment {deployment!r}: {exc.message}") from None
        except versions.DeployProblem as exc:
            raise ConfigError(str(exc)) from None

    return asyncio.run(run())


@app.command()
@fails_in_one_line
def status(deployment: Name = None) -> None:
    """Each build of the deployment: current, ramping, draining (pinned leads still run
    on it), drained (none does: its workers may stop)."""
    found = _run(versions.describe, deployment)
    ramp = f", ramping {found.ramping} at {found.ramp_percent:g}%" if found.ramping else ""
    out.print(f"{found.name}: current {found.current or '(unversioned)'}{ramp}", highlight=False)
    for build in found.builds:
        out.print(f"  {build.build_id:<24} {build.status}", highlight=False)


@app.command("set-current")
@fails_in_one_line
def set_current(
    build_id: Annotated[str, typer.Argument(help="the build new runs start on")],
    deployment: Name = None,
) -> None:
    """Make BUILD_ID current: new leads, and every lead's next run, start on it."""
    _run(lambda client, name: versions.set_current(client, name, build_id), deployment)
    out.print(f"{build_id} is current", highlight=False)


@app.command()
@fails_in_one_line
def ramp(
    build_id: Annotated[str, typer.Argument(help="the build to ramp")],
    percent: Annotated[float, typer.Argument(min=0, max=100, help="of new runs; 0 ends it")],
    deployment: Name = None,
) -> None:
    """Start PERCENT of new runs on BUILD_ID, the rest on the current build."""
    _run(lambda client, name: versions.ramp(client, name, build_id, percent), deployment)
    out.print(f"{build_id} ramping at {percent:g}%", highlight=False)


@app.command()
@fails_in_one_line
def rollback(deployment: Name = None) -> None:
    """Make current again the build that was current before this one."""
    build = _run(versions.rollback, deployment)
    out.print(f"rolled back: {build} is current", highlight=False)


@app.command()
@fails_in_one_line
def nudge(
    build_id: Annotated[str, typer.Argument(help="the build whose pinned leads move now")],
    deployment: Name = None,
) -> None:
    """Wake every running lead pinned to BUILD_ID: each moves to the current build now
    instead of at its next touch (a lead mid-cadence may sleep for days)."""
    n = _run(lambda client, name: versions.nudge(client, name, build_id), deployment)
    out.print(f"nudged {n} leads pinned to {build_id}", highlight=False)
