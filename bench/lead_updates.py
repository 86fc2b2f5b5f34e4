"""Creating leads and changing their milestones through the real client, dev server, PostgreSQL.

Prints leads/s and the latency of `ensure_lead` (update-with-start) and `change_milestone`.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid

from bench.stack import fake_providers, stack
from leadflow.client import LeadflowClient
from leadflow.engine.refs import LeadRef
from leadflow.paths import shipped
from leadflow.playbook.sources import PlaybookFolder
from leadflow.providers.serve import running_fake
from leadflow.worker import build_send_worker, build_worker
from leadflow.workflows.messages import EnsureLead, MilestoneChange

LEADS = 300
CONCURRENCY = 16


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _timed(calls: list, concurrency: int) -> tuple[float, list[float]]:
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(call) -> None:  # type: ignore[no-untyped-def]
        async with gate:
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(one(call) for call in calls))
    return time.perf_counter() - started, latencies


def _report(name: str, wall: float, latencies: list[float]) -> None:
    print(
        f"{name:<18} {len(latencies) / wall:8.1f}/s   "
        f"p50 {statistics.median(latencies) * 1000:7.1f} ms   "
        f"p99 {_percentile(latencies, 0.99) * 1000:7.1f} ms"
    )


async def main() -> None:
    async with stack() as running, running_fake() as (url, fake):
        queue = f"bench-{uuid.uuid4().hex[:6]}"
        config = fake_providers(url, fake)
        sender = build_send_worker(
            running.env.client, running.engine, config, f"{queue}-sends", 100
        )
        async with build_worker(running.env.client, running.engine, queue), sender:
            leads = LeadflowClient(
                running.env.client, queue, playbooks=PlaybookFolder(shipped("playbooks"))
            )
            refs = [LeadRef(account_id="bench", lead_id=f"L{i}") for i in range(LEADS)]
            print(
                f"lead updates (isa playbook): {LEADS} leads, {CONCURRENCY} callers, "
                "dev server in memory, PostgreSQL"
            )
            wall, latencies = await _timed(
                [lambda r=r: leads.ensure_lead(EnsureLead(lead=r)) for r in refs], CONCURRENCY
            )
            _report("ensure_lead", wall, latencies)
            wall, latencies = await _timed(
                [
                    lambda r=r: leads.change_milestone(
                        r,
                        MilestoneChange(
                            milestone="Contacted", status="Engaged", request_id=uuid.uuid4().hex
                        ),
                    )
                    for r in refs
                ],
                CONCURRENCY,
            )
            _report("change_milestone", wall, latencies)
            wall, latencies = await _timed(
                [
                    lambda r=r: leads.change_milestone(
                        r,
                        MilestoneChange(
                            milestone="Application", status="Engaged", request_id=uuid.uuid4().hex
                        ),
                    )
                    for r in refs[:50]
                ],
                1,
            )
            _report("  one caller", wall, latencies)


if __name__ == "__main__":
    asyncio.run(main())
