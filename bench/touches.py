"""Touches side by side with bare Temporal, on one dev server (SQLite file), real PostgreSQL
and the real SDKs against the fake providers, in one run.

- leadflow: LEADS leads whose sms, email, call and task touches all fall due at one instant
  (a campaign's day-0 steps at one local time), with the codec on.
- bare: a workflow per lead that sleeps until the same kind of instant, then runs one no-op
  activity per touch (SDK defaults).
- bare_io: the same timer, then one activity writing the touches' rows to PostgreSQL, then
  each message through the same Twilio/SendGrid SDK call on a separate sends queue.

Printed per variant: touches/s, history events and bytes per touch, CPU ms per touch
(dev server + this process + PostgreSQL), each with its spread over REPEATS runs and its
ratio to the baselines; then a milestone change -> text at the provider against the bare
signal -> activity -> provider path, and against bare_io's, which first writes its rows in
the workflow task (one INSERT, a local activity) as a lead writes its decision, p50 and p99,
their samples taken in turn.

`python -m bench.touches [LEADS] [REPEATS]` (default 200 leads, 2 repeats).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path

import phonenumbers
import psutil  # type: ignore[import-untyped]  # psutil ships no type hints
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from bench.bare import BareIOSignalToText, BareIOTouches, BareSignalToText, BareTouches
from bench.stack import cpu_seconds, fake_providers, stack
from leadflow.client import LeadflowClient
from leadflow.engine.preview import written_consents
from leadflow.engine.refs import LeadRef
from leadflow.engine.state import Member, Party
from leadflow.playbook.load import default_playbook
from leadflow.playbook.schema import Action, Campaign, MilestoneWorkflow, Playbook, Step, Window
from leadflow.providers.clients import ProviderConfig, sendgrid_client, twilio_client
from leadflow.providers.fake import FakeState
from leadflow.providers.serve import running_fake
from leadflow.store.tables import CallQueueEntry, OutboxMessage, Task
from leadflow.worker import build_send_worker, build_worker
from leadflow.workflows.messages import EnsureLead, MilestoneChange

TOUCHES = 4  # per lead: an sms, an email, a queued call, a task
CONCURRENCY = 16  # callers creating leads
LATENCY_SAMPLES = 50


@dataclass
class Figures:
    touches_per_s: list[float] = field(default_factory=list)
    events: list[float] = field(default_factory=list)
    bytes: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)


def _phones(count: int) -> list[str]:
    """Valid fictional-range numbers where no country's calling law reaches (a UK range):
    the benchmarks' touches fall due at whatever hour they run, and the US federal window,
    which no account may widen, would hold a US number's at night."""
    found: list[str] = []
    for n in range(10_000):
        number = f"+44121234{n:04d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(number)):
            found.append(number)
        if len(found) == count:
            return found
    raise ValueError(f"only {len(found)} valid fictional numbers for {count} leads")


def _burst_playbook(at: dt_time, version: int) -> Playbook:
    """isa's texts and team, every touch on day 0 at `at` (UTC), open at any hour."""
    isa = default_playbook("isa")
    steps = [
        Step(after=timedelta(0), at=at, do="sms", template="intro_sms"),
        Step(after=timedelta(0), at=at, do="email", template="intro_email"),
        Step(after=timedelta(0), at=at, do="call"),
        Step(after=timedelta(0), at=at, do="task", subject="Prepare for the call"),
    ]
    compliance = isa.compliance.model_copy(
        update={
            "quiet_hours": Window(start=dt_time(0), end=dt_time.max),
            "state_quiet_hours": {},
            "frequency_caps": {},
        }
    )
    text_on_contact = Action(do="sms", template="intro_sms", share_with=["borrower"])
    return isa.model_copy(
        update={
            "name": "bench-burst",
            "version": version,
            "on_new_lead": [Action(do="campaign", campaign="burst")],
            "campaigns": {"burst": Campaign(steps=steps, stop_on_reply=False)},
            "milestone_actions": {"Contacted": MilestoneWorkflow(actions=[text_on_contact])},
            "compliance": compliance,
            "defaults": isa.defaults.model_copy(update={"time_zone": "UTC"}),
        }
    )


def _cpu_seconds(started: float) -> float:
    """CPU used so far by this process, its children (the dev server) and PostgreSQL."""
    me = psutil.Process()
    processes = [me, *me.children(recursive=True)]
    processes += [
        p
        for p in psutil.process_iter(["name", "create_time"])
        if p.info["name"] == "postgres" and p.info["create_time"] >= started - 5
    ]
    return cpu_seconds(processes)


async def _history(client: Client, workflow_ids: list[str]) -> tuple[int, int]:
    """History events and bytes over the workflows' latest runs."""
    events = size = 0
    for workflow_id in workflow_ids:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        events += len(history.events)
        size += sum(e.ByteSize() for e in history.events)
    return events, size


async def _gathered(calls: list[Callable[[], Awaitable[object]]]) -> None:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(call: Callable[[], Awaitable[object]]) -> None:
        async with gate:
            await call()

    await asyncio.gather(*(one(call) for call in calls))


async def _until(moment: datetime) -> None:
    await asyncio.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))


def _record(
    figures: Figures, touches: int, wall: float, events: int, size: int, cpu: float
) -> None:
    figures.touches_per_s.append(touches / wall)
    figures.events.append(events / touches)
    figures.bytes.append(size / touches)
    figures.cpu_ms.append(cpu * 1000 / touches)


class BareActivities:
    def __init__(self, engine: AsyncEngine, config: ProviderConfig, phones: list[str]) -> None:
        self.engine = engine
        self.config = config
        self.twilio = twilio_client(config)
        self.sendgrid = sendgrid_client(config)
        self.phones = phones

    @activity.defn(name="bare_touch")
    async def touch(self, index: int) -> None:
        return None

    @activity.defn(name="bare_write")
    async def write(self, lead: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO bench_touches (key) VALUES (:a), (:b), (:c), (:d)"),
                {k: f"{lead}:{k}:{uuid.uuid4().hex}" for k in "abcd"},
            )

    @activity.defn(name="bare_send")
    async def send(self, lead: str, channel: str) -> str:
        from sendgrid.helpers.mail import Mail

        index = int(lead.rsplit("-", 1)[1]) % len(self.phones)
        if channel == "email":
            mail = Mail(
                from_email=self.config.sendgrid_from,
                to_emails=f"{lead}@example.com",
                subject="Hello",
                plain_text_content="Thanks for reaching out",
            )
            response = await asyncio.to_thread(self.sendgrid.send, mail)
            return str(response.headers.get("X-Message-Id", ""))
        message = await asyncio.to_thread(
            self.twilio.messages.create,
            to=self.phones[index],
            from_=self.config.twilio_from,
            body="Thanks for reaching out",
        )
        return str(message.sid)


async def _leadflow_burst(
    client: LeadflowClient, engine: AsyncEngine, phones: list[str], run: str
) -> tuple[float, int, int, float, list[LeadRef]]:
    due = (datetime.now(UTC) + timedelta(seconds=75)).replace(second=0, microsecond=0)
    book = _burst_playbook(due.time(), version=int(due.timestamp()) // 60 % 1_000_000 + 1)
    leads = [LeadRef(account_id=run, lead_id=f"L-{i}") for i in range(len(phones))]

    def ensure(lead: LeadRef, phone: str) -> Callable[[], Awaitable[object]]:
        return lambda: client.ensure_lead(
            EnsureLead(
                lead=lead,
                playbook=book.name,
                time_zone="UTC",
                parties={
                    "borrower": Party(
                        name="Bench Lead",
                        phone=phone,
                        email=f"{lead.lead_id}@example.com",
                        sms_consent=True,
                    )
                },
                designations={"isa": Member(id="isa", name="Ivy Isa")},
                consents=written_consents(
                    {"borrower": Party(name="Bench Lead", phone=phone, sms_consent=True)}
                ),
            ),
            playbook=book,
        )

    await _gathered([ensure(lead, phone) for lead, phone in zip(leads, phones, strict=True)])
    await _until(due)
    started, cpu = time.perf_counter(), _cpu_seconds(BENCH_STARTED)
    expected = len(leads)
    while True:
        async with engine.connect() as conn:
            sent = await conn.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.account_id == run, OutboxMessage.status == "sent")
            )
            tasks = await conn.scalar(
                select(func.count()).select_from(Task).where(Task.account_id == run)
            )
            queued = await conn.scalar(
                select(func.count())
                .select_from(CallQueueEntry)
                .where(CallQueueEntry.account_id == run)
            )
        if sent == 2 * expected and tasks == expected and queued == expected:
            break
        await asyncio.sleep(0.02)
    wall = time.perf_counter() - started
    cpu = _cpu_seconds(BENCH_STARTED) - cpu
    events, size = await _history(client.temporal, [lead.workflow_id for lead in leads])
    return wall, events, size, cpu, leads


async def _bare_burst(
    client: Client, queue: str, sends_queue: str, leads: int, io: bool
) -> tuple[float, int, int, float]:
    due = datetime.now(UTC) + timedelta(seconds=20)
    handles: list[WorkflowHandle[object, None]] = []

    async def start(i: int) -> None:
        run_id = f"bare{'io' if io else ''}-{uuid.uuid4().hex[:6]}-{i}"
        if io:
            handle = await client.start_workflow(
                BareIOTouches.run, args=[due, run_id, sends_queue], id=run_id, task_queue=queue
            )
        else:
            handle = await client.start_workflow(
                BareTouches.run, args=[due, TOUCHES], id=run_id, task_queue=queue
            )
        handles.append(handle)  # type: ignore[arg-type]

    await _gathered([lambda i=i: start(i) for i in range(leads)])
    await _until(due)
    started, cpu = time.perf_counter(), _cpu_seconds(BENCH_STARTED)
    await asyncio.gather(*(handle.result() for handle in handles))
    wall = time.perf_counter() - started
    cpu = _cpu_seconds(BENCH_STARTED) - cpu
    events, size = await _history(client, [handle.id for handle in handles])
    return wall, events, size, cpu


async def _texts_to(fake: FakeState, phone: str, known: int) -> None:
    # The fake records what it receives; polling it every millisecond is the cheapest probe.
    while sum(1 for m in fake.messages if m.get("to") == phone) <= known:  # noqa: ASYNC110
        await asyncio.sleep(0.001)


async def _latencies(
    client: LeadflowClient,
    temporal: Client,
    queue: str,
    sends_queue: str,
    fake: FakeState,
    leads: list[LeadRef],
    phones: list[str],
) -> tuple[list[float], list[float], list[float]]:
    """Milestone change -> text at the provider for leadflow, and signal -> text for bare and
    bare_io, sample by sample in turn, so whatever else the machine is doing meanwhile (the
    server catching up after a burst) weighs on all three alike."""
    handles = [
        await temporal.start_workflow(
            workflow.run,
            sends_queue,
            id=f"bare-signal-{name}-{uuid.uuid4().hex[:6]}",
            task_queue=queue,
        )
        for name, workflow in (("plain", BareSignalToText), ("io", BareIOSignalToText))
    ]
    ours: list[float] = []
    theirs: tuple[list[float], list[float]] = ([], [])

    async def timed(phone: str, call: Awaitable[object]) -> float:
        known = sum(1 for m in fake.messages if m.get("to") == phone)
        started = time.perf_counter()
        await call
        await _texts_to(fake, phone, known)
        return time.perf_counter() - started

    samples = list(zip(leads, phones, strict=True))[:LATENCY_SAMPLES]
    for i, (lead, phone) in enumerate(samples):
        change = MilestoneChange(milestone="Contacted", status="Engaged", request_id="contact")
        ours.append(await timed(phone, client.change_milestone(lead, change)))
        for handle, samples_of in zip(handles, theirs, strict=True):
            samples_of.append(await timed(phone, handle.signal(BareSignalToText.text, f"lead-{i}")))
    for handle in handles:
        await handle.signal(BareSignalToText.finish)
        await handle.result()
    return ours, *theirs


def _spread(values: list[float], unit: str, digits: int = 1) -> str:
    mid = statistics.median(values)
    return f"{mid:8.{digits}f} {unit} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


BENCH_STARTED = time.time()


async def main(leads: int = 200, repeats: int = 2) -> None:
    phones = _phones(leads)
    figures = {name: Figures() for name in ("leadflow", "bare", "bare_io")}
    with tempfile.TemporaryDirectory() as folder:  # the dev server's SQLite file
        await _run(leads, repeats, phones, figures, str(Path(folder) / "temporal.db"))


async def _run(
    leads: int, repeats: int, phones: list[str], figures: dict[str, Figures], database: str
) -> None:
    async with stack(db_filename=database) as running, running_fake() as (url, fake):
        fake.hang_seconds = 0
        config = fake_providers(url, fake)
        async with running.engine.begin() as conn:
            await conn.execute(
                text(
                    "CREATE TABLE IF NOT EXISTS bench_touches (key text PRIMARY KEY, "
                    "at timestamptz NOT NULL DEFAULT now())"
                )
            )
        temporal = running.env.client
        queue = f"bench-{uuid.uuid4().hex[:6]}"
        bare = BareActivities(running.engine, config, phones)
        lead_worker = build_worker(temporal, running.engine, queue)
        sends = build_send_worker(temporal, running.engine, config, f"{queue}-sends", 1000)
        bare_worker = Worker(
            temporal,
            task_queue=f"{queue}-bare",
            workflows=[BareTouches, BareIOTouches, BareSignalToText, BareIOSignalToText],
            activities=[bare.touch, bare.write],
        )
        bare_sends = Worker(temporal, task_queue=f"{queue}-bare-sends", activities=[bare.send])
        async with lead_worker, sends, bare_worker, bare_sends:
            client = LeadflowClient(temporal, queue, sends_task_queue=f"{queue}-sends")
            print(
                f"touches side by side: {leads} leads x {TOUCHES} touches falling due at "
                f"once, {repeats} run(s); dev server on a SQLite file, PostgreSQL, the "
                "real SDKs against the fake providers"
            )
            last: list[LeadRef] = []
            for repeat in range(repeats):
                wall, events, size, cpu, last = await _leadflow_burst(
                    client, running.engine, phones, f"burst{repeat}-{uuid.uuid4().hex[:4]}"
                )
                _record(figures["leadflow"], leads * TOUCHES, wall, events, size, cpu)
                for name, io in (("bare", False), ("bare_io", True)):
                    wall, events, size, cpu = await _bare_burst(
                        temporal, f"{queue}-bare", f"{queue}-bare-sends", leads, io
                    )
                    _record(figures[name], leads * TOUCHES, wall, events, size, cpu)
            ours, theirs, theirs_io = await _latencies(
                client, temporal, f"{queue}-bare", f"{queue}-bare-sends", fake, last, phones
            )
    _print(figures, ours, theirs, theirs_io)


def _print(
    figures: dict[str, Figures], ours: list[float], theirs: list[float], theirs_io: list[float]
) -> None:
    rows = [
        ("touches/s", "touches_per_s", "", 1),
        ("history events / touch", "events", "", 2),
        ("history bytes / touch", "bytes", "", 0),
        ("CPU ms / touch", "cpu_ms", "", 1),
    ]
    print(f"{'':<26}{'leadflow':>26}{'bare':>26}{'bare_io':>26}   ratio to bare, bare_io")
    for label, attr, unit, digits in rows:
        values = {name: getattr(f, attr) for name, f in figures.items()}
        mids = {name: statistics.median(v) for name, v in values.items()}
        cells = "".join(f"{_spread(values[n], unit, digits):>26}" for n in values)
        print(
            f"{label:<26}{cells}   {mids['leadflow'] / mids['bare']:.2f}, "
            f"{mids['leadflow'] / mids['bare_io']:.2f}"
        )
    p50, p99 = statistics.median(ours) * 1000, _percentile(ours, 0.99) * 1000
    print(f"milestone change -> text at the provider: p50 {p50:.0f} ms, p99 {p99:.0f} ms")
    for name, samples in (
        ("bare signal -> activity -> provider", theirs),
        ("bare_io signal -> INSERT (local activity) -> activity -> provider", theirs_io),
    ):
        b50, b99 = statistics.median(samples) * 1000, _percentile(samples, 0.99) * 1000
        print(
            f"  {name}: p50 {b50:.0f} ms, p99 {b99:.0f} ms (ratio {p50 / b50:.2f}, {p99 / b99:.2f})"
        )


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    asyncio.run(main(*args))
