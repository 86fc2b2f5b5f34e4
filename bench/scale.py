"""A scale run: many leads on one machine, each on the ISA cadence with its 60 days compressed,
on the dev server (SQLite file), real PostgreSQL and the real SDKs against the fake providers,
with the codec on and every lead kept in the worker's cache.

A day of the cadence passes in DAY seconds and the steps' times of day are dropped, so the
touches of every lead fall due as fast as the machine can take them: the figures are what it
sustains, not what a real day asks of it (see docs/ARCHITECTURE.md, "Sizing", for the
arithmetic from these figures to a cluster). Every step waits a further LEAD_IN first, long
enough for all leads to start before any touch falls due, so the two are measured apart.

Printed: leads started/s (update-with-start from the benchmarks' concurrent callers);
touches/s over a WINDOW of the cadence (calls queued, tasks created and texts and emails
at the provider) and the CPU each part used per touch; the memory of the dev server, of
this process (worker, client and fake providers; what the leads added) and of PostgreSQL;
the size on disk of Temporal's and leadflow's databases per lead; and history per touch on
a sample of leads, projected over a whole 60-day lead.

`python -m bench.scale [LEADS] [WINDOW_SECONDS]` (default 10,000 leads, 180 s).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import time as dt_time
from datetime import timedelta
from pathlib import Path

import psutil  # type: ignore[import-untyped]  # psutil ships no type hints
from sqlalchemy import ColumnElement, Select, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from bench.stack import cpu_seconds, fake_providers, stack
from bench.touches import _gathered, _phones
from leadflow.client import LeadflowClient
from leadflow.engine.preview import written_consents
from leadflow.engine.refs import LeadRef
from leadflow.engine.state import Member, Party
from leadflow.playbook.load import default_playbook
from leadflow.playbook.schema import Campaign, Playbook, Window
from leadflow.providers.serve import running_fake
from leadflow.store.tables import AuditEntry, OutboxMessage
from leadflow.worker import build_send_worker, build_worker
from leadflow.workflows.messages import EnsureLead

DAY = 3.0  # seconds of the run per day of the cadence
LEADS_PER_S_AT_LEAST = 30  # sets the lead-in: the starts' rate on this machine, and then some
CADENCE_DAYS = 60
HISTORY_SAMPLE = 100
ACCOUNT = "scale"


def compressed_isa(day_seconds: float, lead_in: timedelta) -> Playbook:
    """isa with each day of its campaigns lasting `day_seconds` after `lead_in`, no times of
    day, open at any hour and without caps: nothing waits for a calling window."""
    isa = default_playbook("isa")

    def squeezed(campaign: Campaign) -> Campaign:
        steps = [
            step.model_copy(
                update={
                    "after": lead_in
                    + timedelta(seconds=step.after / timedelta(days=1) * day_seconds),
                    "at": None,
                }
            )
            for step in campaign.steps
        ]
        return campaign.model_copy(update={"steps": steps})

    compliance = isa.compliance.model_copy(
        update={
            "quiet_hours": Window(start=dt_time(0), end=dt_time.max),
            "state_quiet_hours": {},
            "frequency_caps": {},
        }
    )
    return isa.model_copy(
        update={
            "name": "isa-compressed",
            "version": int(time.time()) % 1_000_000 + 1,
            "campaigns": {name: squeezed(c) for name, c in isa.campaigns.items()},
            "compliance": compliance,
            "defaults": isa.defaults.model_copy(update={"time_zone": "UTC"}),
        }
    )


def touches_per_lead(book: Playbook) -> int:
    """Touches a lead nobody reaches gets over the cadence: every step of the campaigns a new
    lead starts (what the compressed run's leads receive)."""
    started = {a.campaign for a in book.on_new_lead if a.do == "campaign"}
    return sum(len(book.campaigns[name].steps) for name in started if name)


def _pss_mb(processes: list[psutil.Process]) -> float:
    total = 0
    for process in processes:
        try:
            total += process.memory_full_info().pss
        except psutil.Error:
            continue
    return total / 2**20


def _postgres(started: float) -> list[psutil.Process]:
    return [
        p
        for p in psutil.process_iter(["name", "create_time"])
        if p.info["name"] == "postgres" and p.info["create_time"] >= started - 5
    ]


def _dev_server() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if "temporal" in p.name()]


async def _count(engine: AsyncEngine) -> tuple[int, int]:
    """Touches done: calls queued and tasks created (their audit lines), and messages the
    provider took (a text or email decided but not yet sent is not done)."""
    calls_and_tasks = AuditEntry.reason.like("queued as %") | AuditEntry.reason.like("task: %")
    async with engine.connect() as conn:
        fired = await conn.scalar(_fired(calls_and_tasks))
        sent = await conn.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.account_id == ACCOUNT, OutboxMessage.status == "sent")
        )
    return int(fired or 0), int(sent or 0)


async def _fired_of(engine: AsyncEngine, leads: list[LeadRef]) -> int:
    """Touches the engine fired for `leads` (texts and emails counted when decided)."""
    of_them = AuditEntry.lead_id.in_([lead.lead_id for lead in leads])
    async with engine.connect() as conn:
        return int(await conn.scalar(_fired(of_them)) or 0)


def _fired(*where: ColumnElement[bool]) -> Select[tuple[int]]:
    return (
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.account_id == ACCOUNT, AuditEntry.outcome == "fired", *where)
    )


async def _split_history(
    client: Client, leads: list[LeadRef]
) -> tuple[tuple[int, int], tuple[int, int]]:
    """Events and bytes up to the ensure update's answer (the start), and after it."""
    start_events = start_size = events = size = 0
    for lead in leads:
        history = await client.get_workflow_handle(lead.workflow_id).fetch_history()
        started = True
        for event in history.events:
            if started:
                start_events, start_size = start_events + 1, start_size + event.ByteSize()
            else:
                events, size = events + 1, size + event.ByteSize()
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
                started = False
    return (start_events, start_size), (events, size)


async def main(leads: int = 10_000, window: float = 180.0) -> None:
    with tempfile.TemporaryDirectory() as folder:  # the dev server's SQLite file
        await _run(leads, window, Path(folder) / "temporal.db")


async def _run(count: int, window: float, database: Path) -> None:
    began = time.time()
    phones = _phones(1000)
    lead_in = timedelta(seconds=max(30.0, count / LEADS_PER_S_AT_LEAST))
    book = compressed_isa(DAY, lead_in)
    per_lead = touches_per_lead(book)
    async with stack(db_filename=str(database)) as running, running_fake() as (url, fake):
        fake.hang_seconds = 0
        temporal = running.env.client
        queue = "scale"
        worker = build_worker(temporal, running.engine, queue, max_cached_workflows=count + 100)
        sends = build_send_worker(
            temporal,
            running.engine,
            # One account's 10,000 leads text within minutes here: the default daily limit
            # would hold them, as it should a real account, which sets a limit of its size.
            dataclasses.replace(fake_providers(url, fake), sms_daily_limit=0),
            f"{queue}-sends",
            10_000,
        )
        me = psutil.Process()
        async with worker, sends:
            client = LeadflowClient(temporal, queue, sends_task_queue=f"{queue}-sends")
            print(
                f"scale: {count:,} leads on the isa cadence, a day every {DAY:g} s "
                f"({per_lead} touches each over {CADENCE_DAYS} days), every lead cached; "
                "dev server on a SQLite file, PostgreSQL, the real SDKs, the codec on"
            )
            memory_before = {
                "dev server": _pss_mb(_dev_server()),
                "this process": _pss_mb([me]),
                "PostgreSQL": _pss_mb(_postgres(began)),
            }
            refs = [LeadRef(account_id=ACCOUNT, lead_id=f"S-{i}") for i in range(count)]

            def ensure(i: int, lead: LeadRef) -> Callable[[], Awaitable[object]]:
                party = Party(
                    name="Scale Lead",
                    phone=phones[i % len(phones)],
                    email=f"{lead.lead_id}@example.com",
                    sms_consent=True,
                )
                request = EnsureLead(
                    lead=lead,
                    playbook=book.name,
                    time_zone="UTC",
                    parties={"borrower": party},
                    designations={"isa": Member(id="isa", name="Ivy Isa")},
                    consents=written_consents({"borrower": party}),
                )
                return lambda: client.ensure_lead(request, playbook=book)

            started = time.perf_counter()
            await _gathered([ensure(i, lead) for i, lead in enumerate(refs)])
            start_wall = time.perf_counter() - started
            print(f"leads started/s          {count / start_wall:10.1f}  ({start_wall:.0f} s)")
            if start_wall > lead_in.total_seconds():
                print(f"  (the cadence began {start_wall - lead_in.total_seconds():.0f} s before")
                print("   the last lead started: starts and touches overlapped)")
            await asyncio.sleep(max(0.0, lead_in.total_seconds() - start_wall))

            other_0, sent_0 = await _count(running.engine)
            parts = {"dev server": _dev_server, "this process": lambda: [me]}
            parts["PostgreSQL"] = lambda: _postgres(began)
            cpu_0 = {name: cpu_seconds(found()) for name, found in parts.items()}
            t0 = time.perf_counter()
            await asyncio.sleep(window)
            other_1, sent_1 = await _count(running.engine)
            cpu_1 = {name: cpu_seconds(found()) for name, found in parts.items()}
            elapsed = time.perf_counter() - t0
            done = other_1 - other_0 + sent_1 - sent_0
            print(
                f"touches/s                {done / elapsed:10.1f}  ({done:,} in {elapsed:.0f} s, "
                f"{(sent_1 - sent_0) / elapsed:.1f}/s of them texts and emails at the "
                f"provider; {other_1 + sent_1:,} of {count * per_lead:,} so far)"
            )

            for name in parts:
                used = cpu_1[name] - cpu_0[name]
                print(
                    f"CPU, {name:<19} {used * 1000 / max(done, 1):10.1f} ms a touch  "
                    f"({used / elapsed:.2f} cores)"
                )

            memory_after = {
                "dev server": _pss_mb(_dev_server()),
                "this process": _pss_mb([me]),
                "PostgreSQL": _pss_mb(_postgres(began)),
            }
            for name, after in memory_after.items():
                added = after - memory_before[name]
                print(
                    f"memory, {name:<16} {after:10.0f} MB  (+{added:.0f} MB for the leads, "
                    f"{added * 1024 / count:.1f} KB a lead)"
                )
            async with running.engine.connect() as conn:
                pg_bytes = int(
                    await conn.scalar(text("SELECT pg_database_size(current_database())")) or 0
                )
            temporal_bytes = sum(
                p.stat().st_size
                for p in database.parent.iterdir()
                if p.name.startswith(database.name)
            )
            print(
                f"disk, Temporal (SQLite)  {temporal_bytes / 2**20:10.0f} MB  "
                f"({temporal_bytes / count / 1024:.1f} KB a lead so far)"
            )
            print(
                f"disk, PostgreSQL         {pg_bytes / 2**20:10.0f} MB  "
                f"({pg_bytes / count / 1024:.1f} KB a lead so far)"
            )

            sample = refs[:: max(1, count // HISTORY_SAMPLE)][:HISTORY_SAMPLE]
            (start_events, start_size), (events, size) = await _split_history(temporal, sample)
            touched = max(1, await _fired_of(running.engine, sample))
            print(
                f"history, the start       {start_size / len(sample):10.0f} bytes, "
                f"{start_events / len(sample):.1f} events a lead (to the answered ensure)"
            )
            print(
                f"history / touch          {size / touched:10.0f} bytes, "
                f"{events / touched:.2f} events  ({len(sample)} leads, {touched} touches)"
            )
            whole = (start_size / len(sample) + size / touched * per_lead) / 1024
            print(
                f"history / 60-day lead    {whole:10.1f} KB, "
                f"{start_events / len(sample) + events / touched * per_lead:.0f} events  "
                f"(the start and {per_lead} touches)"
            )
    print(f"cpu count {os.cpu_count()}, run {time.time() - began:.0f} s")


if __name__ == "__main__":
    args = sys.argv[1:3]
    asyncio.run(main(int(args[0]) if args else 10_000, float(args[1]) if len(args) > 1 else 180))
