"""What each address said about being contacted, across the account: opt-outs and consents.

This module is the only writer of opt-outs. Every function takes a connection, so a
caller keeps its own transaction: a webhook writes the opt-out before it answers, a
decision writes it with the rest of its commands.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from leadflow.store.tables import Consent, OptOut


async def opt_out(
    conn: AsyncConnection,
    account_id: str,
    channels: Iterable[str],
    address: str,
    *,
    source: str,
    at: datetime,
) -> None:
    """The address asked not to be contacted on these channels; a repeat changes nothing."""
    for channel in channels:
        await conn.execute(
            insert(OptOut)
            .values(account_id=account_id, channel=channel, address=address, source=source, at=at)
            .on_conflict_do_nothing()
        )


async def opt_in(
    conn: AsyncConnection, account_id: str, channels: Iterable[str], address: str
) -> None:
    """The address may be contacted on these channels again."""
    await conn.execute(
        delete(OptOut).where(
            OptOut.account_id == account_id,
            OptOut.address == address,
            OptOut.channel.in_(list(channels)),
        )
    )


async def record_consents(
    conn: AsyncConnection, account_id: str, phones: list[tuple[str, str]], at: datetime
) -> None:
    """Consent to automated texts: each phone with where it came from (the first one holds)."""
    rows = [
        {"account_id": account_id, "channel": "sms", "address": phone, "source": source, "at": at}
        for phone, source in phones
    ]
    if rows:
        await conn.execute(insert(Consent).values(rows).on_conflict_do_nothing())
