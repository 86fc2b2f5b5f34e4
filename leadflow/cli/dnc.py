"""`leadflow dnc`: the operator imports the do-not-call registries' downloads and sees how old
each list is (DATABASE_URL from the environment)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from leadflow.cli.oneline import fails_in_one_line
from leadflow.config import DatabaseSettings, load_settings
from leadflow.errors import ConfigError
from leadflow.store.dnc import (
    NAMES,
    DncInputError,
    Imported,
    ListSummary,
    check_as_of,
    check_name,
    import_list,
    lists,
)
from leadflow.store.dnc_numbers import split_lines

err = Console(stderr=True)
app = typer.Typer(
    help="Do-not-call lists: import a registry's download, list them with their age.",
    no_args_is_help=True,
)
CHUNK = 1 << 20


def _as_of(text: str) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--as-of {text[:40]!r}: a date as YYYY-MM-DD, e.g. 2026-12-01") from None
    try:
        return check_as_of(day, datetime.now(UTC).date() + timedelta(days=1))
    except DncInputError as exc:
        raise ConfigError(f"--as-of: {exc}") from None


@app.command("import")
@fails_in_one_line
def import_file(
    file: Annotated[Path, typer.Argument(help="the registry's file: one number a line")],
    list_name: Annotated[str, typer.Option("--list", help=NAMES)],
    as_of: Annotated[
        str, typer.Option("--as-of", help="the day the download is current as of (YYYY-MM-DD)")
    ],
) -> None:
    """Replace a list with the numbers in FILE (2015550123, +12015550123 or 201,5550123 a
    line); readers see the old list until the new one is whole. Lines without a number are
    skipped and counted."""
    try:
        check_name(list_name)
    except DncInputError as exc:
        raise ConfigError(f"--list: {exc}") from None
    day = _as_of(as_of)
    if not file.is_file():
        raise ConfigError(f"{file}: no such file")
    settings = load_settings(DatabaseSettings)
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[lines]:,} lines"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    with bar, file.open("rb") as source:
        task = bar.add_task(f"{list_name}", total=file.stat().st_size, lines=0)

        def chunks() -> Iterator[bytes]:
            while chunk := source.read(CHUNK):
                bar.advance(task, len(chunk))
                yield chunk

        def lines() -> Iterator[bytes]:
            for batch in split_lines(chunks()):
                yield from batch

        progress = lambda n: bar.update(task, lines=n)  # noqa: E731
        done = _run(settings, list_name, day, lines(), file.name, progress)
    skipped = f", {done.invalid:,} invalid lines skipped" if done.invalid else ""
    typer.echo(
        f"{done.name}: {done.numbers:,} numbers as of {done.as_of} ({done.lines:,} lines{skipped})"
    )
    for example in done.examples:
        err.print(example, highlight=False, markup=False)


def _run(
    settings: DatabaseSettings,
    name: str,
    as_of: date,
    lines: Iterator[bytes],
    source: str,
    progress: Callable[[int], None],
) -> Imported:
    from leadflow.store.db import check_database, create_engine

    async def go() -> Imported:
        engine = create_engine(settings.database, pool_size=1)
        try:
            await check_database(engine)
            return await import_list(engine, name, as_of, lines, progress, source=source)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(go())
    except DncInputError as exc:
        raise ConfigError(f"{source}: {exc}") from None


@app.command("lists")
@fails_in_one_line
def show_lists() -> None:
    """Every list with the day its download was current as of and its age; one older than
    31 days is stale (the law has callers scrub against a newer one)."""
    from leadflow.store.db import check_database, create_engine

    settings = load_settings(DatabaseSettings)

    async def go() -> list[ListSummary]:
        engine = create_engine(settings.database, pool_size=1)
        try:
            await check_database(engine)
            return await lists(engine)
        finally:
            await engine.dispose()

    found = asyncio.run(go())
    if not found:
        err.print("no do-not-call lists yet: `leadflow dnc import FILE --list national ...`")
        return
    table = Table("list", "as of", "age", "numbers", "imported", "source")
    for s in found:
        age = f"{s.age_days} days" + (" (stale)" if s.stale else "")
        table.add_row(
            s.name,
            str(s.as_of),
            age,
            f"{s.numbers:,}",
            f"{s.imported_at:%Y-%m-%d %H:%M} UTC",
            s.source,
        )
    Console().print(table)
