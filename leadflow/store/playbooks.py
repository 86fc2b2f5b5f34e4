"""Playbook versions per account: the API starts new leads on the current version;
running leads keep the version they started with (it travels in their workflow input)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.playbook.schema import Playbook
from leadflow.store.tables import Account, PlaybookVersion


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
