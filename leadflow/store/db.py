"""Engine creation, running writes together, connectivity checks and migrations."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
from alembic import command
from alembic.config import Config
from pydantic_core import to_json
from sqlalchemy import Executable, Table, column, literal, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
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


def rows_insert(
    model: type[DeclarativeBase],
    rows: Sequence[Mapping[str, Any]],
    *,
    conflict: tuple[str, ...] = (),
    update: tuple[str, ...] = (),
    keep: tuple[str, ...] = (),
) -> Executable:
    """INSERT `rows` (all with the same columns) through one JSON parameter
    (`jsonb_to_recordset`): the statement's text is the same for any number of rows, so
    SQLAlchemy compiles it once and asyncpg prepares it once. (A multi-row VALUES with ON
    CONFLICT is built and compiled afresh every time: SQLAlchemy's PostgreSQL INSERT has
    no cache key.)

    A row whose key is there already is left as it is; with `conflict` (the key's columns),
    its `update` columns take the new values and its `keep` columns keep a value they have.
    The parameter is named for the table: one such insert per table in a statement."""
    table = model.__table__
    assert isinstance(table, Table)
    sql = _rows_insert_sql(table, tuple(rows[0]), conflict, update, keep)
    return (
        text(sql)
        .bindparams(**{f"{table.name}_rows": to_json(rows).decode()})
        .columns(column("inserted"))
    )


@functools.cache
def _rows_insert_sql(
    table: Table,
    names: tuple[str, ...],
    conflict: tuple[str, ...],
    update: tuple[str, ...],
    keep: tuple[str, ...],
) -> str:
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    q = dialect.identifier_preparer.quote
    name = q(table.name)
    typed = ", ".join(f"{q(n)} {table.c[n].type.compile(dialect=dialect)}" for n in names)
    listed = ", ".join(q(n) for n in names)
    on_conflict = "ON CONFLICT DO NOTHING"
    if conflict:
        sets = [f"{q(n)} = excluded.{q(n)}" for n in update]
        sets += [f"{q(n)} = COALESCE({name}.{q(n)}, excluded.{q(n)})" for n in keep]
        keys = ", ".join(q(n) for n in conflict)
        on_conflict = f"ON CONFLICT ({keys}) DO UPDATE SET {', '.join(sets)}"
    return (
        f"INSERT INTO {name} ({listed}) SELECT {listed} "
        f"FROM jsonb_to_recordset(CAST(:{table.name}_rows AS jsonb)) AS r({typed}) "
        f"{on_conflict} RETURNING 1 AS inserted"
    )


async def run_together(engine: AsyncEngine, writes: list[Executable]) -> None:
    """Run `writes` as one statement (each a data-modifying CTE of it), committed as it runs:
    one round trip, all or nothing. They run on one snapshot, in no set order: no two may
    touch the same row, and none sees another's rows (a foreign key is checked at the end,
    so a lead's row and rows that belong to it may go together)."""
    if not writes:
        return
    statement = (
        writes[0]
        if len(writes) == 1
        else select(literal(1)).add_cte(*(w.cte(f"w{i}") for i, w in enumerate(writes)))  # type: ignore[attr-defined]
    )
    async with engine.connect() as conn:
        single = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await single.execute(statement)


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
