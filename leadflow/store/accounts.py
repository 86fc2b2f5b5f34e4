"""Accounts and their API keys. A key is shown once; only its SHA-256 digest is stored.

A key acts with its role until it expires or is revoked; its last use is kept to the minute
(a key in constant use writes at most once a minute). Rotating a key makes its successor with
the same name, role and lifetime, and ends the old one now or after a grace period.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from leadflow.store.access_tables import ApiKey
from leadflow.store.tables import Account

KEY_PREFIX = "lf_"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_id(key: str) -> str:
    """A key's public name: its digest's first 16 hex digits, never enough to use it."""
    return "k_" + digest(key)[:16]


@dataclass(frozen=True)
class KeyHolder:
    """The account a presented key acts for, and as what."""

    account: Account
    key_id: str
    role: str
    expired: bool


@dataclass(frozen=True)
class KeyRecord:
    id: str
    name: str
    role: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


async def ensure_account(engine: AsyncEngine, account_id: str, name: str, playbook: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            insert(Account)
            .values(id=account_id, name=name, playbook=playbook)
            .on_conflict_do_update(
                index_elements=[Account.id], set_={"name": name, "playbook": playbook}
            )
        )


async def preset_of(engine: AsyncEngine, account_id: str) -> str | None:
    """The preset the account runs when it has no stored playbook version (None: no account)."""
    async with engine.connect() as conn:
        found = await conn.execute(select(Account.playbook).where(Account.id == account_id))
        return found.scalar_one_or_none()


async def account_name(engine: AsyncEngine, account_id: str) -> str | None:
    """The account's business name (whom its leads' consents name), None: no account."""
    async with engine.connect() as conn:
        found = await conn.execute(select(Account.name).where(Account.id == account_id))
        return found.scalar_one_or_none()


async def account_exists(engine: AsyncEngine, account_id: str) -> bool:
    async with engine.connect() as conn:
        found = await conn.execute(select(Account.id).where(Account.id == account_id))
        return found.one_or_none() is not None


async def _insert_key(
    conn: AsyncConnection,
    account_id: str,
    name: str,
    role: str,
    expires_at: datetime | None,
    key: str | None = None,
) -> str:
    key = key or KEY_PREFIX + secrets.token_urlsafe(32)
    await conn.execute(
        insert(ApiKey)
        .values(
            digest=digest(key),
            id=key_id(key),
            account_id=account_id,
            name=name,
            role=role,
            expires_at=expires_at,
        )
        .on_conflict_do_nothing()
    )
    return key


async def new_api_key(
    engine: AsyncEngine,
    account_id: str,
    name: str = "default",
    key: str | None = None,
    *,
    role: str = "admin",
    expires_at: datetime | None = None,
) -> str:
    """Make a key for the account and return it (the only time it is visible)."""
    async with engine.begin() as conn:
        return await _insert_key(conn, account_id, name, role, expires_at, key)


_HOLDER = text(
    """
    WITH found AS (
        SELECT k.id AS key_id, k.role, k.expires_at, a.id, a.name, a.playbook
        FROM api_keys k JOIN accounts a ON a.id = k.account_id
        WHERE k.digest = :digest AND k.revoked_at IS NULL
    ), touched AS (
        UPDATE api_keys SET last_used_at = now()
        WHERE digest = :digest AND revoked_at IS NULL
          AND (expires_at IS NULL OR expires_at > now())
          AND (last_used_at IS NULL OR last_used_at < now() - interval '60 seconds')
        RETURNING 1
    )
    SELECT found.*, coalesce(found.expires_at <= now(), false) AS expired FROM found
    """
)


async def account_for_key(engine: AsyncEngine, key: str) -> KeyHolder | None:
    """The account a live key acts for (None if unknown or revoked; `expired` says so)."""
    async with engine.begin() as conn:
        row = (await conn.execute(_HOLDER, {"digest": digest(key)})).one_or_none()
    if row is None:
        return None
    account = Account(id=row.id, name=row.name, playbook=row.playbook)
    return KeyHolder(account=account, key_id=row.key_id, role=row.role, expired=row.expired)


def _record(row: object) -> KeyRecord:
    return KeyRecord(**{f: getattr(row, f) for f in KeyRecord.__dataclass_fields__})


_COLUMNS = (
    ApiKey.id,
    ApiKey.name,
    ApiKey.role,
    ApiKey.created_at,
    ApiKey.expires_at,
    ApiKey.last_used_at,
    ApiKey.revoked_at,
)


async def list_keys(
    engine: AsyncEngine, account_id: str, *, revoked: bool = False
) -> list[KeyRecord]:
    query = select(*_COLUMNS).where(ApiKey.account_id == account_id)
    if not revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    async with engine.connect() as conn:
        rows = (await conn.execute(query.order_by(ApiKey.created_at, ApiKey.id))).all()
    return [_record(r) for r in rows]


async def get_key(engine: AsyncEngine, account_id: str, key: str) -> KeyRecord | None:
    query = select(*_COLUMNS).where(ApiKey.account_id == account_id, ApiKey.id == key)
    async with engine.connect() as conn:
        row = (await conn.execute(query)).one_or_none()
    return None if row is None else _record(row)


async def live_keys(engine: AsyncEngine, account_id: str) -> int:
    """How many of the account's keys still work (neither revoked nor expired)."""
    query = select(func.count()).where(
        ApiKey.account_id == account_id,
        ApiKey.revoked_at.is_(None),
        (ApiKey.expires_at.is_(None)) | (ApiKey.expires_at > func.now()),
    )
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def revoke_key(engine: AsyncEngine, account_id: str, key: str) -> KeyRecord | None:
    """Revoke the account's key with that id at once; None if it has no such live key."""
    async with engine.begin() as conn:
        row = (
            await conn.execute(
                update(ApiKey)
                .where(ApiKey.account_id == account_id, ApiKey.id == key)
                .where(ApiKey.revoked_at.is_(None))
                .values(revoked_at=func.now())
                .returning(*_COLUMNS)
            )
        ).one_or_none()
    return None if row is None else _record(row)


async def rotate_key(
    engine: AsyncEngine, account_id: str, key: str, grace: timedelta = timedelta(0)
) -> tuple[str, KeyRecord] | None:
    """A new key in place of the account's key with that id (same name, role and lifetime);
    the old one is revoked now, or expires after `grace`. None if no such live key."""
    async with engine.begin() as conn:
        old = (
            await conn.execute(
                select(*_COLUMNS, func.now().label("now"))
                .where(ApiKey.account_id == account_id, ApiKey.id == key)
                .where(ApiKey.revoked_at.is_(None))
                .with_for_update()
            )
        ).one_or_none()
        if old is None:
            return None
        now: datetime = old.now
        lifetime = old.expires_at - old.created_at if old.expires_at else None
        made = await _insert_key(
            conn, account_id, old.name, old.role, now + lifetime if lifetime else None
        )
        ending = (
            {"revoked_at": now}
            if grace <= timedelta(0)
            else {"expires_at": min(filter(None, (old.expires_at, now + grace)))}
        )
        await conn.execute(
            update(ApiKey).where(ApiKey.account_id == account_id, ApiKey.id == key).values(**ending)
        )
        new = (await conn.execute(select(*_COLUMNS).where(ApiKey.id == key_id(made)))).one()
    return made, _record(new)
