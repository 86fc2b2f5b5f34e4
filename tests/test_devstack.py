"""`leadflow dev` brings the whole stack up, stops cleanly, and resumes with the same data."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from leadflow.devstack import DEV_KEY
from leadflow.paths import binary

START_TIMEOUT = 120
KEY = {"Authorization": f"Bearer {DEV_KEY}"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Stack:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.api, self.temporal, self.ui = _free_port(), _free_port(), _free_port()
        self.providers = _free_port()
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        banners = self.log().count("leadflow dev is up")
        log = open(self.data_dir.parent / "dev.log", "a")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "leadflow", "dev", "--data-dir", str(self.data_dir)),
                *("--api-port", str(self.api), "--temporal-port", str(self.temporal)),
                *("--ui-port", str(self.ui), "--providers-port", str(self.providers)),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            env={**os.environ, "COLUMNS": "120"},
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

    def sent_to(self) -> list[str]:
        url = f"http://127.0.0.1:{self.providers}/_control/requests"
        for _ in range(100):
            sent = [m["to"] for m in httpx.get(url, timeout=5).json()["messages"]]
            if sent:
                return sent
            time.sleep(0.1)
        return []

    def callbacks(self) -> list[tuple[str, int]]:
        url = f"http://127.0.0.1:{self.providers}/_control/requests"
        for _ in range(100):
            seen = httpx.get(url, timeout=5).json()["callbacks"]
            if len(seen) >= 2:
                return [(c["status"], c.get("answer", 0)) for c in seen]
            time.sleep(0.1)
        return []

    def opted_out(self) -> bool:
        url = f"http://127.0.0.1:{self.api}/v1/leads/lead-1"
        for _ in range(100):
            audit = httpx.get(url, headers=KEY, timeout=30).json()["audit"]
            if any(a["reason"].startswith("opted out of sms") for a in audit):
                return True
            time.sleep(0.1)
        return False

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
def stack(tmp_path: Path) -> Iterator[Stack]:
    stack = Stack(tmp_path / "data")
    yield stack
    if stack.process is not None and stack.process.poll() is None:
        os.killpg(stack.process.pid, signal.SIGKILL)


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_dev_runs_the_stack_and_resumes_with_the_same_data(stack: Stack) -> None:
    stack.start()
    health = httpx.get(f"http://127.0.0.1:{stack.api}/health", timeout=5)
    assert health.status_code == 200
    assert health.json()["temporal"] == health.json()["database"] == "up"
    assert httpx.get(f"http://127.0.0.1:{stack.ui}", timeout=5).status_code == 200
    first = stack.workflows()
    assert [w["execution"]["workflowId"] for w in first] == ["lead:demo:lead-1"]  # type: ignore[index]
    changed = httpx.post(
        f"http://127.0.0.1:{stack.api}/v1/leads/lead-1/milestone",
        headers=KEY,
        json={"milestone": "Contacted", "status": "Engaged", "request_id": "before-restart"},
        timeout=30,
    )
    assert changed.status_code == 200

    # The demo lead's intro text went through the real Twilio SDK to the fake provider,
    # whose signed status callbacks came back to the API...
    assert stack.sent_to() == ["+13125550142"]
    assert stack.callbacks() == [("sent", 204), ("delivered", 204)]
    # ...and a signed inbound STOP from the lead's phone opts it out.
    stop = httpx.post(
        f"http://127.0.0.1:{stack.providers}/_control/inbound",
        timeout=30,
        json={
            "url": f"http://127.0.0.1:{stack.api}/webhooks/twilio/demo/sms",
            "from": "+13125550142",
            "body": "STOP",
        },
    )
    assert stop.json()["status"] == 200
    assert stack.opted_out()
    assert stack.stop() == 0
    for port in (stack.api, stack.temporal, stack.ui, stack.providers):
        assert not _port_open(port), f"port {port} still open after stop"

    stack.start()
    again = stack.workflows()
    assert again[0]["execution"] == first[0]["execution"]  # same workflow, same run
    lead = httpx.get(f"http://127.0.0.1:{stack.api}/v1/leads/lead-1", headers=KEY, timeout=30)
    snapshot = lead.json()["snapshot"]
    assert (snapshot["milestone"], snapshot["status"]) == ("Contacted", "Engaged")
    assert stack.stop() == 0
