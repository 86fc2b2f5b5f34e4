"""`leadflow replay`: the deploy gate, run with the code about to ship (TEMPORAL_ADDRESS,
TEMPORAL_NAMESPACE, DATABASE_URL and ENCRYPTION_KEYS from the environment, as the worker's:
it opens leads' inputs as the worker does)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from temporalio.service import RPCError, RPCStatusCode

from leadflow.cli.oneline import fails_in_one_line
from leadflow.config import Settings, load_settings
from leadflow.deploy.replay import DEFAULT_QUERY, Replayed
from leadflow.errors import ConfigError

out = Console()


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
