"""Provider webhooks: Twilio inbound SMS and status callbacks, SendGrid events.

Signatures are checked before anything is read into the system (`api/provider_requests.py`):
a bad or missing one is a 403 and nothing is recorded. Whose a request is comes only from
what the provider signs, never from the URL (one Twilio or SendGrid account may serve every
account here): an email event names its outbox message by the key it was sent with, a
status callback its message by the provider's id, and an inbound text the number it was
sent to, which either one account holds (`senders`) or is shared, when it goes to the
account and lead that last texted the sender from it. What none of these places is
acknowledged and applied to nobody.

A STOP is written to the opt-outs before the 2xx goes back, then signalled to the leads;
replies reach the running lead as events at once. Each inbound text and email event is
handled once: a repeat is acknowledged and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Literal
from xml.sax.saxutils import escape

from fastapi import APIRouter, HTTPException, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from leadflow.api import unknown_senders
from leadflow.api.deps import AppSettings, Database, Leads
from leadflow.api.errors import error_responses
from leadflow.api.provider_requests import (
    EmailEvent,
    sendgrid_events,
    sendgrid_inbound,
    twilio_form,
)
from leadflow.client import LeadflowClient, LeadNotFound
from leadflow.engine import keywords
from leadflow.engine.channels import TEXTS
from leadflow.engine.events import DeliveryFailed, ReplyReceived
from leadflow.engine.keywords import Keyword
from leadflow.engine.refs import LeadRef
from leadflow.playbook import identity
from leadflow.providers.codes import twilio_meaning
from leadflow.store import leads as lead_records
from leadflow.store import opt_outs, outbox, playbooks, senders, thread
from leadflow.store.webhook_events import first_delivery, forget

log = logging.getLogger(__name__)

router = APIRouter(
    prefix="/webhooks",
    tags=["webhooks"],
    responses=error_responses(
        400, 403, 413, 422, 503, e422="a value from the provider the database cannot store"
    ),
)
OLD = "the account in the path is not read: whose the request is comes from what the provider signs"

OPT_OUT_TYPES: dict[str, Keyword] = {"STOP": "stop", "START": "start", "HELP": "help"}
SUPPRESSING = {"bounce", "dropped", "spamreport", "unsubscribe", "group_unsubscribe"}

# (lead id, the party's role) of one account's leads an inbound text or event is about
Found = list[tuple[str, str]]


def _twiml(message: str | None = None) -> Response:
    inner = f"<Message>{escape(message)}</Message>" if message else ""
    return Response(
        f'<?xml version="1.0" encoding="UTF-8"?><Response>{inner}</Response>',
        media_type="application/xml",
    )


async def for_each_lead(
    account_id: str, found: Found, action: Callable[[LeadRef, str], Awaitable[None]]
) -> None:
    for lead_id, role in found:
        try:
            await action(LeadRef(account_id=account_id, lead_id=lead_id), role)
        except LeadNotFound:
            continue  # a lead whose workflow has ended


async def _inbound_reaches(
    conn: AsyncConnection, number: str, sender: str, meaning: Keyword | None, default: str | None
) -> dict[str, Found | None]:
    """Whom a text from `sender` to our `number` speaks for, by account: the leads it
    reaches (None: every lead of the account with that phone); a STOP or START moves the
    sender's opt-out in each of these accounts. A number one account holds is that
    account's. A shared one (the platform's default, or one no account holds) reaches the
    account and lead that last texted the sender from it, but a STOP there holds for every
    account that did, as the provider's own block of that sender on that number does."""
    holder = await senders.account_of(conn, "sms", number)
    if holder is not None:
        return {holder: None}
    texted = await outbox.texts_to(conn, sender, number, default_number=number == default)
    if meaning != "stop":
        texted = texted[:1]
    return {t.account_id: [(t.lead_id, t.party)] for t in texted}


async def _help(database: AsyncEngine, reaches: dict[str, Found | None]) -> str:
    """HELP's answer: the business and its help contact when the account the text reached
    names them in its current playbook (`compliance.identity`), else the plain one."""
    for account_id in reaches:  # a HELP reaches one account at most
        book = await playbooks.current_version(database, account_id)
        if book is not None and book.compliance.identity is not None:
            return identity.help_text(book.compliance.identity)
    return keywords.HELP_TEXT


async def _inbound(
    request: Request, settings: AppSettings, database: Database, leads: Leads
) -> Response:
    form = await twilio_form(request, settings)
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    if not sid:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "an inbound text names its MessageSid")
    sender, number, text = form.get("From", ""), form.get("To", ""), form.get("Body", "").strip()
    stop = keywords.stop_keyword(text)  # OPT-OUT, ALTO, ARRÊT, STOP ALL... as the lead reads
    meaning = keywords.keyword(text) or OPT_OUT_TYPES.get(form.get("OptOutType", "").upper())
    meaning = meaning or ("stop" if stop else None)
    stopped = (*TEXTS, "call") if stop == "stop_all" else TEXTS  # STOP ALL: calls too
    async with database.begin() as conn:
        if not await first_delivery(conn, "twilio", sid):
            return _twiml()  # a repeat: answered when it first came
        reaches = await _inbound_reaches(conn, number, sender, meaning, settings.twilio_from)
        # Across the account at once, before the 2xx: the send activity checks these rows,
        # so a STOP holds even before the lead's workflow hears of it.
        heard = datetime.now(UTC)  # the lead's workflow writes its own rows by this moment
        for account_id in reaches if meaning in ("stop", "start") else []:
            if meaning == "stop":
                source = f"reply {text[:40] or 'STOP'}"
                await opt_outs.opt_out(conn, account_id, stopped, sender, source=source, at=heard)
            else:
                await opt_outs.opt_in(conn, account_id, TEXTS, sender, heard)
    if not reaches:
        log.info(
            "inbound text %s to a number no account texted the sender from: applied to nobody", sid
        )
        return _twiml()

    # The lead reads the keyword by the same rule as replies from any other path.
    async def reply(lead: LeadRef, role: str) -> None:
        event = ReplyReceived(
            channel="sms", party=role, body=text[:1000], keyword=meaning, at=heard
        )
        async with database.begin() as conn:  # the words, for the lead's thread
            await thread.record(
                conn, lead.account_id, lead.lead_id, f"twilio:{sid}", channel="sms",
                party=role, sender=sender, to=number, body=text, at=heard, keyword=meaning,
            )  # fmt: skip
        await leads.reply_received(lead, event)

    try:
        for account_id, found in reaches.items():
            if found is None:
                found = await lead_records.parties_reached_at(database, account_id, phone=sender)
                if not found and meaning is None:  # as the account's playbook says, if it does
                    found = await unknown_senders.lead_for(
                        database, leads, account_id, sender, text
                    )
            await for_each_lead(account_id, found, reply)
    except Exception:
        async with database.begin() as conn:
            await forget(conn, "twilio", sid)  # so the provider's retry is heard
        raise
    return _twiml(await _help(database, reaches) if meaning == "help" else None)


_TOLD: dict[str | None, Literal["bad_number", "not_sent"]] = {
    "bad_number": "bad_number",
    "not_sent": "not_sent",
}


async def _status(
    request: Request, settings: AppSettings, database: Database, leads: Leads
) -> Response:
    form = await twilio_form(request, settings)
    sid, new, to = form.get("MessageSid", ""), form.get("MessageStatus", ""), form.get("To", "")
    moved = await outbox.advance(database, sid, to, new)
    meaning = twilio_meaning(form.get("ErrorCode"))
    # A bad number ends the lead's texts and calls; a text Twilio held back and dropped (its
    # ValidityPeriod passed, a rate limit) is tried again by the lead, in a window.
    told = moved is not None and moved.audience == "lead"  # not a notice to a user
    if told and moved is not None and new in ("undelivered", "failed") and meaning in _TOLD:
        touch = moved.key.split(":", 3)[-1]
        lead = LeadRef(account_id=moved.account_id, lead_id=moved.lead_id)
        await leads.delivery_failed(
            lead, DeliveryFailed(key=touch, channel=moved.channel, reason=_TOLD[meaning])
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _events(
    request: Request, settings: AppSettings, database: Database, leads: Leads
) -> Response:
    for event in await sendgrid_events(request, settings):
        await _email_event(event, database, leads)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _email_event(event: EmailEvent, database: Database, leads: LeadflowClient) -> None:
    """An event suppresses email to the address of the message it names, in that message's
    account; one that names no message of ours (or another address) suppresses nothing."""
    source = f"sendgrid {event.event}"
    async with database.begin() as conn:
        if event.sg_event_id and not await first_delivery(conn, "sendgrid", event.sg_event_id):
            return  # handled when it first came
        if event.event not in SUPPRESSING:
            return
        message = None
        if event.leadflow_key and event.email:
            message = await outbox.email_named(conn, event.leadflow_key, event.email)
        if message is None:
            log.warning("sendgrid %s event names no email of ours: applied to nobody", event.event)
            return
        account_id, address = message.account_id, message.to_address
        at = datetime.now(UTC)
        await opt_outs.opt_out(conn, account_id, ["email"], address, source=source, at=at)
    found = await lead_records.parties_reached_at(database, account_id, email=address)

    async def opt_out(lead: LeadRef, role: str) -> None:
        await leads.opt_out(lead, "email", source=source)

    await for_each_lead(account_id, found, opt_out)


@router.post("/twilio/sms", summary="Twilio inbound SMS")
async def twilio_inbound(
    request: Request, settings: AppSettings, database: Database, leads: Leads
) -> Response:
    """A text to one of our numbers: it reaches the account that holds the number, or on a
    shared number the account and lead that last texted the sender from it; STOP, START
    and HELP as Twilio reads them. A repeat of a MessageSid already handled changes nothing."""
    return await _inbound(request, settings, database, leads)


@router.post("/twilio/status", status_code=status.HTTP_204_NO_CONTENT, summary="Twilio status")
async def twilio_status(
    request: Request, settings: AppSettings, database: Database, leads: Leads
) -> Response:
    """A text's delivery status, for the message with that MessageSid sent to that `To`."""
    return await _status(request, settings, database, leads)


@router.post("/sendgrid/events", status_code=status.HTTP_204_NO_CONTENT, summary="SendGrid events")
async def sendgrid_event_webhook(
    request: Request, settings: AppSettings, database: Database, leads: Leads
) -> Response:
    """Email events, each applied to the account of the message its `leadflow_key` names."""
    return await _events(request, settings, database, leads)


@router.post(
    "/sendgrid/inbound", status_code=status.HTTP_204_NO_CONTENT, summary="SendGrid Inbound Parse"
)
async def sendgrid_inbound_parse(
    request: Request, settings: AppSettings, database: Database, leads: Leads
) -> Response:
    """An email to the account's parse domain, signed by the Inbound Parse security policy:
    a reply from the address the account last emailed a lead's party at is that lead's
    reply (stop-on-reply, revocation words, the thread), as a text is. A repeat of a
    Message-ID already handled changes nothing."""
    return await _email_reply(request, settings, database, leads)


async def _email_reply(
    request: Request, settings: AppSettings, database: Database, leads: LeadflowClient
) -> Response:
    email = await sendgrid_inbound(request, settings)
    key = f"sendgrid:{email.message_id}"
    heard = datetime.now(UTC)
    async with database.begin() as conn:
        if not await first_delivery(conn, "sendgrid-inbound", email.message_id):
            return Response(status_code=status.HTTP_204_NO_CONTENT)
        emailed = (await outbox.emails_to(conn, email.sender))[:1]
    if not emailed:
        log.info("inbound email from an address no account emailed: applied to nobody")
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    [last] = emailed
    lead = LeadRef(account_id=last.account_id, lead_id=last.lead_id)
    words = email.words or email.subject
    try:
        async with database.begin() as conn:
            await thread.record(
                conn, lead.account_id, lead.lead_id, key, channel="email", party=last.party,
                sender=email.sender, to=email.to or None, body=words, at=heard,
                subject=email.subject or None,
            )  # fmt: skip
        event = ReplyReceived(channel="email", party=last.party, body=words[:1000], at=heard)
        await leads.reply_received(lead, event)
    except LeadNotFound:
        pass  # a lead whose workflow has ended: its words are kept, nothing else moves
    except Exception:
        async with database.begin() as conn:
            await forget(conn, "sendgrid-inbound", email.message_id)  # the retry is heard
        raise
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/twilio/{account_id}/sms", deprecated=True, description=OLD)
async def twilio_inbound_at_account(
    account_id: str, request: Request, settings: AppSettings, database: Database, leads: Leads
) -> Response:
    return await _inbound(request, settings, database, leads)


@router.post(
    "/twilio/{account_id}/status",
    status_code=status.HTTP_204_NO_CONTENT,
    deprecated=True,
    description=OLD,
)
async def twilio_status_at_account(
    account_id: str, request: Request, settings: AppSettings, database: Database, leads: Leads
) -> Response:
    return await _status(request, settings, database, leads)


@router.post(
    "/sendgrid/{account_id}/events",
    status_code=status.HTTP_204_NO_CONTENT,
    deprecated=True,
    description=OLD,
)
async def sendgrid_events_at_account(
    account_id: str, request: Request, settings: AppSettings, database: Database, leads: Leads
) -> Response:
    return await _events(request, settings, database, leads)
