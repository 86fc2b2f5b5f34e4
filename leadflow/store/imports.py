"""An import's rows in PostgreSQL: written once with what reading them found, claimed a
batch at a time by whoever runs the import (`FOR UPDATE SKIP LOCKED`: two runners share
the work, a crashed one's claim returns at once), each marked with what its start did."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic_core import to_json
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from leadflow.store.db import Write, execute, rows_insert
from leadflow.store.import_tables import STATES, ImportRow


@dataclass(frozen=True)
class Row:
    """What reading a line found: its lead, or its state and why."""

    line: int
    lead_id: str | None
    state: str
    detail: str | None
    body: dict[str, Any] | None


@dataclass(frozen=True)
class Progress:
    id: str
    account_id: str
    name: str
    total: int
    counts: dict[str, int]  # by state, every state present
    created_at: datetime
    finished_at: datetime | None

    @property
    def done(self) -> int:
        return self.total - self.counts["pending"]


async def create(
    engine: AsyncEngine,
    account_id: str,
    name: str,
    digest: str,
    actor: str,
    rows: Sequence[Row],
    party: str,
) -> tuple[str, bool]:
    """The import of this file for the account, new (True) or found (False: the same file
    and mapping were brought in before, and running it again resumes it). A new one's
    lines that repeat a lead the account has (another lead id, the same email, or the same
    phone and name) are held as duplicates before anything starts."""
    async with engine.begin() as conn:
        found = await conn.execute(
            text("SELECT id FROM imports WHERE account_id = :a AND digest = :d"),
            {"a": account_id, "d": digest},
        )
        existing = found.scalar_one_or_none()
        if existing is not None:
            return str(existing), False
        new_id = secrets.token_hex(16)
        await conn.execute(
            text(
                "INSERT INTO imports (id, account_id, name, digest, total, actor) "
                "VALUES (:id, :a, :n, :d, :t, :actor)"
            ),
            {"id": new_id, "a": account_id, "n": name[:200], "d": digest, "t": len(rows),
             "actor": actor[:200]},
        )  # fmt: skip
        for start in range(0, len(rows), 5_000):
            chunk = [
                {"import_id": new_id, "line": r.line, "lead_id": r.lead_id, "state": r.state,
                 "detail": r.detail, "body": r.body}
                for r in rows[start : start + 5_000]
            ]  # fmt: skip
            await execute(conn, rows_insert(ImportRow, chunk))
        await conn.execute(text(_IN_THE_ACCOUNT), {"id": new_id, "a": account_id, "p": party})
    return new_id, True


# A pending line whose party has an email, or a phone and name, one of the account's leads
# (under another id) has: held, naming that lead.
_IN_THE_ACCOUNT = """
UPDATE import_rows r SET state = 'duplicate', body = NULL, done_at = now(),
  detail = 'the same ' || m.why || ' as lead ' || m.other
FROM (
  SELECT DISTINCT ON (r.line) r.line, p.lead_id AS other,
    CASE WHEN lower(p.email) = lower(r.body #>> ARRAY['parties', :p, 'email'])
      THEN 'email' ELSE 'phone and name' END AS why
  FROM import_rows r
  JOIN parties p ON p.account_id = :a AND p.lead_id <> r.lead_id AND (
    lower(p.email) = lower(r.body #>> ARRAY['parties', :p, 'email'])
    OR (p.phone = r.body #>> ARRAY['parties', :p, 'phone']
        AND lower(p.name) = lower(r.body #>> ARRAY['parties', :p, 'name'])))
  WHERE r.import_id = :id AND r.state = 'pending'
  ORDER BY r.line, p.lead_id
) m
WHERE r.import_id = :id AND r.line = m.line
"""


async def claim(conn: AsyncConnection, import_id: str, limit: int) -> list[Row]:
    """The next pending lines, held by this transaction until it ends."""
    found = await conn.execute(
        text(
            "SELECT line, lead_id, state, detail, body FROM import_rows "
            "WHERE import_id = :id AND state = 'pending' ORDER BY line LIMIT :n "
            "FOR UPDATE SKIP LOCKED"
        ),
        {"id": import_id, "n": limit},
    )
    return [Row(**row) for row in found.mappings()]


_DONE = """
UPDATE import_rows r SET state = d.state, detail = d.detail, body = NULL, done_at = now()
FROM jsonb_to_recordset($2::jsonb) AS d(line int, state varchar, detail text)
WHERE r.import_id = $1 AND r.line = d.line
"""


def done(import_id: str, outcomes: Sequence[tuple[int, str, str | None]]) -> Write:
    """Each line's state after its start (started, existing, refused) and why."""
    assert all(state in STATES for _, state, _ in outcomes)
    rows = [{"line": line, "state": state, "detail": detail} for line, state, detail in outcomes]
    return Write(_DONE, (import_id, to_json(rows).decode()))


async def finish(engine: AsyncEngine, import_id: str) -> None:
    """Mark it finished once no line waits."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE imports SET finished_at = now() WHERE id = :id AND finished_at IS NULL "
                "AND NOT EXISTS (SELECT 1 FROM import_rows WHERE import_id = :id "
                "AND state = 'pending')"
            ),
            {"id": import_id},
        )


async def progress(engine: AsyncEngine, import_id: str, account_id: str) -> Progress | None:
    """Where the account's import stands; None if the account has no such import."""
    async with engine.connect() as conn:
        head = (
            (
                await conn.execute(
                    text("SELECT * FROM imports WHERE id = :id AND account_id = :a"),
                    {"id": import_id, "a": account_id},
                )
            )
            .mappings()
            .first()
        )
        if head is None:
            return None
        counted = await conn.execute(
            text(
                "SELECT state, count(*) AS n FROM import_rows WHERE import_id = :id GROUP BY state"
            ),
            {"id": import_id},
        )
        counts = dict.fromkeys(STATES, 0) | {r["state"]: r["n"] for r in counted.mappings()}
    return Progress(
        id=import_id, account_id=account_id, name=head["name"], total=head["total"],
        counts=counts, created_at=head["created_at"], finished_at=head["finished_at"],
    )  # fmt: skip


async def report(engine: AsyncEngine, import_id: str) -> list[Row]:
    """Every line, in the file's order."""
    async with engine.connect() as conn:
        found = await conn.execute(
            text(
                "SELECT line, lead_id, state, detail, NULL AS body FROM import_rows "
                "WHERE import_id = :id ORDER BY line"
            ),
            {"id": import_id},
        )
        return [Row(**row) for row in found.mappings()]


async def unfinished(engine: AsyncEngine) -> list[tuple[str, str, str]]:
    """Imports some of whose lines wait: (id, account, actor), oldest first."""
    async with engine.connect() as conn:
        found = await conn.execute(
            text(
                "SELECT id, account_id, actor FROM imports WHERE finished_at IS NULL "
                "ORDER BY created_at"
            )
        )
        return [(r.id, r.account_id, r.actor) for r in found]
