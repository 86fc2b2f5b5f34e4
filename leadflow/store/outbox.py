"""The outbox: every message a lead is to receive, written before any provider is called.

The decision that sends a message writes its row; the send activity moves it through its
statuses and records the provider's id; the provider's status callbacks move it on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from leadflow.engine.commands import SendMessage
from leadflow.engine.refs import LeadRef
from leadflow.store.tables import OutboxMessage

# A provider's delivery statuses in the order they happen: a callback never moves back.
DELIVERY_ORDER = ["queued", "sending", "sent", "delivered", "undelivered", "failed", "read"]


async def add(
    conn: AsyncConnection, key: str, lead: LeadRef, message: SendMessage, at: datetime
) -> None:
    await conn.execute(
        insert(OutboxMessage)
        .values(
            key=key,
            account_id=lead.account_id,
            lead_id=lead.lead_id,
            channel=message.channel,
            party=message.party,
            to_address=message.to,
            sender_id=message.sender.id,
            from_number=message.sender.sms_from,
            template=message.template,
            subject=message.subject,
            body=message.body,
            media=message.media,
            created_at=at,
        )
        .on_conflict_do_nothing()
    )


async def get(engine: AsyncEngine, key: str) -> OutboxMessage | None:
    """The message as stored now (a detached row, not tracked by any session)."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(select(OutboxMessage.__table__).where(OutboxMessage.key == key))
        ).one_or_none()
    return None if row is None else OutboxMessage(**row._mapping)


async def mark(engine: AsyncEngine, key: str, **values: Any) -> None:
    """Record how an attempt went: its status, the provider's id, the error."""
    async with engine.begin() as conn:
        await conn.execute(update(OutboxMessage).where(OutboxMessage.key == key).values(**values))


async def advance(
    engine: AsyncEngine, account_id: str, provider_id: str, status: str
) -> OutboxMessage | None:
    """Move the message the provider knows as `provider_id` on to `status`; the message if
    it moved, None if unknown, or if the status is stale or repeated."""
    if status not in DELIVERY_ORDER:
        return None
    async with engine.begin() as conn:
        row = (
            await conn.execute(
                select(OutboxMessage.__table__).where(
                    OutboxMessage.account_id == account_id,
                    OutboxMessage.provider_id == provider_id,
                )
            )
        ).one_or_none()
        if row is None:
            return None
        current = DELIVERY_ORDER.index(row.status) if row.status in DELIVERY_ORDER else 0
        if DELIVERY_ORDER.index(status) <= current:
            return None
        await conn.execute(
            update(OutboxMessage).where(OutboxMessage.key == row.key).values(status=status)
        )
    return OutboxMessage(**{**row._mapping, "status": status})
