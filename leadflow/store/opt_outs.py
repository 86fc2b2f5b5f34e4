"""What each address said about being contacted, across the account: opt-outs and consents.

This module is the only writer of opt-outs. Its functions take a connection, so a caller
keeps its own transaction (a webhook writes the opt-out before it answers), or give the
statement, which the store activity runs with the rest of a decision's writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Executable, delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from leadflow.store.db import rows_insert
from leadflow.store.tables import Consent, OptOut


def opt_out_insert(
    account_id: str, channels: Iterable[str], address: str, *, source: str, at: datetime
) -> Executable:
    """The address asked not to be contacted on these channels; a repeat changes nothing."""
    rows = [
        {"account_id": account_id, "channel": c, "address": address, "source": source, "at": at}
        for c in channels
    ]
    return insert(OptOut).values(rows).on_conflict_do_nothing()


def opt_in_delete(account_id: str, channels: Iterable[str], address: str) -> Executable:
    """The address may be contacted on these channels again."""
    return delete(OptOut).where(
        OptOut.account_id == account_id,
        OptOut.address == address,
        OptOut.channel.in_(list(channels)),
    )


def consents_insert(account_id: str, phones: list[tuple[str, str]], at: datetime) -> Executable:
    """Consent to automated texts: each phone with where it came from (the first one holds)."""
    rows = [
        {"account_id": account_id, "channel": "sms", "address": phone, "source": source, "at": at}
        for phone, source in phones
    ]
    return rows_insert(Consent, rows)


async def opt_out(
    conn: AsyncConnection,
    account_id: str,
    channels: Iterable[str],
    address: str,
    *,
    source: str,
    at: datetime,
) -> None:
    channels = list(channels)
    if channels:
        await conn.execute(opt_out_insert(account_id, channels, address, source=source, at=at))


async def opt_in(
    conn: AsyncConnection, account_id: str, channels: Iterable[str], address: str
) -> None:
    await conn.execute(opt_in_delete(account_id, channels, address))
