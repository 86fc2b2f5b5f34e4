"""Sending numbers and email addresses on record, each held by one account.

Only the operator records them (`leadflow sender add`): an account cannot claim a number, so
it can neither text from another account's number nor use up that number's rate. The API
refuses a designation that would text from a number the account does not hold, and the
send activity checks again before the provider is called.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from leadflow.store.access_tables import Sender


class SenderTaken(ValueError):
    """The address is another account's."""


@dataclass(frozen=True)
class SenderRecord:
    channel: str
    address: str
    created_at: datetime


async def add_sender(engine: AsyncEngine, account_id: str, channel: str, address: str) -> bool:
    """Record that the account sends from `address`; False if it already did. SenderTaken
    if another account holds it (remove it there first)."""
    async with engine.begin() as conn:
        made = (
            await conn.execute(
                insert(Sender)
                .values(channel=channel, address=address, account_id=account_id)
                .on_conflict_do_nothing()
                .returning(Sender.account_id)
            )
        ).one_or_none()
        if made is not None:
            return True
        holder = await account_of(conn, channel, address)
    if holder != account_id:
        raise SenderTaken(f"{address} is held by account {holder!r}; remove it there first")
    return False


async def remove_sender(engine: AsyncEngine, account_id: str, channel: str, address: str) -> bool:
    async with engine.begin() as conn:
        gone = await conn.execute(
            delete(Sender).where(
                Sender.account_id == account_id,
                Sender.channel == channel,
                Sender.address == address,
            )
        )
    return bool(gone.rowcount)


async def list_senders(engine: AsyncEngine, account_id: str) -> list[SenderRecord]:
    query = (
        select(Sender.channel, Sender.address, Sender.created_at)
        .where(Sender.account_id == account_id)
        .order_by(Sender.channel, Sender.address)
    )
    async with engine.connect() as conn:
        return [SenderRecord(*row) for row in await conn.execute(query)]


async def account_of(conn: AsyncConnection, channel: str, address: str) -> str | None:
    """The one account that sends from `address` on `channel`, if any holds it."""
    query = select(Sender.account_id).where(Sender.channel == channel, Sender.address == address)
    found: str | None = (await conn.execute(query)).scalar_one_or_none()
    return found


async def not_held(
    engine: AsyncEngine, account_id: str, channel: str, addresses: set[str]
) -> list[str]:
    """Those of `addresses` the account does not hold, sorted."""
    if not addresses:
        return []
    query = select(Sender.address).where(
        Sender.account_id == account_id,
        Sender.channel == channel,
        Sender.address.in_(sorted(addresses)),
    )
    async with engine.connect() as conn:
        held = set((await conn.execute(query)).scalars())
    return sorted(addresses - held)
