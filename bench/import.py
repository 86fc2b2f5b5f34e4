"""Bulk import beside bare starts, and what it costs live leads, on one server in one run.

`leadflow import` runs as its users run it (its own process), with the worker in its own
process (`leadflow worker`, as deployed), against the Temporal dev server (with `leadflow
dev`'s tuning), embedded PostgreSQL and the fake providers. Three phases:

- bare: `BareLead` workflows started by 8 callers, their worker in this process: the
  server's start rate on this machine (the baseline);
- quiet: live leads created one after another, each timed from the request to its first
  text at the provider, with nothing else running;
- import: a CSV file of `--leads` leads imported as fast as the importer starts them
  (`--per-second 200`), while the same live leads' first touches are timed again.

Prints the import's starts/s beside the bare rate (target at least 0.8x) and the live
leads' first-touch p50/p99 during the import beside the quiet ones (target p99 at most
1.5x). `python -m bench.import [LEADS]`, 100,000 by default.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import time as dt_time
from pathlib import Path

import yaml
from temporalio.client import Client
from temporalio.worker import Worker

from bench.bare import BareLead
from bench.stack import stack
from bench.touches import _phones
from leadflow.client import LeadflowClient
from leadflow.engine.preview import written_consents
from leadflow.engine.refs import LeadRef
from leadflow.engine.state import Member, Party
from leadflow.playbook.load import default_playbook
from leadflow.playbook.schema import Window
from leadflow.playbook.sources import PlaybookFolder
from leadflow.providers.fake import FakeState
from leadflow.providers.serve import running_fake
from leadflow.store.accounts import ensure_account
from leadflow.workflows.messages import EnsureLead

LEADS = 100_000
BARE = 2_000
LIVE = 30
CALLERS = 8
ACCOUNT = "bench"
PLAYBOOK = "bench-import"


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _playbook(folder: Path) -> None:
    """isa, open at any hour (the bench runs at whatever hour), its leads in UTC."""
    isa = default_playbook("isa")
    compliance = isa.compliance.model_copy(
        update={"quiet_hours": Window(start=dt_time(0), end=dt_time.max),
                "state_quiet_hours": {}, "frequency_caps": {}}
    )  # fmt: skip
    book = isa.model_copy(
        update={"name": PLAYBOOK, "compliance": compliance,
                "defaults": isa.defaults.model_copy(update={"time_zone": "UTC"})}
    )  # fmt: skip
    (folder / f"{PLAYBOOK}.yaml").write_text(yaml.safe_dump(book.model_dump(mode="json")))


def _env(
    address: str, database_url: str, key: str, url: str, fake: FakeState, folder: Path
) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"], "DATABASE_URL": database_url, "TEMPORAL_ADDRESS": address,
        "TEMPORAL_TASK_QUEUE": "bench", "SENDS_TASK_QUEUE": "bench-sends",
        "TWILIO_ACCOUNT_SID": fake.account_sid, "TWILIO_AUTH_TOKEN": fake.auth_token,
        "TWILIO_FROM": "+13125550000", "TWILIO_BASE_URL": url,
        "SENDGRID_API_KEY": fake.sendgrid_key, "SENDGRID_FROM": "team@example.com",
        "SENDGRID_BASE_URL": url, "ENCRYPTION_KEYS": key, "PLAYBOOKS_DIR": str(folder),
        "SMS_COUNTRIES": '["US", "CA", "GB"]',
    }  # fmt: skip


async def _bare_rate(temporal: Client, n: int) -> float:
    """Starts a second of bare workflows, `CALLERS` at a time, their worker running."""
    run = uuid.uuid4().hex[:6]
    gate = asyncio.Semaphore(CALLERS)

    async def start(i: int) -> None:
        async with gate:
            await temporal.start_workflow(
                BareLead.run, f"bare-{i}", id=f"bare-{run}-{i}", task_queue="bench-bare"
            )

    async with Worker(temporal, task_queue="bench-bare", workflows=[BareLead]):
        began = time.perf_counter()
        await asyncio.gather(*(start(i) for i in range(n)))
        return n / (time.perf_counter() - began)


async def _first_touches(leads: LeadflowClient, fake: FakeState, phones: list[str]) -> list[float]:
    """Each new lead's seconds from the request to its first text at the provider."""
    found = []
    for phone in phones:
        lead = LeadRef(account_id=ACCOUNT, lead_id=f"live-{uuid.uuid4().hex[:10]}")
        party = Party(name="Live Lead", phone=phone, sms_consent=True)
        request = EnsureLead(
            lead=lead, playbook=PLAYBOOK, first_name="Live", parties={"borrower": party},
            designations={"isa": Member(id="isa", name="Ivy Isa")},
            consents=written_consents({"borrower": party}),
        )  # fmt: skip
        known = sum(1 for m in fake.messages if m.get("to") == phone)
        began = time.perf_counter()
        await leads.ensure_lead(request)
        while sum(1 for m in fake.messages if m.get("to") == phone) <= known:  # noqa: ASYNC110
            await asyncio.sleep(0.002)
        found.append(time.perf_counter() - began)
    return found


def _line(name: str, samples: list[float], quiet_p99: float | None = None) -> None:
    p50, p99 = statistics.median(samples), _percentile(samples, 0.99)
    ratio = f"   {p99 / quiet_p99:5.2f}x quiet p99 (target <= 1.5x)" if quiet_p99 else ""
    print(f"{name:<36} p50 {p50 * 1000:7.1f} ms   p99 {p99 * 1000:7.1f} ms{ratio}", flush=True)


async def main(count: int = LEADS) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _playbook(folder)
        file = folder / "book.csv"
        lines = [f"Lead{n},Example,lead{n}@example.com" for n in range(count)]
        file.write_text("First Name,Last Name,Email\n" + "\n".join(lines) + "\n")
        async with stack() as running, running_fake() as (url, fake):
            await ensure_account(running.engine, ACCOUNT, "Bench Mortgage", PLAYBOOK)
            env = _env(
                running.temporal_address, running.database_url, running.key, url, fake, folder
            )
            worker = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "leadflow", "worker", env=env,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            try:
                leads = LeadflowClient(
                    running.env.client, "bench", playbooks=PlaybookFolder(folder)
                )
                await asyncio.sleep(3)  # the worker's pollers
                phones = _phones(LIVE * 3)
                print(f"import: {count:,} leads from a CSV; {LIVE} live leads timed in each "
                      "phase; worker and importer in their own processes", flush=True)  # fmt: skip
                await _first_touches(leads, fake, phones[:5])  # warm
                bare = await _bare_rate(running.env.client, BARE)
                print(f"bare starts                          {bare:8.1f} /s", flush=True)
                quiet = await _first_touches(leads, fake, phones[5 : 5 + LIVE])
                _line("first touch, quiet", quiet)
                importer = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "leadflow", "import", str(file), "--account", ACCOUNT,
                    "--per-second", "200", env=env,
                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
                )  # fmt: skip
                began = time.perf_counter()
                await asyncio.sleep(5)  # the importer well under way
                during = await _first_touches(leads, fake, phones[5 + LIVE : 5 + 2 * LIVE])
                _, err = await importer.communicate()
                took = time.perf_counter() - began
                if importer.returncode != 0:
                    print(f"the import failed ({importer.returncode}): {err.decode()[-2000:]}")
                rate = count / took
                _line("first touch, during the import", during, _percentile(quiet, 0.99))
                print(f"import starts                        {rate:8.1f} /s   "
                      f"{rate / bare:5.2f}x bare (target >= 0.8x); {count:,} in {took:.0f} s",
                      flush=True)  # fmt: skip
            finally:
                worker.kill()
                await worker.wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else LEADS))
