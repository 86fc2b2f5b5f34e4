"""Alembic environment: runs migrations over asyncpg."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from leadflow.store import (
    access_tables,  # noqa: F401  (its tables, on the same metadata)
    consent_tables,  # noqa: F401  (its tables, on the same metadata)
    dnc_tables,  # noqa: F401  (its tables, on the same metadata)
    import_tables,  # noqa: F401  (its tables, on the same metadata)
    report_tables,  # noqa: F401  (its tables, on the same metadata)
    routing_tables,  # noqa: F401  (its tables, on the same metadata)
    thread_tables,  # noqa: F401  (its tables, on the same metadata)
)
from leadflow.store.db import async_url
from leadflow.store.tables import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    configured = config.get_main_option("sqlalchemy.url")
    if configured:
        return configured
    from_env = os.environ.get("DATABASE_URL")
    if not from_env:
        raise SystemExit("DATABASE_URL is not set")
    return async_url(from_env).render_as_string(hide_password=False)


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    engine = create_async_engine(_url())
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
