"""What a route can ask for, as typed dependencies: the database, the lead client, the
settings, the calling account (from its API key, with the key's role), that account's
playbook, and the scope a router's resource needs (`scoped`).

The app keeps its services on its state; this module is the only reader of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException, Request, params, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.api.importer import Running
from leadflow.api.metrics import ApiMetrics
from leadflow.api.scopes import holds, scope_for
from leadflow.client import LeadflowClient
from leadflow.codec import EncryptionCodec
from leadflow.config import Settings
from leadflow.engine.refs import LeadRef
from leadflow.playbook.schema import Playbook
from leadflow.providers.reassigned import ReassignedNumbers
from leadflow.store.accounts import account_for_key
from leadflow.store.playbooks import current_version
from leadflow.store.senders import not_held


@dataclass(frozen=True)
class Services:
    """What the app's lifespan connects to, for the routes to use."""

    leads: LeadflowClient
    database: AsyncEngine
    settings: Settings
    codec: EncryptionCodec  # seals and opens payloads, for the ops codec endpoint
    rnd: ReassignedNumbers | None = None  # the Reassigned Numbers Database, when configured
    imports: Running = field(default_factory=Running)  # the imports this process runs


def _services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def _database(request: Request) -> AsyncEngine:
    return _services(request).database


def _leads(request: Request) -> LeadflowClient:
    return _services(request).leads


def _settings(request: Request) -> Settings:
    return _services(request).settings


def _rnd(request: Request) -> ReassignedNumbers | None:
    return _services(request).rnd


def _metrics(request: Request) -> ApiMetrics:
    found: ApiMetrics = request.app.state.metrics
    return found


def _codec(request: Request) -> EncryptionCodec:
    return _services(request).codec


def _running(request: Request) -> Running:
    return _services(request).imports


Database = Annotated[AsyncEngine, Depends(_database)]
Leads = Annotated[LeadflowClient, Depends(_leads)]
AppSettings = Annotated[Settings, Depends(_settings)]
Codec = Annotated[EncryptionCodec, Depends(_codec)]
Metrics = Annotated[ApiMetrics, Depends(_metrics)]
Rnd = Annotated[ReassignedNumbers | None, Depends(_rnd)]
Imports = Annotated[Running, Depends(_running)]


# ---- the caller: every request acts for the account its API key belongs to -----------------

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
_header = APIKeyHeader(name="X-API-Key", auto_error=False)


@dataclass(frozen=True)
class Caller:
    account_id: str
    playbook: str
    role: str = "admin"
    key_id: str = ""

    @property
    def actor(self) -> str:
        """Who the lead's history says made a change through this key."""
        return f"api key {self.key_id}" if self.key_id else "api"

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
    holder = await account_for_key(database, key)
    if holder is None or holder.expired:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            f"API key {holder.key_id} has expired; rotate it (POST /v1/keys/{holder.key_id}"
            "/rotate with another key, or `leadflow key rotate`)"
            if holder is not None
            else "unknown or revoked API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Caller(
        account_id=holder.account.id,
        playbook=holder.account.playbook,
        role=holder.role,
        key_id=holder.key_id,
    )


Authenticated = Annotated[Caller, Depends(_caller)]


def scoped(resource: str) -> params.Depends:
    """A router's guard: the caller's role must hold `<resource>:read` for GET and HEAD,
    `<resource>:write` for anything else (403 naming what is missing)."""

    async def check(request: Request, caller: Authenticated) -> None:
        scope = scope_for(resource, request.method)
        if not holds(caller.role, scope):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this API key's role {caller.role!r} does not hold {scope!r}; "
                "ask an admin for a key with a role that does",
            )

    guard: params.Depends = Depends(check)
    return guard


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


async def own_numbers(database: AsyncEngine, caller: Caller, numbers: Iterable[str | None]) -> None:
    """Refuse (422) sending numbers the account does not hold (GET /v1/senders lists those
    it does): no account texts from another's number."""
    foreign = await not_held(database, caller.account_id, "sms", {n for n in numbers if n})
    if foreign:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"sms_from {', '.join(foreign)}: not a sending number of this account "
            "(GET /v1/senders lists them; the operator adds one with `leadflow sender add`)",
        )
