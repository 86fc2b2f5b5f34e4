"""The FastAPI application."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Literal

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from leadflow import __version__
from leadflow.api import errors
from leadflow.api.deps import Database, Leads, Services
from leadflow.api.limits import BodyLimit
from leadflow.api.routes.codec import redact_access_log
from leadflow.api.routes.codec import router as codec_router
from leadflow.api.routes.leads import router as leads_router
from leadflow.api.routes.queue import router as queue_router
from leadflow.api.routes.reports import router as reports_router
from leadflow.api.routes.users import router as users_router
from leadflow.api.routes.webhooks import router as webhooks_router
from leadflow.client import LeadflowClient
from leadflow.codec import EncryptionCodec, check_keys
from leadflow.config import Settings
from leadflow.paths import shipped
from leadflow.playbook.sources import PlaybookFolder, PlaybookSource
from leadflow.store.db import check_database, create_engine
from leadflow.temporal import connect, data_converter

HEALTH_TIMEOUT = 2.0


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    temporal: Literal["up", "down"]
    database: Literal["up", "down"]
    version: str = __version__


async def _temporal_up(client: Client) -> bool:
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT):
            return await client.service_client.check_health()
    except Exception:
        return False


async def _database_up(engine: AsyncEngine) -> bool:
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


def create_app(
    settings: Settings,
    *,
    client: Client | None = None,
    engine: AsyncEngine | None = None,
    playbooks: PlaybookSource | None = None,
) -> FastAPI:
    """Build the app for `settings`.

    A process that already holds a Temporal client or a database engine (the dev stack, a
    test) may hand them in: the app uses them instead of connecting, and leaves them open.
    An account without a stored playbook version runs the preset its account names, from
    `playbooks` (default: the folder `PLAYBOOKS_DIR` names, else the shipped presets).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned: AsyncEngine | None = None
        temporal, database = client, engine
        keyring = settings.keyring()
        if database is None:
            database = owned = create_engine(settings.database)
            await check_database(database)
            await check_keys(database, keyring)
        if temporal is None:
            temporal = await connect(
                settings.temporal_address,
                settings.temporal_namespace,
                converter=data_converter(keyring),
            )
        presets = playbooks or PlaybookFolder(
            Path(settings.playbooks_dir) if settings.playbooks_dir else shipped("playbooks")
        )
        leads = LeadflowClient(
            temporal,
            settings.temporal_task_queue,
            playbooks=presets,
            sends_task_queue=settings.sends_task_queue,
            sender_queues=settings.sender_queues(),
        )
        app.state.services = Services(leads, database, settings, EncryptionCodec(keyring))
        try:
            yield
        finally:
            if owned is not None:
                await owned.dispose()

    app = FastAPI(
        title="leadflow",
        version=__version__,
        summary="Lead follow-up engine on Temporal",
        lifespan=lifespan,
    )

    @app.get(
        "/health",
        response_model=Health,
        tags=["ops"],
        responses={503: {"model": Health, "description": "Temporal or PostgreSQL is down"}},
    )
    async def health(leads: Leads, database: Database) -> JSONResponse:
        """Whether Temporal and PostgreSQL answer; 503 when either is down."""
        temporal_up, database_up = await asyncio.gather(
            _temporal_up(leads.temporal), _database_up(database)
        )
        body = Health(
            status="ok" if temporal_up and database_up else "degraded",
            temporal="up" if temporal_up else "down",
            database="up" if database_up else "down",
        )
        return JSONResponse(body.model_dump(), status_code=200 if body.status == "ok" else 503)

    errors.install(app)
    app.add_middleware(BodyLimit)
    # The Temporal Web UI calls the codec endpoint from the browser, from its own origin.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.codec_origins,
        allow_methods=["POST"],
        allow_headers=["Authorization", "Content-Type", "X-Namespace"],
    )
    app.include_router(leads_router)
    app.include_router(queue_router)
    app.include_router(reports_router)
    app.include_router(users_router)
    app.include_router(webhooks_router)
    app.include_router(codec_router)
    redact_access_log()
    return app
