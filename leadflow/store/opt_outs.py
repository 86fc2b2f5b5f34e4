"""What each address said about being contacted, across the account: opt-outs, consents and
the opt-ins recorded on evidence.

This module is the only writer of opt-outs. Its functions take a connection, so a caller
keeps its own transaction (a webhook writes the opt-out before it answers), or give the
statement, which the store activity runs with the rest of a decision's writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from pydantic_core import to_json
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from leadflow.store.db import Write, execute, rows_insert
from leadflow.store.tables import Consent, OptInRecord, OptOut


def opt_out_insert(
    account_id: str, channels: Iterable[str], address: str, *, source: str, at: datetime
) -> Write:
    """The address asked not to be contacted on these channels at `at`. A row there already
    keeps the later of the two moments (and that moment's source), so an opt-in heard between
    them never clears the newer opt-out (`opt_in_delete`)."""
    rows = [{"channel": c, "source": source} for c in channels]
    return Write(_OPT_OUT, (account_id, address, at, to_json(rows).decode()))


_OPT_OUT = (
    f"INSERT INTO {OptOut.__tablename__} AS o (account_id, channel, address, source, at) "
    "SELECT $1, r.channel, $2, r.source, $3::timestamptz "
    "FROM jsonb_to_recordset($4::jsonb) AS r(channel varchar, source varchar) "
    "ON CONFLICT (account_id, channel, address) DO UPDATE "
    "SET at = excluded.at, source = excluded.source WHERE o.at < excluded.at"
)


def opt_in_delete(account_id: str, channels: Iterable[str], address: str, at: datetime) -> Write:
    """The address may be contacted on these channels again, as it said at `at`: opt-outs
    from before then end; one said later holds, however late this opt-in is written (the
    lead's workflow writes what it heard in order, after the webhook that heard it)."""
    return Write(_OPT_IN, (account_id, address, list(channels), at))


_OPT_IN = (
    f"DELETE FROM {OptOut.__tablename__} "
    "WHERE account_id = $1 AND address = $2 AND channel = ANY($3::varchar[]) "
    "AND at <= $4::timestamptz"
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
    conn: AsyncConnection, account_id: str, channels: Iterable[str], address: str, at: datetime
) -> None:
    await execute(conn, opt_in_delete(account_id, channels, address, at))


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
    await opt_in(conn, account_id, channels, address, datetime.now(UTC))
