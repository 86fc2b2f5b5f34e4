"""What each address said about being contacted, across the account: opt-outs, consents and
the opt-ins recorded on evidence.

This module is the only writer of opt-outs. Its functions take a connection, so a caller
keeps its own transaction (a webhook writes the opt-out before it answers), or give the
statement, which the store activity runs with the rest of a decision's writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from leadflow.store.db import Write, execute, rows_insert
from leadflow.store.tables import Consent, OptInRecord, OptOut


def opt_out_insert(
    account_id: str, channels: Iterable[str], address: str, *, source: str, at: datetime
) -> Write:
    """The address asked not to be contacted on these channels; a repeat changes nothing."""
    rows = [
        {"account_id": account_id, "channel": c, "address": address, "source": source, "at": at}
        for c in channels
    ]
    return rows_insert(OptOut, rows)


def opt_in_delete(account_id: str, channels: Iterable[str], address: str) -> Write:
    """The address may be contacted on these channels again."""
    return Write(_OPT_IN, (account_id, address, list(channels)))


_OPT_IN = (
    f"DELETE FROM {OptOut.__tablename__} "
    "WHERE account_id = $1 AND address = $2 AND channel = ANY($3::varchar[])"
)


def consents_insert(account_id: str, phones: list[tuple[str, str]], at: datetime) -> Write:
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
        await execute(conn, opt_out_insert(account_id, channels, address, source=source, at=at))


async def opt_in(
    conn: AsyncConnection, account_id: str, channels: Iterable[str], address: str
) -> None:
    await execute(conn, opt_in_delete(account_id, channels, address))


async def record_opt_in(
    conn: AsyncConnection,
    account_id: str,
    lead_id: str,
    scope: str,
    channels: Iterable[str],
    address: str,
    *,
    actor: str,
    evidence: str,
) -> None:
    """An opt-in someone recorded for a lead on evidence: kept with who and why, and the
    address may be contacted on these channels across the account again."""
    await conn.execute(
        insert(OptInRecord).values(
            account_id=account_id,
            lead_id=lead_id,
            channel=scope,
            address=address,
            actor=actor,
            evidence=evidence,
        )
    )
    await opt_in(conn, account_id, channels, address)
