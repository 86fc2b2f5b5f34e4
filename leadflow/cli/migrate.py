"""`leadflow playbook migrate`: the plan, then (when confirmed) the move."""

from __future__ import annotations

import re

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from leadflow.client import LeadflowClient, LeadflowError
from leadflow.config import Settings
from leadflow.engine.refs import IDENTIFIER
from leadflow.errors import ConfigError
from leadflow.migration import LeadFilter, Outcome, Plan, plan, run

MAX_VERSION = 2**31 - 1  # a version is a PostgreSQL integer


def chosen(statuses: list[str], milestones: list[str], campaigns: list[str]) -> LeadFilter | None:
    """The filter the options name (None: every lead), or a one-line error."""
    if not (statuses or milestones or campaigns):
        return None
    try:
        return LeadFilter(statuses=statuses, milestones=milestones, campaigns=campaigns)
    except ValidationError as exc:
        first = exc.errors()[0]
        option = {"statuses": "--status", "milestones": "--milestone"}.get(
            str(first["loc"][0]), "--campaign"
        )
        raise ConfigError(f"{option}: {first['msg']}") from None


async def migrate(
    settings: Settings,
    account_id: str,
    to_version: int,
    query: LeadFilter | None,
    *,
    dry_run: bool,
    yes: bool,
    as_json: bool,
) -> int:
    """Print the plan; unless it is a dry run, ask (or not, with --yes) and move the leads.
    The exit code: 0 when every lead that should move did (or was listed as refused)."""
    from leadflow.store.db import check_database, create_engine
    from leadflow.temporal import connect, data_converter

    if not re.match(IDENTIFIER, account_id):
        raise ConfigError(f"account id {account_id[:140]!r}: no account has such an id")
    if to_version > MAX_VERSION:
        raise ConfigError(f"--to {to_version}: no playbook has such a version")
    engine = create_engine(settings.database, pool_size=2)
    try:
        await check_database(engine)
        temporal = await connect(
            settings.temporal_address,
            settings.temporal_namespace,
            converter=data_converter(settings.keyring()),
            tls=settings.temporal_tls_config(),
        )
        leads = LeadflowClient(temporal, settings.temporal_task_queue)
        try:
            found = await plan(engine, leads, account_id, to_version, query)
        except LeadflowError as exc:  # no such version, a bad query, a lead not answering
            raise ConfigError(str(exc)) from None
        out = Console(highlight=False)
        if as_json and not (dry_run or yes or not found.leads):
            raise ConfigError("--json moves leads only with --yes; ask for the plan with --dry-run")
        if as_json and (dry_run or not found.leads):
            typer.echo(found.model_dump_json(indent=2))
            return 0
        if not as_json:
            _show_plan(out, found)
        if dry_run or not found.leads:
            return 0
        if not yes and not typer.confirm(f"Move {found.leads} leads to version {to_version}?"):
            return 1
        try:
            outcome = await run(engine, leads, account_id, to_version, query)
        except LeadflowError as exc:
            raise ConfigError(str(exc)) from None
        if as_json:
            typer.echo(outcome.model_dump_json(indent=2))
        else:
            _show_outcome(out, outcome)
        return 1 if outcome.failed else 0
    finally:
        await engine.dispose()


def _show_plan(out: Console, found: Plan) -> None:
    counts = ", ".join(
        f"{n} on version {v}"
        if v != "unknown"
        else f"{n} on a version recorded before rows kept it"
        for v, n in found.versions.items()
    )
    out.print(escape(f"{found.account_id}: playbook {found.playbook}: {counts or 'no leads'}"))
    out.print(f"{found.leads} leads would move to version {found.to_version}")
    for lead in found.sample:
        out.print(f"\nlead {escape(lead.lead_id)} (version {lead.from_version})", style="bold")
        if lead.refused:
            out.print(escape(f"  refused: {lead.refused}"))
            continue
        if lead.stopped:
            out.print(escape(f"  campaigns that stop: {', '.join(lead.stopped)}"))
        if lead.going_on:
            out.print(escape(f"  campaigns that go on from their step: {', '.join(lead.going_on)}"))
        out.print("  next touches before:")
        for line in lead.before or ["(none)"]:
            out.print(escape(f"    {line}"))
        out.print("  after:")
        for line in lead.after or ["(none)"]:
            out.print(escape(f"    {line}"))


def _show_outcome(out: Console, outcome: Outcome) -> None:
    out.print(
        f"moved {outcome.moved} leads to version {outcome.to_version}; "
        f"{outcome.already} already there; {len(outcome.refused)} refused; "
        f"{len(outcome.failed)} not reached"
    )
    for refusal in outcome.refused:
        out.print(escape(f"  refused {refusal.lead_id}: {refusal.reason}"))
    for failure in outcome.failed:
        out.print(escape(f"  not reached {failure.lead_id}: {failure.reason} (run it again)"))
