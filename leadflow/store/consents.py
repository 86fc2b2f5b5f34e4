"""Consent records: written once with their evidence, ended once by a revocation, never
overwritten (`consent_tables.ConsentRecord`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from leadflow.engine.refs import LeadRef
from leadflow.store.consent_tables import ConsentRecord
from leadflow.store.db import Write

_ENDED = (
    f"UPDATE {ConsentRecord.__tablename__} SET ended_at = $4, ended_why = $5 "
    "WHERE account_id = $1 AND lead_id = $2 AND id = ANY($3::varchar[]) AND ended_at IS NULL"
)


def ended(lead: LeadRef, ids: list[str], at: datetime, why: str) -> Write:
    """The consents a revocation ended, at `at` and why (the first end holds)."""
    return Write(_ENDED, (lead.account_id, lead.lead_id, ids, at, why))


async def record(conn: AsyncConnection, **values: Any) -> bool:
    """Keep a consent with its evidence; False if its id is on record already (a repeat)."""
    found = await conn.execute(
        insert(ConsentRecord)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(ConsentRecord.id)
    )
    return found.first() is not None


async def of_lead(conn: AsyncConnection, account_id: str, lead_id: str) -> list[Row[Any]]:
    """The lead's consents, oldest first, ended ones with when and why."""
    rows = await conn.execute(
        select(ConsentRecord)
        .where(ConsentRecord.account_id == account_id, ConsentRecord.lead_id == lead_id)
        .order_by(ConsentRecord.given_at, ConsentRecord.id)
    )
    return list(rows)
