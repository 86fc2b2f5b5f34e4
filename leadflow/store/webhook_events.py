"""Provider events already handled, so a repeated delivery is acknowledged and ignored."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from leadflow.store.tables import WebhookEvent


async def first_delivery(conn: AsyncConnection, source: str, event_id: str) -> bool:
    """Remember the event; False if it was handled before."""
    new = (
        await conn.execute(
            insert(WebhookEvent)
            .values(source=source, event_id=event_id)
            .on_conflict_do_nothing()
            .returning(WebhookEvent.event_id)
        )
    ).scalar_one_or_none()
    return new is not None


async def forget(conn: AsyncConnection, source: str, event_id: str) -> None:
    """Handle the event again when it comes again: what it was to cause did not all happen."""
    await conn.execute(
        delete(WebhookEvent).where(WebhookEvent.source == source, WebhookEvent.event_id == event_id)
    )
