"""Provider webhooks: Twilio inbound SMS and status callbacks, SendGrid events.

Signatures are checked before anything is read into the system: a bad or missing one is a
403 and nothing is recorded. A STOP is written to the account's opt-outs before the 2xx
goes back, then signalled to every lead with that number; replies reach the running lead
as events at once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from fastapi import APIRouter, HTTPException, Request, Response, status
from sendgrid.helpers.eventwebhook import EventWebhook
from twilio.request_validator import RequestValidator

from leadflow.api.deps import AppSettings, Database, Leads
from leadflow.api.errors import error_responses
from leadflow.client import LeadflowClient, LeadNotFound
from leadflow.engine import keywords
from leadflow.engine.channels import TEXTS
from leadflow.engine.events import DeliveryFailed, ReplyReceived
from leadflow.engine.keywords import Keyword
from leadflow.engine.refs import Identifier, LeadRef
from leadflow.providers.codes import twilio_meaning
from leadflow.store import leads as lead_records
from leadflow.store import opt_outs, outbox
from leadflow.store.webhook_events import first_delivery

router = APIRouter(
    prefix="/webhooks",
    tags=["webhooks"],
    responses=error_responses(400, 403, 413, 422, 503, e422="an account id the API refuses"),
)

OPT_OUT_TYPES: dict[str, Keyword] = {"STOP": "stop", "START": "start", "HELP": "help"}
SUPPRESSING = {"bounce", "dropped", "spamreport", "unsubscribe", "group_unsubscribe"}
MAX_AGE_SECONDS = 300


def _twiml(message: str | None = None) -> Response:
    inner = f"<Message>{escape(message)}</Message>" if message else ""
    return Response(
        f'<?xml version="1.0" encoding="UTF-8"?><Response>{inner}</Response>',
        media_type="application/xml",
    )


async def _twilio_form(request: Request, settings: AppSettings) -> dict[str, str]:
    """The form, if the request carries a valid Twilio signature for our public URL."""
    token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else None
    if not token or not settings.public_url:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "Twilio webhooks need TWILIO_AUTH_TOKEN and PUBLIC_URL set"
        )
    body = (await request.body()).decode()
    form = dict(parse_qsl(body, keep_blank_values=True))
    url = settings.public_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    signature = request.headers.get("X-Twilio-Signature", "")
    if not RequestValidator(token).validate(url, form, signature):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "invalid Twilio signature")
    # Checked as sent; then rid of NUL, which no text we keep may hold: the provider's
    # message is kept without it rather than refused.
    return {name: value.replace("\x00", "") for name, value in form.items()}


async def _each(
    account_id: str,
    found: list[tuple[str, str]],
    action: Callable[[LeadRef, str], Awaitable[None]],
) -> None:
    for lead_id, role in found:
        try:
            await action(LeadRef(account_id=account_id, lead_id=lead_id), role)
        except LeadNotFound:
            continue  # a lead whose workflow has ended


@router.post("/twilio/{account_id}/sms")
async def twilio_inbound(
    account_id: Identifier,
    request: Request,
    settings: AppSettings,
    database: Database,
    leads: Leads,
) -> Response:
    form = await _twilio_form(request, settings)
    sender, text = form.get("From", ""), form.get("Body", "").strip()
    meaning = keywords.keyword(text) or OPT_OUT_TYPES.get(form.get("OptOutType", "").upper())
    found = await lead_records.parties_reached_at(database, account_id, phone=sender)
    # Across the account at once, before the 2xx: the send activity checks these rows, so a
    # STOP holds even before the lead's workflow hears of it.
    if meaning == "stop":
        async with database.begin() as conn:
            await opt_outs.opt_out(
                conn,
                account_id,
                TEXTS,
                sender,
                source=f"reply {text[:40] or 'STOP'}",
                at=datetime.now(UTC),
            )
    elif meaning == "start":
        async with database.begin() as conn:
            await opt_outs.opt_in(conn, account_id, TEXTS, sender)

    # The lead reads the keyword by the same rule as replies from any other path.
    async def reply(lead: LeadRef, role: str) -> None:
        event = ReplyReceived(channel="sms", party=role, body=text[:1000], keyword=meaning)
        await leads.reply_received(lead, event)

    await _each(account_id, found, reply)
    return _twiml(keywords.HELP_TEXT if meaning == "help" else None)


@router.post("/twilio/{account_id}/status", status_code=status.HTTP_204_NO_CONTENT)
async def twilio_status(
    account_id: Identifier,
    request: Request,
    settings: AppSettings,
    database: Database,
    leads: Leads,
) -> Response:
    form = await _twilio_form(request, settings)
    sid, new = form.get("MessageSid", ""), form.get("MessageStatus", "")
    moved = await outbox.advance(database, account_id, sid, new)
    if (
        moved is not None
        and new in ("undelivered", "failed")
        and twilio_meaning(form.get("ErrorCode")) == "bad_number"
    ):
        touch = moved.key.split(":", 3)[-1]
        lead = LeadRef(account_id=account_id, lead_id=moved.lead_id)
        await leads.delivery_failed(
            lead, DeliveryFailed(key=touch, channel=moved.channel, reason="bad_number")
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/sendgrid/{account_id}/events", status_code=status.HTTP_204_NO_CONTENT)
async def sendgrid_events(
    account_id: Identifier,
    request: Request,
    settings: AppSettings,
    database: Database,
    leads: Leads,
) -> Response:
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
    for event in events if isinstance(events, list) else []:
        kind, email = event.get("event"), str(event.get("email", ""))
        source = f"sendgrid {kind}"
        async with database.begin() as conn:
            new = await first_delivery(conn, "sendgrid", str(event.get("sg_event_id", "")))
            if not new or kind not in SUPPRESSING or not email:
                continue
            await opt_outs.opt_out(
                conn, account_id, ["email"], email, source=source, at=datetime.now(UTC)
            )
        found = await lead_records.parties_reached_at(database, account_id, email=email)
        await _each(account_id, found, _email_opt_out(leads, source))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _email_opt_out(leads: LeadflowClient, source: str) -> Callable[[LeadRef, str], Awaitable[None]]:
    async def opt_out(lead: LeadRef, role: str) -> None:
        await leads.opt_out(lead, "email", source=source)

    return opt_out
