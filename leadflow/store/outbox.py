"""The outbox: every message a lead is to receive, written before any provider is called.

The decision that sends a message writes its row; the send activity moves it through its
statuses and records the provider's id; the provider's status callbacks move it on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from leadflow.engine.commands import SendMessage
from leadflow.engine.refs import LeadRef
from leadflow.store.db import Write, rows_insert
from leadflow.store.tables import OutboxMessage

# A provider's delivery statuses in the order they happen: a callback never moves back.
DELIVERY_ORDER = ["queued", "sending", "sent", "delivered", "undelivered", "failed", "read"]


def messages_insert(lead: LeadRef, messages: list[tuple[str, SendMessage]], at: datetime) -> Write:
    """The decision's messages, each under its key (a statement the store activity runs with
    the rest of the decision)."""
    rows = [
        {
            "key": key,
            "account_id": lead.account_id,
            "lead_id": lead.lead_id,
            "channel": message.channel,
            "party": message.party,
            "to_address": message.to,
            "sender_id": message.sender.id,
            "from_number": message.sender.sms_from,
            "template": message.template,
            "subject": message.subject,
            "body": message.body,
            "media": message.media,
            "status": "queued",  # in a statement run with others, column defaults do not apply
            "attempts": 0,
            "created_at": at,
            "send_by": message.send_by,
            "caps": [cap.model_dump(mode="json") for cap in message.caps] or None,
            "do_not_call": message.lists or None,
            "exemption": message.exemption,
            "reassigned_since": message.reassigned_since,
            **_campaign_step(key),
        }
        for key, message in messages
    ]
    # A row that is there but was never attempted (a workflow task retried after its decision
    # wrote it) takes the decision's values: it must not keep a stale address or number.
    write = rows_insert(OutboxMessage, rows, conflict=("key",), update=_REWRITTEN)
    return Write(write.sql + _NEVER_ATTEMPTED, write.args)


# A campaign step's touch key: `campaign:<name>:<run>:<step>:<party>` (`engine.due`).
_STEP_KEY = re.compile(r":campaign:([^:]+):[0-9]+:([0-9]+):[^:]+$")


def _campaign_step(key: str) -> dict[str, Any]:
    """The campaign and step a message's key names, for the per-step report."""
    found = _STEP_KEY.search(key)
    if found is None:
        return {"campaign": None, "step": None}
    return {"campaign": found.group(1), "step": int(found.group(2))}


_REWRITTEN: tuple[str, ...] = ("channel", "party", "to_address", "sender_id", "from_number")
_REWRITTEN += ("template", "subject", "body", "media", "created_at", "send_by", "caps")
_REWRITTEN += ("do_not_call", "exemption", "reassigned_since")
_NEVER_ATTEMPTED = " WHERE outbox.attempts = 0 AND outbox.provider_id IS NULL"


async def mark(engine: AsyncEngine, key: str, **values: Any) -> None:
    """Record how an attempt went: its status, the provider's id, the error (one statement,
    committed as it runs)."""
    async with engine.connect() as conn:
        single = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await single.execute(update(OutboxMessage).where(OutboxMessage.key == key).values(**values))


async def advance(
    engine: AsyncEngine, provider_id: str, to_address: str, status: str
) -> OutboxMessage | None:
    """Move the message the provider knows as `provider_id`, sent to `to_address`, on to
    `status`; the message if it moved, None if unknown (or sent elsewhere), or if the status
    is stale or repeated. The message says whose it is: no caller names an account."""
    if status not in DELIVERY_ORDER or not provider_id:
        return None
    async with engine.begin() as conn:
        row = (
            await conn.execute(
                select(OutboxMessage.__table__)
                .where(OutboxMessage.provider_id == provider_id)
                .with_for_update()
            )
        ).first()
        if row is None or row.to_address != to_address:
            return None
        current = DELIVERY_ORDER.index(row.status) if row.status in DELIVERY_ORDER else 0
        if DELIVERY_ORDER.index(status) <= current:
            return None
        await conn.execute(
            update(OutboxMessage).where(OutboxMessage.key == row.key).values(status=status)
        )
    return OutboxMessage(**{**row._mapping, "status": status})


async def email_named(conn: AsyncConnection, key: str, email: str) -> OutboxMessage | None:
    """The email the provider's event names by its key, if it went to `email` (an address
    compares without case); None otherwise."""
    row = (
        await conn.execute(
            select(OutboxMessage.__table__).where(
                OutboxMessage.key == key, OutboxMessage.channel == "email"
            )
        )
    ).first()
    if row is None or row.to_address.casefold() != email.casefold() or row.audience != "lead":
        return None  # not ours, or a notice to a user: nothing of the lead's to suppress
    return OutboxMessage(**row._mapping)


@dataclass(frozen=True)
class Texted:
    """The last text an account sent to an address from a number."""

    account_id: str
    lead_id: str
    party: str
    at: datetime


async def texts_to(
    conn: AsyncConnection, address: str, number: str, *, default_number: bool
) -> list[Texted]:
    """Per account, the last text it sent to `address` from `number`, newest first; with
    `default_number`, `number` is the platform's own, which a text without a number of its
    own goes from."""
    sender = OutboxMessage.from_number == number
    if default_number:
        sender = or_(sender, OutboxMessage.from_number.is_(None))
    texts = OutboxMessage.channel.in_(("sms", "mms"))
    return await _last_per_account(conn, OutboxMessage.to_address == address, texts, sender)


async def emails_to(conn: AsyncConnection, address: str) -> list[Texted]:
    """Per account, the last email it sent a lead's party at `address` (compared without
    case), newest first: whom an email reply from that address answers."""
    to = func.lower(OutboxMessage.to_address) == address.lower()
    return await _last_per_account(conn, to, OutboxMessage.channel == "email")


async def _last_per_account(conn: AsyncConnection, *where: Any) -> list[Texted]:
    """Per account, the last message to a lead's party that the provider took, of those
    `where` picks, newest first (a user's reply to a notice is not a lead's)."""
    rows = await conn.execute(
        select(
            OutboxMessage.account_id,
            OutboxMessage.lead_id,
            OutboxMessage.party,
            OutboxMessage.created_at,
        )
        .where(*where, OutboxMessage.provider_id.is_not(None), OutboxMessage.audience == "lead")
        .order_by(OutboxMessage.account_id, OutboxMessage.created_at.desc())
        .distinct(OutboxMessage.account_id)
    )
    return sorted((Texted(*row) for row in rows), key=lambda t: t.at, reverse=True)


_RETAKE = """
    UPDATE outbox SET status = 'sending', attempts = attempts + 1, attempted_at = $4
    WHERE key = $1 AND status = $2 AND attempts = $3 AND provider_id IS NULL
    RETURNING key
"""


async def retake(engine: AsyncEngine, key: str, seen: OutboxMessage, now: datetime) -> bool:
    """After a lookup found nothing, take the message for a new attempt, only if it is still
    as this attempt saw it (its status and attempts): of two racing retries, one sends."""
    async with engine.connect() as conn:
        single = await conn.execution_options(isolation_level="AUTOCOMMIT")
        found = await single.exec_driver_sql(_RETAKE, (key, seen.status, seen.attempts, now))
        return found.first() is not None


async def recorded_elsewhere(engine: AsyncEngine, key: str, provider_ids: list[str]) -> set[str]:
    """Which of these provider ids another message of the outbox has recorded already."""
    if not provider_ids:
        return set()
    async with engine.connect() as conn:
        found = await conn.exec_driver_sql(
            "SELECT provider_id FROM outbox WHERE provider_id = ANY($1::text[]) AND key <> $2",
            (provider_ids, key),
        )
        return {str(r[0]) for r in found}


# An attempt that ended in doubt: `unknown`, the provider answered with an error that may
# hide a send (429, 5xx); `unanswered`, no answer came (timeout, dropped connection);
# `sending`, the attempt was cut off (its worker died). Each is looked up before a resend.
IN_DOUBT = ("sending", "unanswered", "unknown")

# Take the message for an attempt in one statement: the row as it was, whether its address
# opted out of its channel (a text opt-out covers both texts), whether its account has sent
# its limit of texts in the last 24 hours ($3; 0: no limit), and whether this attempt took
# it (marked it `sending`): only a message not yet sent, not opted out, not over the limit,
# not failed for good, and not left in doubt by an earlier attempt (those are reconciled
# first), and not one whose window ends by $4 (the attempt's time and a margin) is taken.
# A text taken counts in its account's hour (older hours are let go).
# The driver runs it as it is: SQLAlchemy neither compiles nor processes it (a message's
# send waits on it).
_TAKE = """
    WITH current AS (
        SELECT o.*, EXISTS (
            SELECT 1 FROM opt_outs x
            WHERE x.account_id = o.account_id AND x.address = o.to_address
              AND x.channel = CASE WHEN o.channel IN ('sms', 'mms') THEN 'sms' ELSE o.channel END
        ) AS opted_out,
        CASE WHEN $3::int > 0 AND o.channel IN ('sms', 'mms') THEN (
            SELECT coalesce(sum(c.texts), 0) FROM text_counts c
            WHERE c.account_id = o.account_id AND c.hour > $2::timestamptz - interval '24 hours'
        ) >= $3::int ELSE false END AS over_limit
        FROM outbox o WHERE o.key = $1 FOR UPDATE OF o
    ), taken AS (
        UPDATE outbox SET status = 'sending', attempts = current.attempts + 1,
                          attempted_at = $2
        FROM current
        WHERE outbox.key = current.key AND current.provider_id IS NULL
          AND NOT current.opted_out AND NOT current.over_limit
          AND current.status NOT IN ('sending', 'unanswered', 'unknown', 'failed', 'expired')
          AND (current.send_by IS NULL OR current.send_by > $4::timestamptz)
        RETURNING outbox.key, outbox.account_id, outbox.channel
    ), counted AS (
        INSERT INTO text_counts AS c (account_id, hour, texts)
        SELECT taken.account_id, date_trunc('hour', $2::timestamptz), 1 FROM taken
        WHERE $3::int > 0 AND taken.channel IN ('sms', 'mms')
        ON CONFLICT (account_id, hour) DO UPDATE SET texts = c.texts + 1
        RETURNING c.account_id
    ), let_go AS (
        DELETE FROM text_counts WHERE account_id IN (SELECT account_id FROM counted)
          AND hour < $2::timestamptz - interval '48 hours'
    )
    SELECT current.*, EXISTS (SELECT 1 FROM taken) AS taken,
        current.send_by IS NOT NULL AND current.send_by <= $4::timestamptz AS expired
    FROM current
"""


@dataclass(frozen=True)
class Attempt:
    message: OutboxMessage  # as it was before this attempt
    opted_out: bool  # its address opted out of its channel, account-wide
    taken: bool  # marked `sending` for this attempt
    over_limit: bool = False  # a text its account may not send yet (its daily limit)
    expired: bool = False  # its window ends before the attempt could reach the lead


async def take(
    engine: AsyncEngine,
    key: str,
    now: datetime,
    daily_texts: int = 0,
    margin: timedelta = timedelta(0),
) -> Attempt | None:
    """The message and what this attempt may do with it, in one round trip; None if no
    message has that key. `daily_texts`: the most texts an account sends in 24 hours (0:
    no limit); `margin`: how long before its window's end a message is no longer taken."""
    async with engine.connect() as conn:
        single = await conn.execution_options(isolation_level="AUTOCOMMIT")
        found = await single.exec_driver_sql(_TAKE, (key, now, daily_texts, now + margin))
        row = found.mappings().one_or_none()
    if row is None:
        return None
    flags = ("opted_out", "taken", "over_limit", "expired")
    fields = {k: v for k, v in row.items() if k not in flags}
    return Attempt(
        OutboxMessage(**fields),
        bool(row["opted_out"]),
        bool(row["taken"]),
        bool(row["over_limit"]),
        bool(row["expired"]),
    )


# The account's messages to an address that count towards a cap: every one it tried since
# `$4` (sent, or in flight or in doubt: one that may have reached the person counts), this
# one aside. A message is taken before its caps are counted, and each count (with what it
# decides) holds the address's lock: of two racing messages to one person the later count
# sees the earlier, and the earlier's decision.
_REACHED = """
    SELECT attempted_at FROM outbox
    WHERE account_id = $1 AND to_address = $2 AND key <> $3
      AND attempted_at IS NOT NULL AND attempted_at > $4::timestamptz
      AND channel = ANY($5::varchar[]) AND audience = 'lead'
      AND (provider_id IS NOT NULL OR status IN ('sending', 'unanswered', 'unknown'))
    ORDER BY attempted_at
"""
_ADDRESS_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"


async def lock_address(conn: AsyncConnection, row: OutboxMessage) -> None:
    """Hold the account's lock on the row's address until the transaction ends."""
    await conn.exec_driver_sql(_ADDRESS_LOCK, (f"caps|{row.account_id}|{row.to_address}",))


async def reached(
    conn: AsyncConnection, row: OutboxMessage, channels: list[str], since: datetime
) -> list[datetime]:
    """When the account's other messages to the row's address on these channels were tried,
    since `since`, oldest first."""
    found = await conn.exec_driver_sql(
        _REACHED, (row.account_id, row.to_address, row.key, since, channels)
    )
    return [r[0] for r in found]


async def calls_made(conn: AsyncConnection, row: OutboxMessage, since: datetime) -> list[datetime]:
    """When the account's calls to the row's address were handed to agents, since `since`."""
    found = await conn.exec_driver_sql(_CALLS_MADE, (row.account_id, row.to_address, since))
    return [r[0] for r in found]


_CALLS_MADE = (
    "SELECT at FROM calls_made WHERE account_id = $1 AND phone = $2 AND at > $3::timestamptz "
    "ORDER BY at"
)


async def mark_in(conn: AsyncConnection, key: str, **values: Any) -> None:
    """`mark`, in the caller's transaction."""
    await conn.execute(update(OutboxMessage).where(OutboxMessage.key == key).values(**values))
