"""Engine creation, running writes together, connectivity checks and migrations."""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from alembic import command
from alembic.config import Config
from pydantic_core import to_json
from sqlalchemy import Table, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.orm import DeclarativeBase

from leadflow.errors import ConfigError
from leadflow.paths import shipped


def async_url(url: str | URL) -> URL:
    """Bind any postgresql URL to the asyncpg driver."""
    return make_url(url).set(drivername="postgresql+asyncpg")


def create_engine(url: str | URL, *, pool_size: int = 10) -> AsyncEngine:
    """A pool without a ping before each use (a round trip on every claim and send): a
    connection the server dropped fails its one statement and is replaced, which activities
    retry and the API answers with 503; connections are renewed every few minutes."""
    return create_async_engine(
        async_url(url), pool_size=pool_size, max_overflow=pool_size, pool_recycle=300
    )


@dataclass(frozen=True, slots=True)
class Write:
    """One statement of a decision's writes: its SQL, with placeholders $1, $2, ..., and
    their values. The text depends only on the statement's shape (its table, columns and
    conflict handling), never on its values or number of rows, so PostgreSQL's driver
    prepares each shape once and nothing is compiled per decision."""

    sql: str
    args: tuple[Any, ...]


def rows_insert(
    model: type[DeclarativeBase],
    rows: Sequence[Mapping[str, Any]],
    *,
    conflict: tuple[str, ...] = (),
    update: tuple[str, ...] = (),
    keep: tuple[str, ...] = (),
    computed: tuple[tuple[str, str], ...] = (),
) -> Write:
    """INSERT `rows` (all with the same columns) through one JSON parameter
    (`jsonb_to_recordset`), so the statement's text is the same for any number of rows.

    A row whose key is there already is left as it is; with `conflict` (the key's columns),
    its `update` columns take the new values and its `keep` columns keep a value they have.
    `computed` columns take the value of an SQL expression over the row (`r`), also on
    conflict."""
    table = model.__table__
    assert isinstance(table, Table)
    sql = _rows_insert_sql(table, tuple(rows[0]), conflict, update, keep, computed)
    return Write(sql, (to_json(rows).decode(),))


@functools.cache
def _rows_insert_sql(
    table: Table,
    names: tuple[str, ...],
    conflict: tuple[str, ...],
    update: tuple[str, ...],
    keep: tuple[str, ...],
    computed: tuple[tuple[str, str], ...] = (),
) -> str:
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    q = dialect.identifier_preparer.quote
    name = q(table.name)
    typed = ", ".join(f"{q(n)} {table.c[n].type.compile(dialect=dialect)}" for n in names)
    listed = ", ".join(q(n) for n in names)
    selected = ", ".join([listed, *(f"{sql} AS {q(n)}" for n, sql in computed)])
    listed = ", ".join([listed, *(q(n) for n, _ in computed)])
    on_conflict = "ON CONFLICT DO NOTHING"
    if conflict:
        sets = [f"{q(n)} = excluded.{q(n)}" for n in (*update, *(n for n, _ in computed))]
        sets += [f"{q(n)} = COALESCE({name}.{q(n)}, excluded.{q(n)})" for n in keep]
        keys = ", ".join(q(n) for n in conflict)
        on_conflict = f"ON CONFLICT ({keys}) DO UPDATE SET {', '.join(sets)}"
    return (
        f"INSERT INTO {name} ({listed}) SELECT {selected} "
        f"FROM jsonb_to_recordset($1::jsonb) AS r({typed}) {on_conflict}"
    )


_PLACEHOLDER = re.compile(r"\$(\d+)")


@functools.lru_cache(maxsize=512)
def _together_sql(sqls: tuple[str, ...]) -> str:
    """The statements as data-modifying CTEs of one, their placeholders numbered on."""
    parts: list[str] = []
    offset = 0
    for i, sql in enumerate(sqls):
        used = max((int(n) for n in _PLACEHOLDER.findall(sql)), default=0)
        shifted = _PLACEHOLDER.sub(functools.partial(_shift, by=offset), sql)
        parts.append(f"w{i} AS ({shifted})")
        offset += used
    return f"WITH {', '.join(parts)} SELECT 1"


def _shift(placeholder: re.Match[str], by: int) -> str:
    return f"${int(placeholder[1]) + by}"


async def execute(conn: AsyncConnection, write: Write) -> None:
    """Run one write on `conn`, in the caller's transaction."""
    await conn.exec_driver_sql(write.sql, write.args)


async def run_together(engine: AsyncEngine, writes: Sequence[Write]) -> None:
    """Run `writes` as one statement (each a data-modifying CTE of it), committed as it runs:
    one round trip, all or nothing. They run on one snapshot, in no set order: no two may
    touch the same row, and none sees another's rows (a foreign key is checked at the end,
    so a lead's row and rows that belong to it may go together). The SQL goes to the driver
    as it is (SQLAlchemy neither builds nor compiles it): a decision's writes cost about a
    third of what the same statement built as SQLAlchemy constructs did, and it runs on the
    driver's own connection (`on_driver`)."""
    if not writes:
        return
    if len(writes) == 1:
        sql, args = writes[0].sql, writes[0].args
    else:
        sql = _together_sql(tuple(w.sql for w in writes))
        args = tuple(a for w in writes for a in w.args)
    await on_driver(engine, sql, args)


async def fetch_one(engine: AsyncEngine, sql: str, args: Sequence[Any]) -> asyncpg.Record | None:
    """Run one statement, committed as it runs, and give its first row (`on_driver`)."""
    return await on_driver(engine, sql, args, fetch=True)


async def on_driver(
    engine: AsyncEngine, sql: str, args: Sequence[Any], *, fetch: bool = False
) -> asyncpg.Record | None:
    """Run one statement on a pooled connection's own asyncpg connection, committed as it
    runs (and give its first row if `fetch`): for the hottest writes and claims, where
    SQLAlchemy's layers cost as much CPU as the driver. The driver's errors come out as
    SQLAlchemy's (`DBAPIError`, which the API and the activities handle), and a connection
    that broke is dropped from the pool rather than handed out again."""
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver: asyncpg.Connection = raw.driver_connection
        try:
            if fetch:
                return await driver.fetchrow(sql, *args)
            await driver.execute(sql, *args)
            return None
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            broken = driver.is_closed() or isinstance(exc, OSError | asyncpg.InterfaceError)
            if broken:
                await conn.invalidate(exc)
            raise DBAPIError.instance(
                sql, list(args), exc, Exception, connection_invalidated=broken
            ) from exc


async def check_database(engine: AsyncEngine, *, timeout: float = 5.0) -> None:
    """Fail fast with a message naming DATABASE_URL when the database can't be reached."""
    where = engine.url.render_as_string(hide_password=True)
    try:
        async with asyncio.timeout(timeout):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    except TimeoutError:
        raise ConfigError(f"DATABASE_URL: no answer from {where} within {timeout:g}s") from None
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"DATABASE_URL: cannot connect to {where} ({reason})") from None


def alembic_config(url: str | URL) -> Config:
    config = Config()
    config.set_main_option("script_location", str(shipped("migrations")))
    # Alembic's config is ConfigParser-based: escape '%' in passwords.
    rendered = async_url(url).render_as_string(hide_password=False).replace("%", "%%")
    config.set_main_option("sqlalchemy.url", rendered)
    return config


def migrate(url: str | URL, revision: str = "head") -> None:
    """Bring the schema to `revision`. Synchronous: call it outside a running event loop."""
    command.upgrade(alembic_config(url), revision)


async def ensure_database(admin_uri: str, name: str) -> None:
    conn = await asyncpg.connect(admin_uri)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
