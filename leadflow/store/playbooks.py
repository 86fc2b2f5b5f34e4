"""Playbook versions per account: the API starts new leads on the current version;
running leads keep the version they started with (it travels in their workflow input)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.playbook.schema import Playbook
from leadflow.playbook.shelf import SHELF, PlaybookRef
from leadflow.store.tables import Account, PlaybookContent, PlaybookVersion

_KEPT: set[str] = set()  # digests this process has stored: each is written once


class VersionConflict(ValueError):
    """The same name and version, stored before with other content."""


async def save_version(engine: AsyncEngine, account_id: str, book: Playbook) -> bool:
    """Store this version for the account; False if it was already stored, unchanged."""
    body = book.model_dump(mode="json")
    async with engine.begin() as conn:
        stored = (
            await conn.execute(
                select(PlaybookVersion.body).where(
                    PlaybookVersion.account_id == account_id,
                    PlaybookVersion.name == book.name,
                    PlaybookVersion.version == book.version,
                )
            )
        ).scalar_one_or_none()
        if stored is not None:
            if stored != body:
                raise VersionConflict(
                    f"playbook {book.name!r} version {book.version} is already stored for "
                    f"{account_id!r} with other content: raise its version"
                )
            return False
        await conn.execute(
            insert(PlaybookVersion).values(
                account_id=account_id, name=book.name, version=book.version, body=body
            )
        )
    return True


async def current_version(engine: AsyncEngine, account_id: str) -> Playbook | None:
    """The newest stored version of the account's playbook, if any was stored."""
    async with engine.connect() as conn:
        body = (
            await conn.execute(
                select(PlaybookVersion.body)
                .join(Account, Account.id == PlaybookVersion.account_id)
                .where(
                    PlaybookVersion.account_id == account_id,
                    PlaybookVersion.name == Account.playbook,
                )
                .order_by(PlaybookVersion.version.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
    return None if body is None else Playbook.model_validate(body)


async def versions_of(engine: AsyncEngine, account_id: str) -> dict[int, Playbook]:
    """Every stored version of the account's playbook (the name it runs), by version."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(PlaybookVersion.version, PlaybookVersion.body)
                .join(Account, Account.id == PlaybookVersion.account_id)
                .where(
                    PlaybookVersion.account_id == account_id,
                    PlaybookVersion.name == Account.playbook,
                )
            )
        ).all()
    return {version: Playbook.model_validate(body) for version, body in rows}


async def keep(engine: AsyncEngine, book: Playbook) -> PlaybookRef:
    """Store the playbook's content by digest (once), so any worker can load it, and hold it
    on this process's shelf; return the reference a lead's workflow carries."""
    ref = SHELF.put(book)
    if ref.digest not in _KEPT:
        async with engine.begin() as conn:
            await conn.execute(
                insert(PlaybookContent)
                .values(digest=ref.digest, body=book.model_dump(mode="json"))
                .on_conflict_do_nothing()
            )
        _KEPT.add(ref.digest)
    return ref


def loader(engine: AsyncEngine) -> Callable[[str], Awaitable[Playbook | None]]:
    """Load a playbook by digest from PostgreSQL: the worker's codec uses it."""

    async def load(key: str) -> Playbook | None:
        async with engine.connect() as conn:
            body = (
                await conn.execute(
                    select(PlaybookContent.body).where(PlaybookContent.digest == key)
                )
            ).scalar_one_or_none()
        return None if body is None else Playbook.model_validate(body)

    return load
