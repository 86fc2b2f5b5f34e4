"""One sealed value per encryption key id, so a key swapped under an old id is caught."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.store.tables import EncryptionKeyCheck


async def sealed_checks(engine: AsyncEngine, key_ids: list[str]) -> dict[str, bytes]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(EncryptionKeyCheck.key_id, EncryptionKeyCheck.sealed).where(
                EncryptionKeyCheck.key_id.in_(key_ids)
            )
        )
        return {row.key_id: row.sealed for row in rows}


async def add_checks(engine: AsyncEngine, sealed: dict[str, bytes]) -> None:
    if not sealed:
        return
    async with engine.begin() as conn:
        await conn.execute(
            insert(EncryptionKeyCheck)
            .values([{"key_id": k, "sealed": v} for k, v in sealed.items()])
            .on_conflict_do_nothing()
        )
