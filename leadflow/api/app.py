"""The FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from leadflow import __version__, tracing
from leadflow.api import errors
from leadflow.api.deps import Services, scoped
from leadflow.api.headers import SecurityHeaders
from leadflow.api.importer import book_of, resume_all
from leadflow.api.limits import BodyLimit
from leadflow.api.metrics import ApiMetrics
from leadflow.api.routes.codec import redact_access_log
from leadflow.api.routes.codec import router as codec_router
from leadflow.api.routes.consent import router as consent_router
from leadflow.api.routes.dnc import MAX_UPLOAD
from leadflow.api.routes.dnc import router as dnc_router
from leadflow.api.routes.do_not_call import router as do_not_call_router
from leadflow.api.routes.imports import MAX_FILE
from leadflow.api.routes.imports import router as imports_router
from leadflow.api.routes.keys import router as keys_router
from leadflow.api.routes.leads import router as leads_router
from leadflow.api.routes.migrations import router as migrations_router
from leadflow.api.routes.ops import router as ops_router
from leadflow.api.routes.queue import router as queue_router
from leadflow.api.routes.reports import router as reports_router
from leadflow.api.routes.routing import router as routing_router
from leadflow.api.routes.senders import router as senders_router
from leadflow.api.routes.thread import router as thread_router
from leadflow.api.routes.unsubscribe import router as unsubscribe_router
from leadflow.api.routes.users import router as users_router
from leadflow.api.routes.webhooks import router as webhooks_router
from leadflow.api.web import mount as web
from leadflow.client import LeadflowClient
from leadflow.codec import EncryptionCodec, check_keys
from leadflow.config import Settings
from leadflow.paths import shipped
from leadflow.playbook.sources import PlaybookFolder, PlaybookSource
from leadflow.providers.reassigned import ReassignedNumbers
from leadflow.store.db import check_database, create_engine
from leadflow.temporal import connect, data_converter


def create_app(
    settings: Settings,
    *,
    client: Client | None = None,
    engine: AsyncEngine | None = None,
    playbooks: PlaybookSource | None = None,
    resume_imports: bool = True,
) -> FastAPI:
    """Build the app for `settings`.

    A process that already holds a Temporal client or a database engine (the dev stack, a
    test) may hand them in: the app uses them instead of connecting, and leaves them open.
    An account without a stored playbook version runs the preset its account names, from
    `playbooks` (default: the folder `PLAYBOOKS_DIR` names, else the shipped presets).
    Imports a stopped API left unfinished run on from its start (`resume_imports`).
    """

    keyring = settings.keyring()  # a missing or bad key stops the app before it serves
    rnd_config = settings.rnd()  # RND_URL without RND_KEY, too

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned: AsyncEngine | None = None
        temporal, database = client, engine
        if database is None:
            database = owned = create_engine(settings.database)
            await check_database(database)
            await check_keys(database, keyring)
        if temporal is None:
            temporal = await connect(
                settings.temporal_address,
                settings.temporal_namespace,
                converter=data_converter(keyring),
                interceptors=tracing.interceptors("leadflow-api"),  # none unless configured
                tls=settings.temporal_tls_config(),
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
        rnd = ReassignedNumbers(rnd_config) if rnd_config is not None else None
        codec = EncryptionCodec(keyring)
        services = app.state.services = Services(leads, database, settings, codec, rnd)
        if resume_imports:  # those a stopped API left unfinished go on where they stopped
            services.imports.spawn(resume_all(database, leads, book_of(database, leads)), "all")
        try:
            yield
        finally:
            await services.imports.close()
            if rnd is not None:
                await rnd.close()
            if owned is not None:
                await owned.dispose()

    # The docs pages load Swagger UI and ReDoc from assets the package ships, not a CDN:
    # they work offline and behind a strict firewall.
    app = FastAPIOffline(
        title="leadflow",
        version=__version__,
        summary="Lead follow-up engine on Temporal",
        lifespan=lifespan,
    )

    if tracing.enabled():  # a span per request, the parent of the Temporal calls it makes
        tracing.instrument_app(app)
    app.state.metrics = ApiMetrics()
    app.state.metrics.instrument(app)
    errors.install(app)
    web.install(app, keyring.derived("leadflow-web-session"))
    app.add_middleware(BodyLimit, larger={"/v1/dnc-lists/": MAX_UPLOAD, "/v1/imports": MAX_FILE})
    # The Temporal Web UI calls the codec endpoint from the browser, from its own origin.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.codec_origins,
        allow_methods=["POST"],
        allow_headers=["Authorization", "Content-Type", "X-Namespace"],
    )
    app.add_middleware(SecurityHeaders)  # outermost: on every answer, errors included
    # Every /v1 router is guarded by its resource's scope, read or write by the method.
    app.include_router(leads_router, dependencies=[scoped("leads")])
    app.include_router(thread_router, dependencies=[scoped("leads")])
    app.include_router(consent_router, dependencies=[scoped("leads")])
    app.include_router(routing_router, dependencies=[scoped("leads")])
    app.include_router(do_not_call_router, dependencies=[scoped("leads")])
    app.include_router(imports_router, dependencies=[scoped("leads")])
    app.include_router(queue_router, dependencies=[scoped("queue")])
    app.include_router(reports_router, dependencies=[scoped("reports")])
    app.include_router(users_router, dependencies=[scoped("team")])
    app.include_router(migrations_router, dependencies=[scoped("playbooks")])
    app.include_router(keys_router, dependencies=[scoped("keys")])
    app.include_router(senders_router, dependencies=[scoped("senders")])
    app.include_router(webhooks_router)
    app.include_router(unsubscribe_router)
    app.include_router(dnc_router)  # the operator's alone (OPS_TOKEN), as the codec
    app.include_router(codec_router)
    app.include_router(ops_router)
    redact_access_log()
    return app
