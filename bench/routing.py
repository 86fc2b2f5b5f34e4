"""Speed to offer: a new lead created → given or offered to an agent, beside the plain
update-with-start on the same server in the same run.

The worker runs in its own process (`leadflow worker`, as deployed) against the Temporal
dev server (with `leadflow dev`'s tuning), embedded PostgreSQL and the fake providers; an
account of 20 agents. Three phases, each with the same callers:

- plain: leads that come with their designation (no routing), timed from the request to
  the answer of `ensure_lead` (update-with-start: the lead on record);
- round robin: leads that come without it, timed from the request to the moment the
  routing activity committed the assignment (`routing_assignments.decided_at`, the
  database's clock at the insert, on this machine's clock as the caller's);
- first to claim: the same, to the moment the offer to the eligible agents committed.

Prints p50/p99 of each and the ratio of routing's p99 to the plain p99 (target: p99 under
1 s, ratio at most 1.5).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml
from sqlalchemy import select

from bench.stack import stack
from leadflow.client import LeadflowClient
from leadflow.engine.refs import LeadRef
from leadflow.engine.state import Member
from leadflow.paths import shipped
from leadflow.playbook.sources import PlaybookFolder
from leadflow.providers.fake import FakeState
from leadflow.providers.serve import running_fake
from leadflow.store.accounts import ensure_account
from leadflow.store.routing_tables import RoutingAssignment
from leadflow.store.users import save_user
from leadflow.workflows.messages import EnsureLead

ACCOUNT = "bench"
AGENTS = [f"agent-{i:02d}" for i in range(20)]
LEADS = 200
CALLERS = 8
ROUTING = {
    "rules": [
        {"name": "web", "when": {"sources": ["web"]}, "designation": "isa",
         "mode": "first_to_claim", "claim_window": "5m"},
        {"name": "team", "designation": "isa"},
    ]
}  # fmt: skip


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _playbooks(folder: Path) -> None:
    data = yaml.safe_load((shipped("playbooks") / "isa.yaml").read_text())
    data["routing"] = ROUTING
    (folder / "isa.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


def _worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "leadflow", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _env(
    address: str, database_url: str, key: str, url: str, fake: FakeState, folder: Path
) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "DATABASE_URL": database_url,
        "TEMPORAL_ADDRESS": address,
        "TEMPORAL_TASK_QUEUE": "bench",
        "SENDS_TASK_QUEUE": "bench-sends",
        "TWILIO_ACCOUNT_SID": fake.account_sid,
        "TWILIO_AUTH_TOKEN": fake.auth_token,
        "TWILIO_FROM": "+13125550000",
        "TWILIO_BASE_URL": url,
        "SENDGRID_API_KEY": fake.sendgrid_key,
        "SENDGRID_FROM": "team@example.com",
        "SENDGRID_BASE_URL": url,
        "ENCRYPTION_KEYS": key,
        "PLAYBOOKS_DIR": str(folder),
    }


async def _run(
    callers: int, requests: list[EnsureLead], leads: LeadflowClient
) -> dict[str, tuple[float, float]]:
    """Each lead's (wall-clock start, seconds to the ensure's answer)."""
    gate = asyncio.Semaphore(callers)
    timed: dict[str, tuple[float, float]] = {}

    async def one(request: EnsureLead) -> None:
        async with gate:
            began, started = time.time(), time.perf_counter()
            await leads.ensure_lead(request)
            timed[request.lead.lead_id] = (began, time.perf_counter() - started)

    await asyncio.gather(*(one(r) for r in requests))
    return timed


async def _decided(engine: object, lead_ids: list[str]) -> dict[str, tuple[float, float]]:
    """When each lead asked (the workflow's time) and its first routing committed (epoch
    seconds), once all have."""
    query = select(
        RoutingAssignment.lead_id, RoutingAssignment.at, RoutingAssignment.decided_at
    ).where(
        RoutingAssignment.account_id == ACCOUNT,
        RoutingAssignment.lead_id.in_(lead_ids),
        RoutingAssignment.attempt == 1,
    )
    deadline = time.monotonic() + 120
    while True:
        async with engine.connect() as conn:  # type: ignore[attr-defined]
            rows = {
                lead: (asked.timestamp(), at.timestamp())
                for lead, asked, at in await conn.execute(query)
            }
        if len(rows) == len(lead_ids) or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.2)


def _line(name: str, samples: list[float], plain_p99: float | None = None) -> None:
    p50, p99 = statistics.median(samples), _percentile(samples, 0.99)
    ratio = f"   ratio to plain p99 {p99 / plain_p99:5.2f}x" if plain_p99 else ""
    print(f"{name:<34} p50 {p50 * 1000:7.1f} ms   p99 {p99 * 1000:7.1f} ms{ratio}")


async def main(leads_per_phase: int = LEADS) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _playbooks(folder)
        async with stack() as running, running_fake() as (url, fake):
            await ensure_account(running.engine, ACCOUNT, "Bench", "isa")
            for agent in AGENTS:
                await save_user(running.engine, ACCOUNT, agent, agent.title(), None, None, ["isa"])
            env = _env(
                running.temporal_address, running.database_url, running.key, url, fake, folder
            )
            worker = _worker(env)
            try:
                client = LeadflowClient(
                    running.env.client, "bench", playbooks=PlaybookFolder(folder)
                )
                await asyncio.sleep(3)  # the worker's pollers
                print(
                    f"speed to offer: {leads_per_phase} leads a phase, {CALLERS} callers, "
                    f"{len(AGENTS)} agents, worker in its own process, dev server, PostgreSQL"
                )
                run = uuid.uuid4().hex[:6]

                def lead(prefix: str, i: int, **facts: object) -> EnsureLead:
                    ref = LeadRef(account_id=ACCOUNT, lead_id=f"{prefix}-{run}-{i}")
                    return EnsureLead(lead=ref, **facts)  # type: ignore[arg-type]

                warm = [
                    lead("warm", i, designations={"isa": Member(id="agent-00", name="A")})
                    for i in range(20)
                ]
                await _run(CALLERS, warm, client)
                given = {"isa": Member(id="agent-00", name="Agent-00")}
                plain = await _run(
                    CALLERS,
                    [lead("plain", i, designations=given) for i in range(leads_per_phase)],
                    client,
                )
                plain_latency = [seconds for _, seconds in plain.values()]
                _line("plain update-with-start", plain_latency)
                plain_p99 = _percentile(plain_latency, 0.99)
                for name, prefix, facts in (
                    ("first to claim: created -> offered", "ftc", {"source": "web"}),
                    ("round robin: created -> given", "rr", {}),
                ):
                    requests = [
                        lead(prefix, i, designations={}, **facts) for i in range(leads_per_phase)
                    ]
                    timed = await _run(CALLERS, requests, client)
                    decided = await _decided(running.engine, list(timed))
                    missing = len(timed) - len(decided)
                    samples = [
                        decided[k][1] - began for k, (began, _) in timed.items() if k in decided
                    ]
                    _line(name, samples, plain_p99)
                    asking = [
                        decided[k][0] - began for k, (began, _) in timed.items() if k in decided
                    ]
                    routing = [at - asked for asked, at in decided.values()]
                    _line("  update-with-start's answer", [t for _, t in timed.values()])
                    _line("  created -> routing asked", asking)
                    _line("  asked -> decided (activity)", routing)
                    if missing:
                        print(f"  {missing} leads not routed within two minutes")
            finally:
                worker.terminate()
                worker.wait(timeout=30)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else LEADS))
