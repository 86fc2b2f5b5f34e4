"""The unsubscribe link in every email: a random token per account and address, so the URL
names neither, and a POST to it (RFC 8058 one-click, or the page's button) opts the address
out of the account's emails at once (`leadflow.api.routes.unsubscribe`)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from leadflow.store.tables import UnsubscribeLink

# The address's token, made on its first email and the same in every later one (a retried
# send, another lead with the address): an upsert that returns the token that holds.
_TOKEN = f"""
INSERT INTO {UnsubscribeLink.__tablename__} (account_id, address, token)
VALUES ($1, $2, $3)
ON CONFLICT (account_id, address) DO UPDATE SET account_id = excluded.account_id
RETURNING token
"""


@dataclass(frozen=True)
class Unsubscribing:
    account_id: str
    address: str


async def token_for(engine: AsyncEngine, account_id: str, address: str) -> str:
    """The token in the unsubscribe link of the account's emails to `address`."""
    async with engine.connect() as conn:
        single = await conn.execution_options(isolation_level="AUTOCOMMIT")
        found = await single.exec_driver_sql(
            _TOKEN, (account_id, address, secrets.token_urlsafe(24))
        )
        return str(found.scalar_one())


async def named_by(conn: AsyncConnection, token: str) -> Unsubscribing | None:
    """The account and address a link's token stands for; None for a token never given."""
    row = (
        await conn.execute(
            select(UnsubscribeLink.account_id, UnsubscribeLink.address).where(
                UnsubscribeLink.token == token
            )
        )
    ).first()
    return Unsubscribing(row.account_id, row.address) if row is not None else None
