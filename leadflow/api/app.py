"""The FastAPI application."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from leadflow import __version__
from leadflow.api import errors
from leadflow.api.limits import BodyLimit
from leadflow.api.routes.leads import router as leads_router
from leadflow.api.routes.queue import router as queue_router
from leadflow.api.routes.reports import router as reports_router
from leadflow.api.routes.users import router as users_router
from leadflow.api.routes.webhooks import router as webhooks_router
from leadflow.client import LeadflowClient, PlaybookSource
from leadflow.config import Settings
from leadflow.store.db import check_database, create_engine
from leadflow.temporal import connect

HEALTH_TIMEOUT = 2.0


@dataclass
class Services:
    leads: LeadflowClient
    engine: AsyncEngine


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


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


def _sends(settings: Settings | None) -> dict[str, Any]:
    if settings is None or not hasattr(settings, "sends_task_queue"):
        return {}
    return {
        "sends_task_queue": settings.sends_task_queue,
        "sender_queues": settings.sender_queues(),
    }


def _no_settings() -> Any:
    """Apps built by tests without settings: webhooks then refuse every request (403)."""

    class _Unset:
        twilio_auth_token = None
        public_url = None
        sendgrid_webhook_public_key = None

    return _Unset()


def create_app(
    settings: Settings | None = None,
    *,
    client: Client | None = None,
    engine: AsyncEngine | None = None,
    task_queue: str | None = None,
    playbooks: PlaybookSource | None = None,
) -> FastAPI:
    """Build the app; tests hand in a connected client and engine, processes give settings."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned: AsyncEngine | None = None
        temporal, db = client, engine
        if db is None or temporal is None:
            assert settings is not None, "create_app needs settings or a client and an engine"
            if db is None:
                db = owned = create_engine(settings.database)
                await check_database(db)
            if temporal is None:
                temporal = await connect(settings.temporal_address, settings.temporal_namespace)
        queue = task_queue or (settings.temporal_task_queue if settings else "leadflow")
        source = playbooks
        if source is None and settings is not None and settings.playbooks_dir:
            source = PlaybookSource(Path(settings.playbooks_dir))
        app.state.services = Services(
            LeadflowClient(temporal, queue, playbooks=source, **_sends(settings)), db
        )
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

    @app.get("/health", response_model=Health, tags=["ops"])
    async def health(found: Annotated[Services, Depends(services)]) -> JSONResponse:
        """Whether Temporal and PostgreSQL answer; 503 when either is down."""
        temporal_up, database_up = await asyncio.gather(
            _temporal_up(found.leads.temporal), _database_up(found.engine)
        )
        body = Health(
            status="ok" if temporal_up and database_up else "degraded",
            temporal="up" if temporal_up else "down",
            database="up" if database_up else "down",
        )
        return JSONResponse(body.model_dump(), status_code=200 if body.status == "ok" else 503)

    errors.install(app)
    app.add_middleware(BodyLimit)
    app.include_router(leads_router)
    app.include_router(queue_router)
    app.include_router(reports_router)
    app.include_router(users_router)
    app.include_router(webhooks_router)
    app.state.settings = settings or _no_settings()
    return app
