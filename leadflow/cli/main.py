"""The `leadflow` command."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from leadflow.cli import access, deploy, dnc, imports
from leadflow.cli.oneline import fails_in_one_line
from leadflow.cli.playbook import app as playbook_app
from leadflow.cli.timeline import AsJson, Everything
from leadflow.config import DatabaseSettings, Settings, load_settings
from leadflow.errors import ConfigError

app = typer.Typer(
    name="leadflow",
    help="Lead follow-up engine on Temporal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
app.add_typer(playbook_app, name="playbook")
app.add_typer(access.keys, name="key")
app.add_typer(access.senders, name="sender")
app.add_typer(access.users, name="user")
app.add_typer(dnc.app, name="dnc")
app.command()(deploy.replay)
app.add_typer(deploy.app, name="deploy")
app.command("import")(imports.import_file)

P = ParamSpec("P")
R = TypeVar("R")


def _logging(verbose: bool) -> None:
    """Text, or JSON with LOG_FORMAT=json; the Twilio SDK's line per request only when
    verbose."""
    from leadflow.logs import configure

    configure(verbose, os.environ.get("LOG_FORMAT"))


@app.command()
@fails_in_one_line
def worker(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Run a worker (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, DATABASE_URL from the environment)."""
    from leadflow.worker import run_worker

    settings = load_settings()
    _logging(verbose)
    asyncio.run(run_worker(settings))


@app.command()
@fails_in_one_line
def api(
    host: Annotated[str | None, typer.Option(help="bind address (API_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (API_PORT)")] = None,
) -> None:
    """Run the HTTP API (same environment as the worker, plus API_HOST/API_PORT)."""
    settings = load_settings()
    _logging(verbose=False)
    asyncio.run(_serve_api(settings, host or settings.api_host, port or settings.api_port))


async def _serve_api(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from leadflow.api.app import create_app
    from leadflow.store.db import check_database, create_engine
    from leadflow.temporal import connect, data_converter

    # Fail fast, before uvicorn starts, with the variable to fix; the app connects on its own.
    engine = create_engine(settings.database)
    try:
        await check_database(engine)
    finally:
        await engine.dispose()
    await connect(
        settings.temporal_address,
        settings.temporal_namespace,
        converter=data_converter(settings.keyring()),
        tls=settings.temporal_tls_config(),
    )
    config = uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        log_level="info",
        proxy_headers=True,
        log_config=None,  # uvicorn's records go through leadflow's handler (text or JSON)
    )
    await uvicorn.Server(config).serve()


@app.command()
@fails_in_one_line
def migrate(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply database migrations (DATABASE_URL)."""
    from leadflow.store.db import check_database, create_engine
    from leadflow.store.db import migrate as upgrade

    settings = load_settings(DatabaseSettings)

    async def reachable() -> None:
        engine = create_engine(settings.database)
        try:
            await check_database(engine)
        finally:
            await engine.dispose()

    asyncio.run(reachable())
    upgrade(settings.database, revision)
    err.print(f"database at revision {revision}")


@app.command()
@fails_in_one_line
def account(
    account_id: Annotated[str, typer.Argument(help="the account's id, e.g. acme")],
    name: Annotated[str, typer.Option(help="display name")] = "",
    playbook: Annotated[
        str, typer.Option(help="a shipped playbook's name or a playbook file")
    ] = "isa",
    key: Annotated[
        bool | None,
        typer.Option(help="print a new admin API key (default: only if it has no live key)"),
    ] = None,
) -> None:
    """Create or update an account, store its playbook as a version, and print an admin API
    key if the account has none that works (`leadflow key` manages keys).

    New leads start on the newest stored version; running leads keep theirs.
    """
    from leadflow.engine.refs import IDENTIFIER
    from leadflow.playbook.load import PlaybookError, default_playbook, load_playbook
    from leadflow.store.accounts import ensure_account, live_keys, new_api_key
    from leadflow.store.db import check_database, create_engine
    from leadflow.store.playbooks import VersionConflict, save_version

    if not re.match(IDENTIFIER, account_id):
        raise ConfigError(
            f"account id {account_id!r}: use 1-128 letters, digits and . _ @ + -, starting "
            "with a letter or digit (the API refuses any other)"
        )
    if len(name) > 200 or "\x00" in name:
        raise ConfigError("--name: at most 200 characters, and no NUL")
    settings = load_settings(DatabaseSettings)
    try:
        file = Path(playbook)
        book = (
            load_playbook(file) if file.suffix in (".yaml", ".yml") else default_playbook(playbook)
        )
    except PlaybookError as exc:
        raise ConfigError(f"--playbook: {exc}") from None

    async def make() -> tuple[bool, str | None]:
        engine = create_engine(settings.database, pool_size=1)
        try:
            await check_database(engine)
            await ensure_account(engine, account_id, name or account_id, book.name)
            try:
                stored = await save_version(engine, account_id, book)
            except VersionConflict as exc:
                raise ConfigError(f"--playbook: {exc}") from None
            wanted = key if key is not None else not await live_keys(engine, account_id)
            return stored, await new_api_key(engine, account_id) if wanted else None
        finally:
            await engine.dispose()

    stored, new_key = asyncio.run(make())
    what = "stored" if stored else "already stored"
    err.print(f"account {account_id!r}: playbook {book.name} v{book.version} {what}")
    if new_key is not None:
        err.print("its new API key (shown once):")
        typer.echo(new_key)


@app.command()
def simulate(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML file")],
    as_json: AsJson = False,
    everything: Everything = False,
) -> None:
    """Run a scripted lead through the real workflow in skipped time; print its timeline."""
    from leadflow.cli.scenario import ScenarioError, load_scenario
    from leadflow.cli.simulate import Stopped
    from leadflow.cli.simulate import simulate as run

    try:
        lines = asyncio.run(run(load_scenario(scenario), base=scenario.parent))
    except ScenarioError as exc:
        if isinstance(exc, Stopped):  # what happened up to the refused event, then why
            _print_timeline(exc.timeline, str(scenario), as_json, everything)
        for path, message in exc.problems:
            err.print(
                f"{scenario}: {path}: {message}", highlight=False, soft_wrap=True, markup=False
            )
        sys.stdout.flush()
        os._exit(1)  # as _leave: the SDK core's threads must not race finalization
    _print_timeline(lines, str(scenario), as_json, everything)
    _leave()


def _print_timeline(lines: list[Any], title: str, as_json: bool, everything: bool) -> None:
    from leadflow.cli.timeline import TIMELINE, summary, table

    if as_json:
        typer.echo(TIMELINE.dump_json(lines, indent=2, exclude_none=True).decode())
        return
    zone = lines[0].local_time.rsplit(" ", 1)[-1] if lines else None  # the lead's zone
    console = Console()
    console.print(
        table(lines, f"{title}, times in {zone}" if zone else title, everything=everything)
    )
    console.print(summary(lines), highlight=False, markup=False)


@playbook_app.command("migrate")
@fails_in_one_line
def migrate_leads(
    account_id: Annotated[str, typer.Argument(help="the account whose running leads move")],
    to: Annotated[int, typer.Option("--to", min=1, help="the stored version to move them to")],
    status: Annotated[
        list[str] | None, typer.Option(help="only leads in this status (repeat for more)")
    ] = None,
    milestone: Annotated[
        list[str] | None, typer.Option(help="only leads at this milestone (repeat for more)")
    ] = None,
    campaign: Annotated[
        list[str] | None, typer.Option(help="only leads running this campaign (repeat)")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show the plan, move nothing")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="move without asking")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="the plan, the outcome as JSON")] = False,
) -> None:
    """Move an account's running leads to a newer version of its playbook. First the plan:
    leads per version, how many move, and for a sample their next touches before and after;
    then each lead moves between two of its decisions. Nothing already sent is sent again."""
    from leadflow.cli.migrate import chosen
    from leadflow.cli.migrate import migrate as run

    settings = load_settings()
    _logging(verbose=False)
    code = asyncio.run(
        run(
            settings,
            account_id,
            to,
            chosen(status or [], milestone or [], campaign or []),
            dry_run=dry_run,
            yes=yes,
            as_json=as_json,
        )
    )
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # as _leave: the SDK core's threads must not race finalization


@app.command("timeline-schema")
def timeline_schema() -> None:
    """Print the JSON Schema of `simulate --json` and `playbook preview --json`."""
    import json

    from leadflow.cli.timeline import schema

    typer.echo(json.dumps(schema(), indent=2))


def _leave() -> None:
    """End `simulate` once its output is out. The test server and worker are shut down by
    then, but the SDK core's threads can still race interpreter finalization and abort it,
    which would turn a clean run into a crash code; nothing is left to clean up."""
    import os
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


@app.command("new-key")
@fails_in_one_line
def new_key(
    key_id: Annotated[
        str | None, typer.Option("--id", help="the key's id (default: random)")
    ] = None,
) -> None:
    """Print a new encryption key for ENCRYPTION_KEYS: put it first, keep the old ones after
    it for as long as histories sealed with them may be read."""
    from leadflow.codec import new_key as make

    if key_id is not None and not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", key_id):
        raise ConfigError(f"--id {key_id[:80]!r}: use 1-64 letters, digits and . _ -")
    typer.echo(make(key_id))


@app.command("fake-providers")
@fails_in_one_line
def fake_providers(
    port: Annotated[int, typer.Option(help="port on 127.0.0.1")] = 8025,
    event_webhook: Annotated[
        str | None,
        typer.Option(help="where to post SendGrid's signed email events (e.g. the API's)"),
    ] = None,
) -> None:
    """Run the fake Twilio + SendGrid server (what `leadflow dev` points the worker at).

    Its email events are signed with SENDGRID_WEBHOOK_SIGNING_KEY (base64 DER, PKCS #8) when
    set, else with a new key whose public half it prints for SENDGRID_WEBHOOK_PUBLIC_KEY."""
    from leadflow.providers.fake import EventSigner, FakeState
    from leadflow.providers.serve import running_fake

    signing_key = os.environ.get("SENDGRID_WEBHOOK_SIGNING_KEY") or None
    try:
        signer = EventSigner(signing_key)
    except ValueError as exc:
        raise ConfigError(f"SENDGRID_WEBHOOK_SIGNING_KEY: {exc}") from None
    state = FakeState(event_webhook_url=event_webhook, event_signer=signer)

    async def serve() -> None:
        async with running_fake(port, state) as (url, state_):
            err.print(f"fake providers on {url} (Twilio account {state_.account_sid})")
            if signing_key is None:
                err.print(f"SendGrid events signed for the public key {signer.public_key}")
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


@app.command()
@fails_in_one_line
def dev(
    data_dir: Annotated[
        Path, typer.Option(help="where PostgreSQL and Temporal keep their data")
    ] = Path(".leadflow"),
    api_port: int = 8000,
    temporal_port: int = 7233,
    ui_port: int = 8233,
    providers_port: int = 8025,
    metrics_port: Annotated[int, typer.Option(help="the worker's metrics for Prometheus")] = 9464,
    demo: Annotated[bool, typer.Option(help="create a demo lead")] = True,
) -> None:
    """Run the whole stack locally: PostgreSQL, Temporal + Web UI, worker, API."""
    from leadflow.cli.dev import DevStack

    code = DevStack(
        data_dir=data_dir.resolve(),
        api_port=api_port,
        temporal_port=temporal_port,
        ui_port=ui_port,
        providers_port=providers_port,
        metrics_port=metrics_port,
        demo=demo,
    ).run()
    raise typer.Exit(code)
