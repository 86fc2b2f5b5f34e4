"""What a route can ask for, as typed dependencies: the database, the lead client, the
settings, the calling account (from its API key) and that account's playbook.

The app keeps its services on its state; this module is the only reader of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.api.metrics import ApiMetrics
from leadflow.client import LeadflowClient
from leadflow.codec import EncryptionCodec
from leadflow.config import Settings
from leadflow.engine.refs import LeadRef
from leadflow.playbook.schema import Playbook
from leadflow.store.accounts import account_for_key
from leadflow.store.playbooks import current_version


@dataclass(frozen=True)
class Services:
    """What the app's lifespan connects to, for the routes to use."""

    leads: LeadflowClient
    database: AsyncEngine
    settings: Settings
    codec: EncryptionCodec  # seals and opens payloads, for the ops codec endpoint


def _services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def _database(request: Request) -> AsyncEngine:
    return _services(request).database


def _leads(request: Request) -> LeadflowClient:
    return _services(request).leads


def _settings(request: Request) -> Settings:
    return _services(request).settings


def _metrics(request: Request) -> ApiMetrics:
    found: ApiMetrics = request.app.state.metrics
    return found


def _codec(request: Request) -> EncryptionCodec:
    return _services(request).codec


Database = Annotated[AsyncEngine, Depends(_database)]
Leads = Annotated[LeadflowClient, Depends(_leads)]
AppSettings = Annotated[Settings, Depends(_settings)]
Codec = Annotated[EncryptionCodec, Depends(_codec)]
Metrics = Annotated[ApiMetrics, Depends(_metrics)]


# ---- the caller: every request acts for the account its API key belongs to -----------------

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
_header = APIKeyHeader(name="X-API-Key", auto_error=False)


@dataclass(frozen=True)
class Caller:
    account_id: str
    playbook: str

    def lead(self, lead_id: str) -> LeadRef:
        return LeadRef(account_id=self.account_id, lead_id=lead_id)


async def _caller(
    database: Database,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> Caller:
    key = bearer.credentials if bearer is not None else header
    if not key:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    account = await account_for_key(database, key)
    if account is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "unknown or revoked API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Caller(account_id=account.id, playbook=account.playbook)


Authenticated = Annotated[Caller, Depends(_caller)]


# ---- the account's playbook ---------------------------------------------------------------


async def _account_playbook(caller: Authenticated, database: Database, leads: Leads) -> Playbook:
    """The account's current playbook: its newest stored version, else the preset it names."""
    stored = await current_version(database, caller.account_id)
    return stored or leads.playbook(caller.playbook)


Book = Annotated[Playbook, Depends(_account_playbook)]


def known(names: Iterable[str], known: list[str], what: str) -> None:
    """Refuse (422) names the playbook does not have, listing the ones it does."""
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"unknown {what} {', '.join(map(repr, unknown))}; the playbook has "
            f"{', '.join(known) or '(none)'}",
        )
