"""Provider webhooks (B7): Twilio inbound SMS and status callbacks, SendGrid events.

Signatures are checked before anything is read into the system: a bad or missing one is a
403 and nothing is recorded. A STOP is written to the account's opt-outs before the 2xx
goes back, then signalled to every lead with that number; replies reach the running lead
as events at once.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

from fastapi import APIRouter, HTTPException, Request, Response, status
from sendgrid.helpers.eventwebhook import EventWebhook
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine
from twilio.request_validator import RequestValidator

from leadflow.client import LeadflowClient, LeadNotFound
from leadflow.engine import keywords
from leadflow.engine.keywords import Keyword
from leadflow.engine.vocabulary import DeliveryFailed, ReplyReceived
from leadflow.store.tables import LeadParty, OptOut, OutboxMessage, WebhookEvent
from leadflow.workflows.messages import Identifier, LeadRef

router = APIRouter(prefix="/webhooks", tags=["webhooks"], include_in_schema=True)

OPT_OUT_TYPES: dict[str, Keyword] = {"STOP": "stop", "START": "start", "HELP": "help"}
STATUS_ORDER = ["queued", "sending", "sent", "delivered", "undelivered", "failed", "read"]
BAD_NUMBER_CODES = {"21211", "21614", "30005", "30006"}
SUPPRESSING = {"bounce", "dropped", "spamreport", "unsubscribe", "group_unsubscribe"}
MAX_AGE_SECONDS = 300


def _twiml(message: str | None = None) -> Response:
    inner = f"<Message>{escape(message)}</Message>" if message else ""
    return Response(
        f'<?xml version="1.0" encoding="UTF-8"?><Response>{inner}</Response>',
        media_type="application/xml",
    )


async def _twilio_form(request: Request) -> dict[str, str]:
    """The form, if the request carries a valid Twilio signature for our public URL."""
    settings = request.app.state.settings
    token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else None
    if not token or not settings.public_url:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "Twilio webhooks need TWILIO_AUTH_TOKEN and PUBLIC_URL set"
        )
    body = (await request.body()).decode()
    from urllib.parse import parse_qsl

    form = dict(parse_qsl(body, keep_blank_values=True))
    url = settings.public_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    signature = request.headers.get("X-Twilio-Signature", "")
    if not RequestValidator(token).validate(url, form, signature):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "invalid Twilio signature")
    return form


async def _leads_with(
    engine: AsyncEngine, account_id: str, column: Any, address: str
) -> list[tuple[str, str]]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(LeadParty.lead_id, LeadParty.role).where(
                    LeadParty.account_id == account_id, column == address
                )
            )
        ).all()
    return [(r.lead_id, r.role) for r in rows]


async def _each(
    leads: LeadflowClient, account_id: str, found: list[tuple[str, str]], action: Any
) -> None:
    for lead_id, role in found:
        try:
            await action(LeadRef(account_id=account_id, lead_id=lead_id), role)
        except LeadNotFound:
            continue  # a lead whose workflow has ended


@router.post("/twilio/{account_id}/sms")
async def twilio_inbound(account_id: Identifier, request: Request) -> Response:
    form = await _twilio_form(request)
    sender, text = form.get("From", ""), form.get("Body", "").strip()
    meaning = keywords.keyword(text) or OPT_OUT_TYPES.get(form.get("OptOutType", "").upper())
    services = request.app.state.services
    engine, leads = services.engine, services.leads
    found = await _leads_with(engine, account_id, LeadParty.phone, sender)
    # Across the account at once, before the 2xx: the send activity checks these rows, so a
    # STOP holds even before the lead's workflow hears of it.
    if meaning == "stop":
        async with engine.begin() as conn:
            for channel in ("sms", "mms"):
                await conn.execute(
                    insert(OptOut)
                    .values(
                        account_id=account_id,
                        channel=channel,
                        address=sender,
                        source=f"reply {text[:40] or 'STOP'}",
                        at=datetime.now(UTC),
                    )
                    .on_conflict_do_nothing()
                )
    elif meaning == "start":
        async with engine.begin() as conn:
            await conn.execute(
                delete(OptOut).where(
                    OptOut.account_id == account_id,
                    OptOut.address == sender,
                    OptOut.channel.in_(["sms", "mms"]),
                )
            )
    # The lead reads the keyword by the same rule as replies from any other path.
    await _each(
        leads,
        account_id,
        found,
        lambda lead, role: leads.reply_received(
            lead, ReplyReceived(channel="sms", party=role, body=text[:1000], keyword=meaning)
        ),
    )
    return _twiml(keywords.HELP_TEXT if meaning == "help" else None)


@router.post("/twilio/{account_id}/status", status_code=status.HTTP_204_NO_CONTENT)
async def twilio_status(account_id: Identifier, request: Request) -> Response:
    form = await _twilio_form(request)
    sid, new = form.get("MessageSid", ""), form.get("MessageStatus", "")
    engine = request.app.state.services.engine
    if new not in STATUS_ORDER:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    async with engine.begin() as conn:
        row = (
            await conn.execute(
                select(
                    OutboxMessage.key,
                    OutboxMessage.status,
                    OutboxMessage.lead_id,
                    OutboxMessage.channel,
                ).where(OutboxMessage.account_id == account_id, OutboxMessage.provider_id == sid)
            )
        ).one_or_none()
        if row is None:
            return Response(status_code=status.HTTP_204_NO_CONTENT)
        current = STATUS_ORDER.index(row.status) if row.status in STATUS_ORDER else 0
        if STATUS_ORDER.index(new) <= current:
            return Response(status_code=status.HTTP_204_NO_CONTENT)  # stale or repeated
        await conn.execute(
            update(OutboxMessage).where(OutboxMessage.key == row.key).values(status=new)
        )
    if new in ("undelivered", "failed") and form.get("ErrorCode") in BAD_NUMBER_CODES:
        touch = row.key.split(":", 3)[-1]
        lead = LeadRef(account_id=account_id, lead_id=row.lead_id)
        await request.app.state.services.leads.delivery_failed(
            lead, DeliveryFailed(key=touch, channel=row.channel, reason="bad_number")
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/sendgrid/{account_id}/events", status_code=status.HTTP_204_NO_CONTENT)
async def sendgrid_events(account_id: Identifier, request: Request) -> Response:
    settings = request.app.state.settings
    key = settings.sendgrid_webhook_public_key
    payload = (await request.body()).decode()
    signature = request.headers.get("X-Twilio-Email-Event-Webhook-Signature", "")
    stamp = request.headers.get("X-Twilio-Email-Event-Webhook-Timestamp", "")
    if not key or not signature or not stamp.isdigit():
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing SendGrid signature")
    if abs(time.time() - int(stamp)) > MAX_AGE_SECONDS:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "stale SendGrid timestamp")
    try:
        valid = EventWebhook(key).verify_signature(payload, signature, stamp)
    except Exception:
        valid = False
    if not valid:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "invalid SendGrid signature")
    try:
        events = json.loads(payload)
    except json.JSONDecodeError:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "body is not JSON") from None
    engine, leads = request.app.state.services.engine, request.app.state.services.leads
    for event in events if isinstance(events, list) else []:
        event_id = str(event.get("sg_event_id", ""))
        async with engine.begin() as conn:
            new = (
                await conn.execute(
                    insert(WebhookEvent)
                    .values(source="sendgrid", event_id=event_id)
                    .on_conflict_do_nothing()
                    .returning(WebhookEvent.event_id)
                )
            ).scalar_one_or_none()
            kind, email = event.get("event"), str(event.get("email", ""))
            if new is None or kind not in SUPPRESSING or not email:
                continue
            await conn.execute(
                insert(OptOut)
                .values(
                    account_id=account_id,
                    channel="email",
                    address=email,
                    source=f"sendgrid {kind}",
                    at=datetime.now(UTC),
                )
                .on_conflict_do_nothing()
            )
        found = await _leads_with(engine, account_id, LeadParty.email, email)
        await _each(
            leads,
            account_id,
            found,
            lambda lead, role, kind=kind: leads.opt_out(lead, "email", source=f"sendgrid {kind}"),
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
