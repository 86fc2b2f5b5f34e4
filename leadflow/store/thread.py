"""A lead's thread: every text and email both ways, with the delivery state of each sent,
and the calls logged and notes, newest first, a page at a time.

Three tables speak: the outbox (what the account sent a party, with its status and why it
failed), `inbound_messages` (what a party wrote back: a text through the provider's signed
webhook, an email reply through SendGrid's Inbound Parse, a reply posted through the API)
and `history_notes` (calls logged with their dispositions, changes and notes). Each part is
read down its own (account, lead, time) index and merged; a page ends at a cursor (the last
entry's time and id), so a page never repeats or skips an entry that arrives meanwhile.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from leadflow.store import (
    answered,
    thread_tables,  # noqa: F401  (its table, on the metadata)
)

PAGE = 50


class BadCursor(ValueError):
    """A cursor this thread did not hand out."""


class Entry(BaseModel):
    """One entry of a lead's thread."""

    at: datetime = Field(description="when it was sent, received or noted")
    direction: Literal["out", "in", "note"] = Field(
        description="out: the account to a party; in: a party to the account; note: a call "
        "logged, a change or a note"
    )
    kind: str = Field(description="sms, mms or email; a note's action (Call, Reply, Opt-out...)")
    party: str | None = Field(description="the lead's party it went to or came from")
    subject: str | None = Field(description="an email's subject")
    body: str = Field(description="the words sent or received, or the note")
    status: str | None = Field(
        description="a sent message's delivery state: queued, sending, sent, delivered, "
        "undelivered, failed, suppressed (opted out), expired (its window closed)"
    )
    error: str | None = Field(description="why a sent message failed or was held back")
    by: str | None = Field(
        description="who: the sender a message went as, the address a reply came from, "
        "the actor of a note"
    )
    id: str = Field(description="the entry's id, unique in the thread")


_THREAD = """
SELECT * FROM (
    SELECT o.created_at AS at, 'out' AS direction, o.channel AS kind, o.party, o.subject,
        o.body, o.status, o.error, o.sender_id AS by, 'o:' || o.key AS id
    FROM outbox AS o
    WHERE o.account_id = $1 AND o.lead_id = $2 AND o.audience = 'lead'
      AND ($3::timestamptz IS NULL OR (o.created_at, 'o:' || o.key) < ($3, $4))
    UNION ALL
    SELECT i.received_at, 'in', i.channel, i.party, i.subject, i.body, NULL, NULL,
        i.from_address, 'i:' || i.key
    FROM inbound_messages AS i
    WHERE i.account_id = $1 AND i.lead_id = $2
      AND ($3::timestamptz IS NULL OR (i.received_at, 'i:' || i.key) < ($3, $4))
    UNION ALL
    SELECT h.occurred_at, 'note', h.action, NULL, NULL, h.note, NULL, NULL, h.actor,
        'h:' || h.key
    FROM history_notes AS h
    WHERE h.account_id = $1 AND h.lead_id = $2
      AND ($3::timestamptz IS NULL OR (h.occurred_at, 'h:' || h.key) < ($3, $4))
      -- a reply's words are in the thread: its bare note ("Reply by sms from...") is not
      AND NOT (h.action = 'Reply' AND EXISTS (
          SELECT 1 FROM inbound_messages AS r
          WHERE r.account_id = h.account_id AND r.lead_id = h.lead_id
            AND r.received_at BETWEEN h.occurred_at - interval '2 minutes'
                                  AND h.occurred_at + interval '2 minutes'))
) AS entries
ORDER BY at DESC, id DESC
LIMIT $5
"""


def cursor(entry: Entry) -> str:
    raw = f"{entry.at.isoformat()}|{entry.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _parse(value: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        at, _, entry = raw.partition("|")
        moment = datetime.fromisoformat(at)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadCursor(f"before: {value[:40]!r} is not a cursor this thread gave") from None
    if not entry or moment.tzinfo is None:
        raise BadCursor(f"before: {value[:40]!r} is not a cursor this thread gave")
    return moment, entry


async def page(
    engine: AsyncEngine,
    account_id: str,
    lead_id: str,
    *,
    before: str | None = None,
    limit: int = PAGE,
) -> tuple[list[Entry], str | None]:
    """The thread's entries before `before` (a cursor; None: the newest), at most `limit`,
    newest first, and the cursor of the next page (None: no more)."""
    at, last = _parse(before) if before else (None, "")
    rows = await _fetch(engine, (account_id, lead_id, at, last, limit + 1))
    entries = [Entry.model_validate(dict(row)) for row in rows[:limit]]
    more = len(rows) > limit
    return entries, cursor(entries[-1]) if more and entries else None


async def _fetch(engine: AsyncEngine, args: tuple[object, ...]) -> list[RowMapping]:
    async with engine.connect() as conn:
        return list((await conn.exec_driver_sql(_THREAD, args)).mappings())


async def zone(engine: AsyncEngine, account_id: str, lead_id: str) -> str | None:
    """The lead's time zone, None when the account has no such lead (its thread is a 404)."""
    async with engine.connect() as conn:
        found = (await conn.exec_driver_sql(_ZONE, (account_id, lead_id))).first()
    return None if found is None else str(found[0])


_ZONE = "SELECT time_zone FROM leads WHERE account_id = $1 AND lead_id = $2"

_RECORD = f"""
WITH kept AS (
INSERT INTO inbound_messages (account_id, lead_id, key, channel, party, from_address,
    to_address, subject, body, keyword, received_at, {", ".join(answered.COLUMNS)})
SELECT $1::varchar, $2::varchar, $3::varchar, $4::varchar, $5::varchar, $6::varchar,
    $7::varchar, $8::text, $9::text, $10::varchar, $11::timestamptz,
    {", ".join(f"m.{name}" for name in answered.COLUMNS)}
FROM (SELECT 1) AS one {answered.joined("$1::varchar", "$2::varchar", "$11::timestamptz")}
WHERE EXISTS (SELECT 1 FROM leads WHERE account_id = $1 AND lead_id = $2)
ON CONFLICT DO NOTHING
RETURNING answered_key, keyword
)
{
    answered.marked(
        "kept.answered_key",
        f"CASE WHEN kept.keyword = 'stop' THEN {answered.REPLIED | answered.OPTED_OUT} "
        f"ELSE {answered.REPLIED} END",
        "kept",
    )
}
"""


async def record(
    conn: AsyncConnection,
    account_id: str,
    lead_id: str,
    key: str,
    *,
    channel: str,
    party: str,
    sender: str,
    to: str | None,
    body: str,
    at: datetime,
    subject: str | None = None,
    keyword: str | None = None,
) -> None:
    """Keep what a party wrote, once per lead and provider message (a provider's retry of
    the same message writes nothing; a lead since deleted keeps nothing)."""
    args = (account_id, lead_id, key, channel, party, sender, to, subject, body, keyword, at)
    await conn.exec_driver_sql(_RECORD, args)
