"""The account's API keys: list them with their last use, make, revoke and rotate them.

A key is shown once, in the answer that made it. Nobody makes a key with a role above their
own; a key may revoke or rotate itself (a rotation's answer carries its successor).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import BaseModel, ConfigDict, Field

from leadflow.api.deps import Authenticated, Database
from leadflow.api.errors import error_responses
from leadflow.api.schemas import Page
from leadflow.api.scopes import Role, at_most
from leadflow.store.accounts import (
    KeyRecord,
    get_key,
    key_id,
    list_keys,
    new_api_key,
    revoke_key,
    rotate_key,
)

router = APIRouter(
    prefix="/v1/keys", tags=["keys"], responses=error_responses(400, 401, 403, 404, 413, 422, 503)
)
KeyId = Annotated[str, Path(pattern=r"^k_[0-9a-f]{16}$", description="the key's id")]
MAX_DAYS = 3650


class KeyOut(BaseModel):
    id: str = Field(description="the key's public name (never enough to use it)")
    name: str
    role: Role
    created_at: datetime = Field(description="when the key was made")
    expires_at: datetime | None = Field(description="when it stops working; null: never")
    last_used_at: datetime | None = Field(description="to the minute; null: never used")
    revoked_at: datetime | None = Field(description="when it was revoked; null: it was not")


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")]
    role: Role = "agent"
    expires_in_days: Annotated[int, Field(ge=1, le=MAX_DAYS)] | None = Field(
        default=90, description="days until it stops working; null: never (not advised)"
    )


class RotateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grace_minutes: Annotated[int, Field(ge=0, le=7 * 24 * 60)] = Field(
        default=0, description="how long the old key keeps working (0: revoked at once)"
    )


class NewKey(BaseModel):
    key: str = Field(description="the key itself: shown this once, store it now")
    record: KeyOut = Field(description="the key as GET /v1/keys lists it")


def _out(record: KeyRecord) -> KeyOut:
    return KeyOut.model_validate(record, from_attributes=True)


def _missing(key: str) -> HTTPException:
    return HTTPException(
        status.HTTP_404_NOT_FOUND, f"the account has no live API key {key!r} (GET /v1/keys)"
    )


@router.get("", response_model=Page[KeyOut])
async def get_keys(
    caller: Authenticated, database: Database, revoked: bool = False
) -> Page[KeyOut]:
    """The account's keys (those not revoked, or all with `revoked=true`), oldest first,
    each with its role, expiry and last use. One page holds them all."""
    found = await list_keys(database, caller.account_id, revoked=revoked)
    return Page(items=[_out(k) for k in found], next_cursor=None)


@router.post("", response_model=NewKey, status_code=status.HTTP_201_CREATED)
async def post_key(body: KeyIn, caller: Authenticated, database: Database) -> NewKey:
    if not at_most(body.role, caller.role):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"a key with role {caller.role!r} cannot make one with role {body.role!r}",
        )
    expires = (
        datetime.now(UTC) + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    )
    key = await new_api_key(
        database, caller.account_id, body.name.strip(), role=body.role, expires_at=expires
    )
    record = await get_key(database, caller.account_id, key_id(key))
    assert record is not None  # made just now, in this account
    return NewKey(key=key, record=_out(record))


@router.post("/{key}/revoke", response_model=KeyOut)
async def post_revoke(key: KeyId, caller: Authenticated, database: Database) -> KeyOut:
    """Revoke the key at once: every request with it is refused from now on."""
    revoked = await revoke_key(database, caller.account_id, key)
    if revoked is None:
        raise _missing(key)
    return _out(revoked)


@router.post("/{key}/rotate", response_model=NewKey, status_code=status.HTTP_201_CREATED)
async def post_rotate(
    key: KeyId, caller: Authenticated, database: Database, body: RotateIn | None = None
) -> NewKey:
    """A new key with the same name, role and lifetime; the old one ends now or after the
    grace period."""
    grace = timedelta(minutes=(body or RotateIn()).grace_minutes)
    rotated = await rotate_key(database, caller.account_id, key, grace)
    if rotated is None:
        raise _missing(key)
    made, record = rotated
    return NewKey(key=made, record=_out(record))
