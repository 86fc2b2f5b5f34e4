"""What a provider's webhook request says, read only once its signature holds.

The signature is checked over the bytes as they came, so a bad or missing one is a 403
whatever the body holds; only then is the body decoded, and one that is not UTF-8, or not
the form or JSON the provider sends, is a 400 saying so. Nothing is read into the system
before both checks pass.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import time
from dataclasses import dataclass
from email.parser import HeaderParser
from email.utils import parseaddr
from hashlib import sha1, sha256
from urllib.parse import parse_qsl, urlparse

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from sendgrid.helpers.eventwebhook import EventWebhook
from twilio.request_validator import add_port, remove_port

from leadflow.config import Settings
from leadflow.engine import keywords

MAX_AGE_SECONDS = 300  # how old a SendGrid event post may be: an older one may be replayed


class EmailEvent(BaseModel):
    """One SendGrid event, as far as leadflow reads it: the custom args a message was sent
    with come back at the top level, `leadflow_key` (the outbox key) among them."""

    model_config = ConfigDict(extra="ignore")

    event: str = Field(max_length=100)
    email: str = Field(default="", max_length=320)
    sg_event_id: str = Field(default="", max_length=200)
    leadflow_key: str | None = Field(default=None, max_length=400)


_EVENTS = TypeAdapter(list[EmailEvent])


def _bad_request(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_400_BAD_REQUEST, detail)


def _forbidden(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_403_FORBIDDEN, detail)


def _form_bytes(body: bytes) -> list[tuple[bytes, bytes]]:
    """The form's names and values as the bytes they stand for (percent-escapes undone),
    whatever their encoding: Latin-1 maps each byte to one character and back."""
    pairs = parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding="latin-1")
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in pairs]


def _twilio_signed(token: str, url: str, pairs: list[tuple[bytes, bytes]], signature: str) -> bool:
    """Twilio's HMAC-SHA1 over the URL and each name and value, names in order, each name's
    values in order (as `twilio.request_validator` computes it, over bytes rather than
    text; UTF-8 orders as code points do). Twilio signs the URL with or without its
    port, so both count."""
    values: dict[bytes, set[bytes]] = {}
    for name, value in pairs:
        values.setdefault(name, set()).add(value)
    signed = b"".join(name + value for name in sorted(values) for value in sorted(values[name]))
    parsed = urlparse(url)
    given = signature.encode("utf-8", "replace")
    for candidate in {remove_port(parsed), add_port(parsed)}:
        digest = hmac.new(token.encode(), candidate.encode() + signed, sha1).digest()
        if hmac.compare_digest(base64.b64encode(digest), given):
            return True
    return False


async def twilio_form(request: Request, settings: Settings) -> dict[str, str]:
    """The form of a request Twilio signed for our public URL, without NUL (which no text
    we keep may hold: the provider's message is kept without it rather than refused)."""
    token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else None
    if not token or not settings.public_url:
        raise _forbidden("Twilio webhooks need TWILIO_AUTH_TOKEN and PUBLIC_URL set")
    body = await request.body()
    url = settings.public_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    pairs = _form_bytes(body)
    if not _twilio_signed(token, url, pairs, request.headers.get("X-Twilio-Signature", "")):
        raise _forbidden("invalid Twilio signature")
    try:
        form = {name.decode(): value.decode() for name, value in pairs}
    except UnicodeDecodeError:
        raise _bad_request("the form is not UTF-8; Twilio sends UTF-8") from None
    return {name: value.replace("\x00", "") for name, value in form.items()}


async def _sendgrid_signed(request: Request, key: str | None) -> bytes:
    """The body of a post SendGrid signed with the key's pair (ECDSA P-256 over the
    timestamp and the body) within the last MAX_AGE_SECONDS; 403 otherwise."""
    body = await request.body()
    signature = request.headers.get("X-Twilio-Email-Event-Webhook-Signature", "")
    stamp = request.headers.get("X-Twilio-Email-Event-Webhook-Timestamp", "")
    if not key or not signature or not stamp.isascii() or not stamp.isdigit():
        raise _forbidden("missing SendGrid signature")
    if abs(time.time() - int(stamp)) > MAX_AGE_SECONDS:
        raise _forbidden("stale SendGrid timestamp")
    try:
        verifier = EventWebhook(key).public_key
        signed = base64.b64decode(signature, validate=True)
        verifier.verify(signed, stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, binascii.Error, ValueError, TypeError):
        raise _forbidden("invalid SendGrid signature") from None
    return body


async def sendgrid_events(request: Request, settings: Settings) -> list[EmailEvent]:
    """The events of a post SendGrid's event webhook signed."""
    body = await _sendgrid_signed(request, settings.sendgrid_webhook_public_key)
    try:
        events = json.loads(body.decode())
    except UnicodeDecodeError:
        raise _bad_request("the body is not UTF-8; SendGrid sends UTF-8 JSON") from None
    except json.JSONDecodeError:
        raise _bad_request("the body is not JSON; SendGrid sends a JSON list of events") from None
    try:
        return _EVENTS.validate_python(events)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"])) or "body"
        raise _bad_request(f"not a list of SendGrid events: at {where}: {first['msg']}") from None


@dataclass(frozen=True)
class InboundEmail:
    """An email SendGrid's Inbound Parse received: who wrote it, to which address, its
    subject, its own words (the quoted message it answers left out) and its Message-ID."""

    sender: str
    to: str
    subject: str
    words: str
    message_id: str


async def sendgrid_inbound(request: Request, settings: Settings) -> InboundEmail:
    """The email of a post SendGrid's Inbound Parse signed (its security policy's key)."""
    body = await _sendgrid_signed(request, settings.sendgrid_parse_public_key)
    try:
        form = await request.form(max_files=20, max_fields=100)
    except (ValueError, AssertionError) as exc:
        raise _bad_request(f"not the multipart form Inbound Parse sends: {exc}") from None
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    sender = parseaddr(fields.get("from", ""))[1]
    envelope = fields.get("envelope", "")
    if envelope:
        try:
            sender = str(json.loads(envelope).get("from") or sender)
        except (json.JSONDecodeError, AttributeError):
            raise _bad_request("envelope: not the JSON Inbound Parse sends") from None
    if "@" not in sender or len(sender) > 320:
        raise _bad_request("from: no sender's address")
    headers = HeaderParser().parsestr(fields.get("headers", ""))
    found = (headers.get("Message-ID") or "").strip()[:200]
    message_id = found or "sha256:" + sha256(body).hexdigest()
    text = fields.get("text") or ""
    return InboundEmail(
        sender=sender.lower(),
        to=parseaddr(fields.get("to", ""))[1].lower(),
        subject=fields.get("subject", "")[:500],
        words=keywords.own_words(text).strip()[:4000],  # as the lead's engine reads it
        message_id=message_id,
    )
