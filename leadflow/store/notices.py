"""Routing's notices to users: a text and/or an email telling a user of a lead offered to
them or given them. Written to the outbox in the routing's own transaction (so exactly once
per lead, attempt, user and channel), marked as the agent's (`audience`), and sent by the
lead through the same send activity as its own touches. A user's number is not a lead's:
replies and delivery events never reach a lead through it, no cap or do-not-call list
counts it, and a notice not sent by its time (the offer's end, or `FRESH` after the lead
was given) is dropped, never sent late: routing only offers or gives a lead to a user on
duty, so a notice never reaches them outside their hours."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from leadflow.engine import localtime
from leadflow.engine.refs import LeadRef
from leadflow.engine.routing import Agent, Routed
from leadflow.store.access_tables import User
from leadflow.store.tables import OutboxMessage

FRESH = timedelta(minutes=15)  # a notice of a lead given is worth sending this long
SENDER = "routing"


def body(routed: Routed, lead_id: str, agent: Agent | None) -> tuple[str, str]:
    """The notice's subject and words, in the user's own time (no lead's personal data)."""
    zone = agent.time_zone if agent is not None else "UTC"
    if routed.offered:
        if routed.until is None:
            return f"Lead {lead_id} is in the pond", (
                f"leadflow: lead {lead_id} is in the pond ({routed.rule}): take it on Your leads."
            )
        until = localtime.to_local(routed.until, zone)
        return f"Lead {lead_id} offered to you", (
            f"leadflow: lead {lead_id} is offered to you until {until:%H:%M} ({zone}). "
            "The first to accept it on Your leads takes it."
        )
    words = f"leadflow: lead {lead_id} is yours ({routed.why})."
    if routed.work_by is not None:
        by = localtime.to_local(routed.work_by, zone)
        words += f" Work it by {by:%a %H:%M} ({zone})."
    return f"Lead {lead_id} is yours", words


async def write(
    conn: AsyncConnection,
    lead: LeadRef,
    attempt: int,
    routed: Routed,
    channels: Sequence[str],
    agents: Sequence[Agent],
    now: datetime,
) -> list[str]:
    """The notices of this routing, written; their outbox keys. A user with no phone (or no
    email) on record gets no text (or email)."""
    account_id, lead_id = lead.account_id, lead.lead_id
    users = list(routed.offered) or ([routed.agent] if routed.agent else [])
    if not channels or not users:
        return []
    found = await conn.execute(
        select(User.id, User.phone, User.email).where(
            User.account_id == account_id, User.id.in_(users)
        )
    )
    reach = {row.id: {"sms": row.phone, "email": row.email} for row in found}
    send_by = routed.until or now + FRESH
    rows = []
    for user in sorted(users):
        agent = next((a for a in agents if a.id == user), None)
        subject, words = body(routed, lead_id, agent)
        for channel in dict.fromkeys(channels):
            address = reach.get(user, {}).get(channel)
            if not address:
                continue
            key = f"{lead.workflow_id}:notice:{attempt}:{user}:{channel}"
            rows.append(
                {
                    "key": key,
                    "account_id": account_id,
                    "lead_id": lead_id,
                    "audience": "agent",
                    "channel": channel,
                    "party": f"user:{user}",
                    "to_address": address,
                    "sender_id": SENDER,
                    "from_number": None,
                    "template": "routing_notice",
                    "subject": subject if channel == "email" else None,
                    "body": words,
                    "media": [],
                    "created_at": now,
                    "send_by": send_by,
                }
            )
    if rows:
        await conn.execute(insert(OutboxMessage).values(rows).on_conflict_do_nothing())
    return [row["key"] for row in rows]
