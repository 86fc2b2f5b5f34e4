"""`leadflow playbook check|preview`: for playbook authors, before a change rolls out."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

import leadflow.engine.localtime as localtime
from leadflow.engine.describe import words
from leadflow.engine.preview import Entry, sample_lead, timeline
from leadflow.engine.state import EngineState
from leadflow.playbook.load import PlaybookError, load_playbook
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
                err.print(f"{exc.source}: {path}: {message}", highlight=False, soft_wrap=True)
            continue
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
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table")] = False,
) -> None:
    """The touches, tasks and queue entries a lead receives if nobody answers."""
    try:
        book = load_playbook(file)
        state = _lead(book, lead)
    except PlaybookError as exc:
        err.print(str(exc), highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    began = _start(start)
    entries = [e for e in timeline(book, state, began, days) if e.command.kind != "set_status"]
    rows = [_row(state.time_zone, began, entry) for entry in entries]
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    table = Table(title=f"{book.name} v{book.version}: {days} days, nobody answers")
    for column in ("day", "local time", "what", "to / label", "detail"):
        table.add_column(column, overflow="fold")
    for row in rows:
        if row["what"] == "audit" and row["outcome"] in ("fired", "note"):
            continue
        table.add_row(str(row["day"]), row["local_time"], row["what"], row["target"], row["detail"])
    out.print(table)


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
    return moment.astimezone(UTC)


def _lead(book: Playbook, path: Path | None) -> EngineState:
    """The sample lead, with the facts in the lead file (if any) laid over it."""
    if path is None:
        return sample_lead(book)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise PlaybookError(str(path), [("(file)", f"cannot read lead: {exc}")]) from None
    if not isinstance(data, dict):
        raise PlaybookError(str(path), [("(top level)", "expected a mapping of lead facts")])
    try:
        return sample_lead(book, **data)
    except ValidationError as exc:
        found = [(".".join(map(str, e["loc"])) or "(top level)", e["msg"]) for e in exc.errors()]
        raise PlaybookError(str(path), found) from None


def _row(zone: str, began: datetime, entry: Entry) -> dict[str, Any]:
    c = entry.command
    at = getattr(c, "available_at", None) or getattr(c, "due_at", None) or entry.at
    day = (localtime.local_date(at, zone) - localtime.local_date(began, zone)).days
    said = words(c, zone)
    row: dict[str, Any] = {
        "day": day,
        "at": at.isoformat(),
        "local_time": localtime.describe(at, zone),
        "what": c.kind,
        "target": said.target,
        "detail": said.detail,
    }
    if c.kind == "audit":
        row["outcome"] = c.outcome
    return row
