"""`leadflow import FILE --account ID`: bring a CSV file of leads in, in the foreground, with
a progress bar (TEMPORAL_*, DATABASE_URL and ENCRYPTION_KEYS from the environment, as the
API's). Every line is checked first; those that pass start at a steady rate behind live
leads, those that repeat one (in the file or the account) wait for a person. Stopped
(Ctrl-C, a crash), the same command again resumes it: no lead starts twice."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from leadflow.cli.oneline import fails_in_one_line
from leadflow.config import Settings, load_settings
from leadflow.errors import ConfigError

out = Console()


def _mapping(given: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in given:
        field, sep, column = pair.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise ConfigError(f"--map {pair[:80]!r}: give field=Column, e.g. phone='Mobile Phone'")
        mapping[field.strip()] = column.strip()
    return mapping


@fails_in_one_line
def import_file(
    file: Annotated[Path, typer.Argument(help="a CSV file, its first line the header")],
    account: Annotated[str, typer.Option(help="the account the leads are for")],
    mapping: Annotated[
        list[str] | None,
        typer.Option("--map", help="field=Column for a column under another header"),
    ] = None,
    per_second: Annotated[
        float, typer.Option(min=0.1, max=200, help="leads started a second")
    ] = 20.0,
    report: Annotated[
        Path | None, typer.Option(help="write each line's outcome here (CSV)")
    ] = None,
) -> None:
    """Import FILE's leads into ACCOUNT; exit 1 if any line was invalid, a duplicate or
    refused (the report says which and why), 0 when every line started or was there."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{file}: cannot read it as UTF-8 text ({exc.__class__.__name__})"
        ) from None
    settings = load_settings()
    counts = asyncio.run(_import(settings, file.name, text, _mapping(mapping or []), account,
                                 per_second, report))  # fmt: skip
    said = ", ".join(f"{n} {state}" for state, n in counts.items() if n)
    out.print(f"{file.name}: {said or 'nothing to import'}", highlight=False)
    if any(counts[state] for state in ("invalid", "duplicate", "refused")):
        raise typer.Exit(code=1)


async def _import(
    settings: Settings,
    name: str,
    text: str,
    mapping: dict[str, str],
    account: str,
    per_second: float,
    report: Path | None,
) -> dict[str, int]:
    from leadflow.api.import_rows import ImportProblem
    from leadflow.api.importer import book_of, prepare, run_import
    from leadflow.client import LeadflowClient
    from leadflow.paths import shipped
    from leadflow.playbook.sources import PlaybookFolder
    from leadflow.store import imports
    from leadflow.store.accounts import account_name
    from leadflow.store.db import check_database, create_engine
    from leadflow.temporal import connect, data_converter

    engine = create_engine(settings.database)
    try:
        await check_database(engine)
        seller = await account_name(engine, account)
        if seller is None:
            raise ConfigError(f"--account {account[:80]!r}: no such account")
        client = await connect(
            settings.temporal_address,
            settings.temporal_namespace,
            converter=data_converter(settings.keyring()),
            tls=settings.temporal_tls_config(),
        )
        folder = Path(settings.playbooks_dir) if settings.playbooks_dir else shipped("playbooks")
        leads = LeadflowClient(
            client,
            settings.temporal_task_queue,
            playbooks=PlaybookFolder(folder),
            sends_task_queue=settings.sends_task_queue,
            sender_queues=settings.sender_queues(),
        )
        book = await book_of(engine, leads)(account)
        try:
            found, new = await prepare(
                engine, account, book, name, text, mapping, "leadflow import", seller
            )
        except ImportProblem as exc:
            raise ConfigError(f"{name}: {exc}") from None
        import_id = found.id
        out.print(
            f"{'import' if new else 'resuming import'} {import_id}: {found.total} lines, "
            f"{found.counts['pending']} to start", highlight=False
        )  # fmt: skip
        with Progress(
            TextColumn("starting leads"), BarColumn(), MofNCompleteColumn(),
            TimeRemainingColumn(), console=out,
        ) as bar:  # fmt: skip
            task = bar.add_task("start", total=found.counts["pending"])
            await run_import(
                engine, leads, book, import_id, account, "leadflow import",
                per_second=per_second, progressed=lambda n: bar.advance(task, n),
            )  # fmt: skip
        if report is not None:
            with report.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(["line", "lead_id", "outcome", "detail"])
                for row in await imports.report(engine, import_id):
                    writer.writerow([row.line, row.lead_id or "", row.state, row.detail or ""])
        done = await imports.progress(engine, import_id, account)
        assert done is not None
        return done.counts
    finally:
        await engine.dispose()
