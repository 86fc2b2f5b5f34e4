"""The do-not-call lists on PostgreSQL: imported, found, replaced at once for every reader,
stale after 31 days; from the command line and over HTTP for the operator alone."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from click.testing import Result
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from leadflow.api.app import create_app
from leadflow.cli.main import app as cli
from leadflow.client import LeadflowClient
from leadflow.store import dnc
from leadflow.store.accounts import ensure_account, new_api_key
from leadflow.store.dnc import DncInputError, import_list, listed, lists
from tests.factories import PLAYBOOKS, api_settings
from tests.integration.test_api import Served

AS_OF = date(2026, 11, 2)
SOON = datetime(2026, 11, 12, 15, 0, tzinfo=UTC)  # ten days after AS_OF
OPS_TOKEN = "ops-" + uuid.uuid4().hex


async def _on(engine: AsyncEngine, number: str | int, now: datetime = SOON) -> list[str]:
    async with engine.connect() as conn:
        return [found.name for found in await listed(conn, number, now)]


async def test_a_number_is_found_on_every_list_it_is_on_and_on_no_other(db: AsyncEngine) -> None:
    national = ["2015550123", "+13125550111", "305,5550199", "3055550100"]
    await import_list(db, "national", AS_OF, national)
    await import_list(db, "state:FL", AS_OF, ["3055550199", "3055550100"])
    await import_list(db, "ca:national", AS_OF, ["4165550100"])
    assert await _on(db, "+13055550199") == ["national", "state:FL"]
    assert await _on(db, 3125550111) == ["national"]
    assert await _on(db, "+14165550100") == ["ca:national"]
    assert await _on(db, "+12015550124") == []  # the next line in a listed block
    assert await _on(db, "+16175550123") == []  # a block no list holds
    assert await _on(db, "+442012345678") == []  # not a NANP number: on no list
    async with db.connect() as conn:
        [found] = await listed(conn, "+14165550100", SOON)
    assert (found.as_of, found.age_days, found.stale) == (AS_OF, 10, False)


async def test_dense_blocks_are_bitmaps_and_sparse_ones_lines_and_both_are_found(
    db: AsyncEngine,
) -> None:
    evens = [2015550000 + line for line in range(0, 10_000, 2)]
    result = await import_list(db, "national", AS_OF, [*evens, 3125550042])
    assert result.numbers == 5001
    assert await _on(db, 2015559998) == ["national"] and await _on(db, 2015559999) == []
    assert await _on(db, 3125550042) == ["national"] and await _on(db, 3125550043) == []
    async with db.connect() as conn:
        forms = await conn.execute(
            text("SELECT block, length(bits), cardinality(lines) FROM dnc_blocks ORDER BY block")
        )
        assert forms.all() == [(201555, 1250, None), (312555, None, 1)]


async def test_an_unsorted_file_larger_than_a_batch_counts_each_number_once(
    db: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dnc, "BATCH_BLOCKS", 3)
    monkeypatch.setattr(dnc, "_BATCH_LINES", 4)
    blocks = [201555, 312555, 305555, 617555, 416555]
    numbers = [block * 10_000 + line for line in (1, 2, 3, 1) for block in blocks]  # repeats
    result = await import_list(db, "national", AS_OF, [str(n) for n in numbers])
    assert (result.numbers, result.lines, result.invalid) == (15, 20, 0)
    for block in blocks:
        assert await _on(db, block * 10_000 + 3) == ["national"]
        assert await _on(db, block * 10_000 + 4) == []
    async with db.connect() as conn:
        rows = await conn.execute(text("SELECT count(*), count(DISTINCT block) FROM dnc_blocks"))
        assert rows.one() == (5, 5)


async def test_a_reimport_replaces_the_list_at_once_for_readers_and_records_its_as_of(
    db: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Readers poll the list's blocks while a new download streams in slowly, in batches
    staged one by one: each sees the whole old list or the whole new one."""
    monkeypatch.setattr(dnc, "BATCH_BLOCKS", 2)
    old, new = {201555, 312555, 305555}, {617555, 416555, 214555, 702555}
    await import_list(db, "national", AS_OF, [b * 10_000 + 7 for b in old])
    await import_list(db, "state:TX", AS_OF, ["2145550001"])
    seen: list[frozenset[int]] = []
    reading = True

    async def reader() -> None:
        while reading:
            async with db.connect() as conn:
                found = await conn.execute(
                    text(
                        "SELECT array_agg(block) FROM dnc_blocks b JOIN dnc_lists l "
                        "ON l.id = b.list_id WHERE l.name = 'national'"
                    )
                )
                seen.append(frozenset(found.scalar_one()))
            await asyncio.sleep(0)

    async def slowly() -> AsyncIterator[str]:
        for block in sorted(new):
            for line in range(600):
                yield str(block * 10_000 + line)
            await asyncio.sleep(0.02)

    polling = asyncio.create_task(reader())
    result = await import_list(db, "national", AS_OF + timedelta(days=30), slowly())
    reading = False
    await polling
    assert result.numbers == 2400
    assert set(seen) == {frozenset(old), frozenset(new)}, set(seen)
    assert seen[0] == frozenset(old) and seen[-1] == frozenset(new)
    summaries = {s.name: s for s in await lists(db, SOON)}
    assert summaries["national"].as_of == AS_OF + timedelta(days=30)
    assert summaries["national"].numbers == 2400
    assert summaries["state:TX"].numbers == 1  # the other lists untouched


async def test_a_file_without_one_valid_number_changes_nothing(db: AsyncEngine) -> None:
    await import_list(db, "national", AS_OF, ["2015550123"])
    with pytest.raises(DncInputError, match=r"no valid numbers in 2 lines.*'hello'"):
        await import_list(db, "national", AS_OF + timedelta(days=1), ["hello", "12"])
    with pytest.raises(DncInputError, match="unknown list 'state:ZZ'"):
        await import_list(db, "state:ZZ", AS_OF, ["2015550123"])
    [summary] = await lists(db, SOON)
    assert (summary.as_of, summary.numbers) == (AS_OF, 1)
    assert await _on(db, 2015550123) == ["national"]


async def test_invalid_lines_are_skipped_and_counted_and_the_first_quoted(db: AsyncEngine) -> None:
    lines = ["2015550123", "Area Code,Phone", "", "+442071234567", "0015550123", "312,5550111"]
    result = await import_list(db, "national", AS_OF, lines)
    assert (result.numbers, result.lines, result.invalid) == (2, 6, 3)
    assert result.examples[0].startswith("line 2: 'Area Code,Phone' is not a NANP phone number")
    assert [e.split(":")[0] for e in result.examples] == ["line 2", "line 4", "line 5"]


async def test_a_list_goes_stale_when_its_download_is_more_than_31_days_old(
    db: AsyncEngine,
) -> None:
    await import_list(db, "state:FL", date(2026, 10, 1), ["3055550199"])
    day_31 = datetime(2026, 11, 1, 23, 59, tzinfo=UTC)
    day_32 = datetime(2026, 11, 2, 0, 1, tzinfo=UTC)
    async with db.connect() as conn:
        [fresh] = await listed(conn, "+13055550199", day_31)
        [stale] = await listed(conn, "+13055550199", day_32)
    assert (fresh.age_days, fresh.stale) == (31, False)
    assert (stale.age_days, stale.stale) == (32, True)
    [summary] = await lists(db, day_32)
    assert summary.stale and summary.age_days == 32


# ---- the command line --------------------------------------------------------------------


def _leadflow(database_url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"DATABASE_URL": database_url, "COLUMNS": "200"})


@pytest.fixture
def registry_file(tmp_path: Path) -> Iterator[Path]:
    file = tmp_path / "2026-11-02_FL.txt"
    file.write_text("305,5550199\n305,5550100\nAreaCode,Phone\n")
    yield file


def test_the_command_imports_a_file_and_lists_the_lists_with_their_age(
    database_url: str, db: AsyncEngine, registry_file: Path
) -> None:
    done = _leadflow(
        database_url, "dnc", "import", str(registry_file), "--list", "state:FL", "--as-of",
        str(AS_OF),
    )  # fmt: skip
    assert done.exit_code == 0, done.stderr
    assert done.stdout.strip() == (
        "state:FL: 2 numbers as of 2026-11-02 (3 lines, 1 invalid lines skipped)"
    )
    assert "line 3: 'AreaCode,Phone' is not a NANP phone number" in done.stderr
    shown = _leadflow(database_url, "dnc", "lists")
    assert shown.exit_code == 0, shown.stderr
    [row] = [line for line in shown.stdout.splitlines() if "state:FL" in line]
    assert "2026-11-02" in row and "2026-11-02_FL.txt" in row and " 2 " in row


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["missing.txt", "--list", "national", "--as-of", "2026-11-02"], "missing.txt: no such"),
        (["FILE", "--list", "national", "--as-of", "2026-13-01"], "--as-of '2026-13-01': a date"),
        (["FILE", "--list", "national", "--as-of", "2999-01-01"], "is after today"),
        (["FILE", "--list", "state:XX", "--as-of", "2026-11-02"], "unknown list 'state:XX'"),
        (["EMPTY", "--list", "national", "--as-of", "2026-11-02"], "no valid numbers in 1 lines"),
    ],
)
def test_each_mistake_at_the_command_line_is_one_line_without_a_traceback(
    database_url: str, db: AsyncEngine, registry_file: Path, args: list[str], says: str
) -> None:
    empty = registry_file.parent / "empty.txt"
    empty.write_text("not a number\n")
    named = {"FILE": str(registry_file), "EMPTY": str(empty)}
    result = _leadflow(database_url, "dnc", "import", *[named.get(a, a) for a in args])
    assert result.exit_code == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert says in result.stderr, result.stderr


# ---- HTTP ----------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def app(time_env: WorkflowEnvironment, db: AsyncEngine) -> FastAPI:
    await ensure_account(db, "alpha", "Alpha", "isa")
    leads = LeadflowClient(time_env.client, "dnc-tests", playbooks=PLAYBOOKS)
    settings = api_settings(leads, ops_token=OPS_TOKEN)
    return create_app(settings, client=leads.temporal, engine=db)


def _ops(token: str = OPS_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "text/plain"}


async def test_the_operator_uploads_a_list_over_http_streamed_and_lists_them(
    app: FastAPI, db: AsyncEngine
) -> None:
    async def body() -> AsyncIterator[bytes]:
        for start in range(0, 3000, 1000):  # chunks that end mid-line
            yield b"".join(b"201%07d\n" % (5550000 + i) for i in range(start, start + 1000))[:-3]
            yield b"".join(b"201%07d\n" % (5550000 + i) for i in range(start, start + 1000))[-3:]
        yield b"garbage\n+13125550111"

    async with Served(app) as api:
        put = await api.put(f"/v1/dnc-lists/national?as_of={AS_OF}", content=body(), headers=_ops())
        got = await api.get("/v1/dnc-lists", headers=_ops())
    assert put.status_code == 200, put.text
    answer = put.json()
    assert (answer["numbers"], answer["lines"], answer["invalid"]) == (3001, 3002, 1)
    assert answer["examples"] == [f"line 3001: 'garbage' is not {dnc.WHAT}"]
    assert got.status_code == 200, got.text
    [summary] = got.json()["items"]
    assert (summary["name"], summary["as_of"], summary["numbers"]) == ("national", str(AS_OF), 3001)
    assert await _on(db, "+12015552999") == ["national"] and await _on(db, 3125550111)


async def test_no_account_key_opens_the_lists_not_even_an_admins(
    app: FastAPI, db: AsyncEngine
) -> None:
    admin = await new_api_key(db, "alpha")
    async with Served(app) as api:
        put = await api.put(
            f"/v1/dnc-lists/national?as_of={AS_OF}", content=b"2015550123\n", headers=_ops(admin)
        )
        got = await api.get("/v1/dnc-lists", headers=_ops(admin))
        anonymous = await api.get("/v1/dnc-lists")
    for refused in (put, got, anonymous):
        assert refused.status_code == 401, refused.text
        assert "OPS_TOKEN" in refused.json()["detail"]
    assert await lists(db) == []


@pytest.mark.parametrize(
    ("path", "body", "kind", "code", "says"),
    [
        ("national?as_of=2026-02-30", b"2015550123", "text/plain", 422, "as_of"),
        ("national?as_of=2999-01-01", b"2015550123", "text/plain", 422, "is after today"),
        ("state:ZZ?as_of=2026-11-02", b"2015550123", "text/plain", 422, "unknown list"),
        ("national?as_of=2026-11-02", b"hello\nworld\n", "text/csv", 422, "no valid numbers"),
        ("national?as_of=2026-11-02", b"{}", "application/json", 415, "text/plain or text/csv"),
    ],
)
async def test_a_bad_upload_is_a_4xx_saying_why_and_changes_nothing(
    app: FastAPI, db: AsyncEngine, path: str, body: bytes, kind: str, code: int, says: str
) -> None:
    async with Served(app) as api:
        answer = await api.put(
            f"/v1/dnc-lists/{path}", content=body, headers={**_ops(), "Content-Type": kind}
        )
    assert answer.status_code == code, answer.text
    assert says in answer.text
    assert await lists(db) == []
