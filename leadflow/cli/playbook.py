"""`leadflow playbook check|preview`: for playbook authors, before a change rolls out."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
import yaml
from pydantic import ValidationError
from rich.console import Console

import leadflow.engine.localtime as localtime
from leadflow.cli.scenario import YEARS
from leadflow.cli.timeline import TIMELINE, AsJson, Everything, of_command, summary, table
from leadflow.engine import spread
from leadflow.engine.commands import InvalidChange
from leadflow.engine.preview import sample_lead, timeline
from leadflow.engine.state import EngineState
from leadflow.models import check_time_zone
from leadflow.playbook.check import warnings
from leadflow.playbook.load import DuplicateKey, PlaybookError, load_playbook, read_yaml
from leadflow.playbook.schema import Playbook

app = typer.Typer(help="Check and preview playbooks.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)


@app.command()
def check(files: Annotated[list[Path], typer.Argument(help="playbook YAML files")]) -> None:
    """Validate playbooks; every problem is printed as FILE: PATH: what is wrong."""
    failed = False
    for file in files:
        try:
            book = load_playbook(file)
        except PlaybookError as exc:
            failed = True
            for path, message in exc.problems:
                line = f"{exc.source}: {path}: {message}"
                err.print(line, highlight=False, soft_wrap=True, markup=False)
            continue
        for path, message in warnings(book):  # said, not refused
            line = f"{file}: {path}: warning: {message}"
            err.print(line, highlight=False, soft_wrap=True, markup=False)
        out.print(
            f"{file}: ok ({book.name} v{book.version}, {len(book.campaigns)} campaigns)",
            highlight=False,
        )
    if failed:
        raise typer.Exit(1)


@app.command()
def preview(
    file: Annotated[Path, typer.Argument(help="playbook YAML file")],
    lead: Annotated[Path | None, typer.Option(help="a lead's facts (YAML)")] = None,
    days: Annotated[int, typer.Option(min=1, max=3650)] = 61,
    start: Annotated[str | None, typer.Option(help="when the lead arrives (ISO 8601)")] = None,
    as_json: AsJson = False,
    everything: Everything = False,
) -> None:
    """The touches, tasks and queue entries a lead receives if nobody answers."""
    try:
        book = load_playbook(file)
        state = _lead(book, lead)
    except PlaybookError as exc:
        err.print(str(exc), highlight=False, soft_wrap=True, markup=False)
        raise typer.Exit(1) from None
    began = _start(start)
    zone = state.time_zone
    day0 = localtime.local_date(began, zone)
    try:
        made = timeline(book, state, began, days)
    except (InvalidChange, OverflowError) as exc:  # facts the lead could not hold (a date)
        said = str(exc) if isinstance(exc, InvalidChange) else "a date is out of range"
        err.print(f"{lead or file}: (lead): {said}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(1) from None
    entries = [of_command(e.at, day0, zone, e.command) for e in made]
    if as_json:
        typer.echo(TIMELINE.dump_json(entries, indent=2, exclude_none=True).decode())
        return
    title = f"{book.name} v{book.version}: {days} days, nobody answers; times in {zone}"
    if book.spread:
        later = int(spread.offset(book, state.lead).total_seconds() // 60)
        title += (
            f"; each lead's fixed times and window openings come 0-"
            f"{int(book.spread.total_seconds() // 60) - 1} min later (this one: +{later} min)"
        )
    out.print(table(entries, title, everything=everything))
    out.print(summary(entries), highlight=False, markup=False)


def _start(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC).replace(hour=15, minute=0, second=0, microsecond=0)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not an ISO 8601 time", param_hint="--start"
        ) from None
    if moment.tzinfo is None:
        raise typer.BadParameter(
            "give a time zone offset, e.g. 2026-03-02T09:00-06:00", param_hint="--start"
        )
    if not YEARS[0] <= moment.year <= YEARS[1]:
        raise typer.BadParameter(
            f"{text!r}: choose a time from {YEARS[0]} to {YEARS[1]}", param_hint="--start"
        )
    return moment.astimezone(UTC)


def _lead(book: Playbook, path: Path | None) -> EngineState:
    """The sample lead, with the facts in the lead file (if any) laid over it."""
    if path is None:
        return sample_lead(book)
    try:
        data = read_yaml(path.read_text(encoding="utf-8")) or {}
    except DuplicateKey as exc:
        raise PlaybookError(str(path), [(f"line {exc.line}", str(exc))]) from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PlaybookError(str(path), [("(file)", f"cannot read lead: {exc}")]) from None
    if not isinstance(data, dict):
        raise PlaybookError(str(path), [("(top level)", "expected a mapping of lead facts")])
    zones = [("time_zone", data.get("time_zone"))]
    parties = data.get("parties")
    if isinstance(parties, dict):
        zones += [
            (f"parties.{role}.time_zone", party.get("time_zone"))
            for role, party in parties.items()
            if isinstance(party, dict)
        ]
    for where, zone in zones:
        if zone is not None:
            try:
                check_time_zone(str(zone))
            except ValueError as exc:
                raise PlaybookError(str(path), [(where, str(exc))]) from None
    try:
        return sample_lead(book, **data)
    except ValidationError as exc:
        found = [(".".join(map(str, e["loc"])) or "(top level)", e["msg"]) for e in exc.errors()]
        raise PlaybookError(str(path), found) from None
