"""Per-account API keys: every request acts for the account its key belongs to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from leadflow.store.accounts import account_for_key
from leadflow.workflows.messages import LeadRef

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
_header = APIKeyHeader(name="X-API-Key", auto_error=False)


@dataclass(frozen=True)
class Caller:
    account_id: str
    playbook: str

    def lead(self, lead_id: str) -> LeadRef:
        return LeadRef(account_id=self.account_id, lead_id=lead_id)


async def caller(
    request: Request,
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
    account = await account_for_key(request.app.state.services.engine, key)
    if account is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "unknown or revoked API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Caller(account_id=account.id, playbook=account.playbook)


Authenticated = Annotated[Caller, Depends(caller)]
