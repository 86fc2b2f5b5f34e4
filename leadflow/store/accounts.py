"""Accounts and their API keys. A key is shown once; only its SHA-256 digest is stored."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.store.tables import Account, ApiKey

KEY_PREFIX = "lf_"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_id(key: str) -> str:
    """A key's public name: its digest's first 16 hex digits, never enough to use it."""
    return "k_" + digest(key)[:16]


async def ensure_account(engine: AsyncEngine, account_id: str, name: str, playbook: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            insert(Account)
            .values(id=account_id, name=name, playbook=playbook)
            .on_conflict_do_update(
                index_elements=[Account.id], set_={"name": name, "playbook": playbook}
            )
        )


async def new_api_key(
    engine: AsyncEngine, account_id: str, name: str = "default", key: str | None = None
) -> str:
    """Make a key for the account and return it (the only time it is visible)."""
    key = key or KEY_PREFIX + secrets.token_urlsafe(32)
    async with engine.begin() as conn:
        await conn.execute(
            insert(ApiKey)
            .values(digest=digest(key), id=key_id(key), account_id=account_id, name=name)
            .on_conflict_do_nothing()
        )
    return key


async def account_for_key(engine: AsyncEngine, key: str) -> Account | None:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(Account.id, Account.name, Account.playbook)
                .join(ApiKey, ApiKey.account_id == Account.id)
                .where(ApiKey.digest == digest(key), ApiKey.revoked_at.is_(None))
            )
        ).one_or_none()
    if row is None:
        return None
    return Account(id=row.id, name=row.name, playbook=row.playbook)
