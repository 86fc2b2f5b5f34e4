"""The do-not-call lists: importing a registry's download, and finding a number on them.

An import reads its lines as they come (a file, an HTTP body), gathers them into block
bitmaps a batch at a time and COPYs each batch into a temporary staging table on its own
connection. A block met again in a later batch (a file not sorted by number) is merged
before the swap. The swap is one transaction: the list's row takes its new `as_of`, its old
blocks go and the staged ones come in, so a reader sees the old list or the new one, never
half; a second import of the same list waits on the row. A file with no valid number
changes nothing.

A list is stale once its `as_of` is more than 31 days old: the FTC's rule (16 CFR
310.4(b)(3)(iv)) has sellers scrub against a download no older than that.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from leadflow.store.dnc_numbers import LINES, WHAT, Block, Reader, bitmap, encode, nanp

STALE_AFTER_DAYS = 31
BATCH_BLOCKS = 16_384  # blocks held before they go to staging: about 20 MB
_STATES = """AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE
NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR GU VI AS MP"""
US_STATES = frozenset(_STATES.split())  # and the territories the registry covers
NAMES = "national (the US registry), state:XX (a US state's list, e.g. state:FL), ca:national"
_NAME = re.compile(r"national|ca:national|state:([A-Z]{2})")


class DncInputError(ValueError):
    """What was sent cannot be a list: the message says what and what to send instead."""


@dataclass(frozen=True, slots=True)
class Imported:
    name: str
    as_of: date
    numbers: int  # distinct numbers now on the list
    lines: int  # lines read
    invalid: int  # lines that held no NANP number, skipped
    examples: list[str]  # the first few of them, quoted


@dataclass(frozen=True, slots=True)
class Listing:
    """A list a number is on."""

    name: str
    as_of: date
    age_days: int
    stale: bool  # older than the law lets a caller rely on


@dataclass(frozen=True, slots=True)
class ListSummary:
    name: str
    as_of: date
    imported_at: datetime
    numbers: int
    source: str
    age_days: int
    stale: bool


def check_name(name: str) -> str:
    """`name` if it names a list leadflow knows, else a DncInputError listing them."""
    found = _NAME.fullmatch(name)
    if found is None or (found[1] is not None and found[1] not in US_STATES):
        raise DncInputError(f"unknown list {name[:60]!r}: use {NAMES}")
    return name


def check_as_of(as_of: date, today: date) -> date:
    """A download cannot be current as of a day still to come."""
    if as_of > today:
        raise DncInputError(f"as-of date {as_of} is after today ({today}): give the download's")
    return as_of


def _age(as_of: date, now: datetime) -> tuple[int, bool]:
    days = (now.astimezone(UTC).date() - as_of).days
    return days, days > STALE_AFTER_DAYS


Lines = Iterable[str | bytes | int] | AsyncIterable[str | bytes | int]
_BATCH_LINES = 65_536


async def _batches(numbers: Lines) -> Any:
    """The lines in lists, whether they come from an iterable or an async one."""
    if isinstance(numbers, AsyncIterable):
        batch: list[str | bytes | int] = []
        async for line in numbers:
            batch.append(line)
            if len(batch) >= _BATCH_LINES:
                yield batch
                batch = []
        if batch:
            yield batch
        return
    batch = []
    for line in numbers:
        batch.append(line)
        if len(batch) >= _BATCH_LINES:
            yield batch
            batch = []
    if batch:
        yield batch


_STAGING = "CREATE TEMP TABLE dnc_staging (block integer, bits bytea, lines smallint[])"
_COLUMNS = ("block", "bits", "lines")
_SWAP = (
    "INSERT INTO dnc_lists (name, as_of, numbers, source) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (name) DO UPDATE SET as_of = excluded.as_of, numbers = excluded.numbers, "
    "source = excluded.source, imported_at = now() RETURNING id"
)


async def import_list(
    engine: AsyncEngine,
    name: str,
    as_of: date,
    numbers: Lines,
    progress: Callable[[int], None] | None = None,
    *,
    source: str = "",
) -> Imported:
    """Replace list `name` with the NANP numbers in `numbers` (lines of a registry's file:
    ten digits, `+1` and ten, or `area code,number`; ints too), current as of `as_of`.

    `progress` hears the count of lines read after each batch. Raises DncInputError for an
    unknown list or a file without one valid number (the list stays as it was)."""
    check_name(name)
    reader = Reader()
    staged: set[int] = set()
    again: set[int] = set()
    total = 0
    async with engine.connect() as conn:
        pg: Any = (await conn.get_raw_connection()).driver_connection
        await pg.execute("DROP TABLE IF EXISTS dnc_staging")
        await pg.execute(_STAGING)
        try:

            async def stage() -> None:
                nonlocal total
                blocks = [encode(block, bits) for block, bits in reader.take().items()]
                again.update(b.block for b in blocks if b.block in staged)
                staged.update(b.block for b in blocks)
                total += sum(b.count for b in blocks)
                rows = [(b.block, b.bits, b.lines) for b in blocks]
                await pg.copy_records_to_table("dnc_staging", records=rows, columns=_COLUMNS)

            async for batch in _batches(numbers):
                reader.read(batch)
                if progress is not None:
                    progress(reader.lines)
                if len(reader.blocks) >= BATCH_BLOCKS:
                    await stage()
                await asyncio.sleep(0)  # a long file shares the event loop
            if reader.blocks:
                await stage()
            if not total:
                said = f" ({reader.examples[0]})" if reader.examples else ""
                raise DncInputError(
                    f"no valid numbers in {reader.lines} lines{said}: each line holds {WHAT}; "
                    f"list {name!r} is unchanged"
                )
            if again:
                total += await _merge(pg, sorted(again))
            async with pg.transaction():
                list_id = await pg.fetchval(_SWAP, name, as_of, total, source[:300])
                await pg.execute("DELETE FROM dnc_blocks WHERE list_id = $1", list_id)
                await pg.execute(
                    "INSERT INTO dnc_blocks (list_id, block, bits, lines) "
                    "SELECT $1, block, bits, lines FROM dnc_staging",
                    list_id,
                )
        finally:
            await pg.execute("DROP TABLE IF EXISTS dnc_staging")
    return Imported(name, as_of, total, reader.lines, reader.invalid, reader.examples)


async def _merge(pg: Any, blocks: list[int]) -> int:
    """Fold the staged rows of blocks staged more than once into one each; returns the
    change in the count of numbers (a number in two parts counted once)."""
    rows = await pg.fetch(
        "SELECT block, bits, lines FROM dnc_staging WHERE block = ANY($1::integer[])", blocks
    )
    merged: dict[int, bytearray] = {}
    counted = 0
    for row in rows:
        part = Block(row["block"], row["bits"], row["lines"], 0)
        bits = bitmap(part)
        counted += int.from_bytes(bits, "little").bit_count()
        into = merged.setdefault(part.block, bytearray(len(bits)))
        into[:] = (int.from_bytes(into, "little") | int.from_bytes(bits, "little")).to_bytes(
            len(bits), "little"
        )
    folded = [encode(block, bits) for block, bits in merged.items()]
    async with pg.transaction():
        await pg.execute("DELETE FROM dnc_staging WHERE block = ANY($1::integer[])", blocks)
        await pg.copy_records_to_table(
            "dnc_staging", records=[(b.block, b.bits, b.lines) for b in folded], columns=_COLUMNS
        )
    return sum(b.count for b in folded) - counted


LISTED_SQL = (
    "SELECT l.name, l.as_of FROM dnc_blocks b JOIN dnc_lists l ON l.id = b.list_id "
    "WHERE b.block = $1 AND CASE WHEN b.bits IS NULL THEN $2::integer = ANY (b.lines) "
    "ELSE get_bit(b.bits, $2::integer) = 1 END ORDER BY l.name"
)


async def listed(conn: AsyncConnection, number: str | int, now: datetime) -> list[Listing]:
    """Every list `number` is on (one index probe), each with its age at `now`. A number
    outside the NANP (+1) is on none: the lists are of the US's and Canada's numbers."""
    found = nanp(number)
    if found is None:
        return []
    block, line = divmod(found, LINES)
    result = await conn.exec_driver_sql(LISTED_SQL, (block, line))
    return [Listing(name, as_of, *_age(as_of, now)) for name, as_of in result.all()]


async def lists(engine: AsyncEngine, now: datetime | None = None) -> list[ListSummary]:
    """Every list with its age at `now` (default: the current time), by name."""
    at = now or datetime.now(UTC)
    async with engine.connect() as conn:
        result = await conn.exec_driver_sql(
            "SELECT name, as_of, imported_at, numbers, source FROM dnc_lists ORDER BY name"
        )
        rows = result.all()
    return [
        ListSummary(name, as_of, imported_at, numbers, source, *_age(as_of, at))
        for name, as_of, imported_at, numbers, source in rows
    ]
