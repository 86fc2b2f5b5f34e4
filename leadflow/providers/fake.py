"""A fake Twilio + SendGrid on 127.0.0.1 that speaks their wire API.

It records every request, answers like the real services, and fails on demand: a
`POST /_control/failures` entry makes the next sends to an address answer with a Twilio
error code (any in `leadflow.providers.codes`), 429 or a 5xx, or hang for `hang_seconds`:
`timeout` lands the message late (recorded when the hang ends, after the SDK gave up),
`drop` never records it. With `after_send`, the message is recorded first, then the error
or the hang follows (the provider took it, the sender cannot know).

Like the real services it calls back, signed: Twilio's status callbacks (HMAC with the auth
token) for each text that names one, and SendGrid's event webhook (ECDSA P-256 over the
timestamp and body) for each email when `event_webhook_url` is set, `processed` then
`delivered`. `POST /_control/email-event` posts any other event (a bounce, a spam report)
the same way. Each event carries its email's custom args at its top level, as SendGrid's
do: `leadflow_key` is how the API finds the message, and so the account, it is about.

It is also the Reassigned Numbers Database (`fake_rnd`): its query API, over the numbers a
test or `POST /_control/reassigned` says were disconnected.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from leadflow.providers import fake_rnd
from leadflow.providers.codes import TWILIO_ERRORS


@dataclass
class Failure:
    to: str
    code: int | str  # a Twilio error code, an HTTP status, "timeout" or "drop"
    times: int = 1
    after_send: bool = False  # record the message, then fail (an ambiguous failure)


class EventSigner:
    """SendGrid's event webhook signature: ECDSA P-256 over the timestamp and the body. Its
    keys travel as SendGrid shows them, base64 DER: the private one (PKCS #8) for the
    fake, the public one (the "verification key") for `SENDGRID_WEBHOOK_PUBLIC_KEY`."""

    def __init__(self, private_key: str | None = None) -> None:
        if private_key is None:
            self._key = ec.generate_private_key(ec.SECP256R1())
            return
        try:
            loaded = serialization.load_der_private_key(base64.b64decode(private_key), None)
        except ValueError as exc:
            raise ValueError(f"not a base64 DER (PKCS #8) private key ({exc})") from None
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise ValueError("not an elliptic-curve (P-256) private key")
        self._key = loaded

    @property
    def private_key(self) -> str:
        der = self._key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return base64.b64encode(der).decode()

    @property
    def public_key(self) -> str:
        der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode()

    def headers(self, payload: str, stamp: int | None = None) -> dict[str, str]:
        """The headers SendGrid sends `payload` with, signed at `stamp` (now by default)."""
        stamp = int(time.time()) if stamp is None else stamp
        signature = self._key.sign(f"{stamp}{payload}".encode(), ec.ECDSA(hashes.SHA256()))
        return {
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": str(stamp),
            "content-type": "application/json",
        }


@dataclass
class FakeState:
    account_sid: str = "AC" + "0" * 32
    auth_token: str = "fake-auth-token"
    sendgrid_key: str = "SG.fake-key"
    messages: list[dict[str, Any]] = field(default_factory=list)
    emails: list[dict[str, Any]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    hang_seconds: float = 30.0
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    in_flight: int = 0  # sends the fake is holding (a hang in progress)
    lookups_find_nothing: bool = False  # the list and search APIs answer empty (a lagging index)
    background: set[asyncio.Task[None]] = field(default_factory=set)
    event_webhook_url: str | None = None  # where SendGrid's email events go, when set
    event_signer: EventSigner = field(default_factory=EventSigner)
    events: list[dict[str, Any]] = field(default_factory=list)  # email events posted, answers
    requests: list[tuple[str, datetime]] = field(default_factory=list)  # texts asked: to, when
    # The Reassigned Numbers Database (`fake_rnd`): its key, the disconnections, the queries.
    rnd_key: str = "rnd-fake-key"
    disconnected: dict[str, str] = field(default_factory=dict)
    rnd_queries: list[dict[str, Any]] = field(default_factory=list)
    rnd_unavailable: int = 0

    def failure_for(self, to: str) -> Failure | None:
        for failure in self.failures:
            if failure.to == to and failure.times > 0:
                failure.times -= 1
                return failure
        return None


async def _held(state: FakeState) -> None:
    """Hold a request for `hang_seconds`, counted in `in_flight`."""
    state.in_flight += 1
    try:
        await asyncio.sleep(state.hang_seconds)
    finally:
        state.in_flight -= 1


def _twilio_error(code: int | str) -> Response:
    if isinstance(code, int) and code in TWILIO_ERRORS:
        body = {
            "code": code,
            "message": TWILIO_ERRORS[code].message,
            "status": 400,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
        }
        return JSONResponse(body, status_code=400)
    status = int(code)
    return JSONResponse(
        {
            "code": 20429 if status == 429 else 20500,
            "message": "Too Many Requests" if status == 429 else "Server error",
            "status": status,
        },
        status_code=status,
    )


async def _post_signed(state: FakeState, url: str, form: dict[str, str]) -> httpx.Response:
    signature = RequestValidator(state.auth_token).compute_signature(url, form)
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.post(url, data=form, headers={"X-Twilio-Signature": signature})


async def _report_status(state: FakeState, message: dict[str, Any]) -> None:
    """Twilio's status callbacks for a message: sent, then delivered."""
    for status in ("sent", "delivered"):
        await asyncio.sleep(0.05)
        form = {
            "MessageSid": message["sid"],
            "MessageStatus": status,
            "AccountSid": state.account_sid,
            "From": str(message["from"]),
            "To": str(message["to"]),
        }
        try:
            answer = await _post_signed(state, str(message["status_callback"]), form)
            state.callbacks.append(
                {"sid": message["sid"], "status": status, "answer": answer.status_code}
            )
        except httpx.HTTPError as exc:
            state.callbacks.append({"sid": message["sid"], "status": status, "error": str(exc)})


def _email_event(email: dict[str, Any], kind: str) -> dict[str, Any]:
    """One SendGrid event about `email`, its custom args at the top level as SendGrid has them."""
    return {
        "email": email["to"],
        "timestamp": int(time.time()),
        "event": kind,
        "sg_event_id": secrets.token_urlsafe(16),
        "sg_message_id": f"{email['msg_id']}.filter0001",
        **email["payload"].get("custom_args", {}),
    }


async def post_email_events(
    state: FakeState, url: str, events: list[dict[str, Any]]
) -> httpx.Response:
    """Post `events` to `url` as SendGrid's event webhook does: a JSON list, signed."""
    payload = json.dumps(events)
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.post(
            url, content=payload, headers=state.event_signer.headers(payload)
        )
    state.events.extend({**event, "answer": answer.status_code} for event in events)
    return answer


async def _report_email(state: FakeState, url: str, email: dict[str, Any]) -> None:
    """SendGrid's events for an email it took: processed, then delivered."""
    for kind in ("processed", "delivered"):
        await asyncio.sleep(0.05)
        try:
            await post_email_events(state, url, [_email_event(email, kind)])
        except httpx.HTTPError as exc:
            state.events.append({"email": email["to"], "event": kind, "error": str(exc)})


def _in_background(state: FakeState, work: Any) -> None:
    task = asyncio.create_task(work)
    state.background.add(task)
    task.add_done_callback(state.background.discard)


def build_app(state: FakeState) -> Starlette:
    def authorized(request: Request, sid: str) -> bool:
        header = request.headers.get("authorization", "")
        if not header.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user == sid == state.account_sid and password == state.auth_token

    async def create_message(request: Request) -> Response:
        sid = request.path_params["sid"]
        if not authorized(request, sid):
            return JSONResponse(
                {"code": 20003, "message": "Authenticate", "status": 401}, status_code=401
            )
        fields = parse_qs((await request.body()).decode())  # form-encoded, like Twilio's
        form = {name: values[0] for name, values in fields.items()}
        state.requests.append((str(form.get("To", "")), datetime.now(UTC)))
        failure = state.failure_for(str(form.get("To", "")))
        hangs = failure is not None and failure.code in ("timeout", "drop")
        if hangs and failure is not None and not failure.after_send:
            await _held(state)  # a late landing ("timeout") or never ("drop")
            if failure.code == "drop":
                return JSONResponse({"code": 20500, "status": 503}, status_code=503)
        message = {
            "sid": "SM" + secrets.token_hex(16),
            "account_sid": sid,
            "to": form.get("To"),
            "from": form.get("From"),
            "body": form.get("Body"),
            "media_url": fields.get("MediaUrl", []),
            "status": "queued",
            "status_callback": form.get("StatusCallback"),
            "validity_period": form.get("ValidityPeriod"),
            "date_created": datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000"),
            "created_at": datetime.now(UTC).isoformat(),
        }
        if failure is not None and not hangs and not failure.after_send:
            return _twilio_error(failure.code)
        state.messages.append(message)
        if failure is not None and failure.after_send:
            if hangs:  # taken, then no answer
                await _held(state)
                return _twilio_error(504)
            return _twilio_error(failure.code)
        if message["status_callback"]:
            _in_background(state, _report_status(state, message))
        return JSONResponse(
            {k: v for k, v in message.items() if k != "created_at"}, status_code=201
        )

    async def list_messages(request: Request) -> Response:
        """Twilio's list: by `To` and `From`, newest first, `PageSize` (50; 1,000 at most)."""
        sid = request.path_params["sid"]
        if not authorized(request, sid):
            return JSONResponse({"code": 20003, "status": 401}, status_code=401)
        query = request.query_params
        to, sender = query.get("To"), query.get("From")
        found = [
            {k: v for k, v in m.items() if k != "created_at"}
            for m in reversed(state.messages)
            if (to is None or m["to"] == to)
            and (sender is None or m["from"] == sender)
            and not state.lookups_find_nothing
        ]
        size = min(int(query.get("PageSize", 50)), 1000)
        page = int(query.get("Page", 0))
        start = page * size
        following = None
        if start + size < len(found):
            params = {k: v for k, v in query.items() if k not in ("Page", "PageToken")}
            params |= {"Page": str(page + 1), "PageToken": f"PA{page + 1}"}
            following = f"{request.url.path}?{urlencode(params)}"
        return JSONResponse(
            {
                "messages": found[start : start + size],
                "end": min(start + size, len(found)) - 1,
                "start": start,
                "page": page,
                "page_size": size,
                "next_page_uri": following,
                "uri": f"{request.url.path}?{request.url.query}",
            }
        )

    async def send_mail(request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {state.sendgrid_key}":
            return JSONResponse({"errors": [{"message": "unauthorized"}]}, status_code=401)
        payload = json.loads(await request.body())
        to = payload["personalizations"][0]["to"][0]["email"]
        failure = state.failure_for(to)
        hangs = failure is not None and failure.code in ("timeout", "drop")
        if hangs and failure is not None and not failure.after_send:
            await _held(state)  # a late landing ("timeout") or never ("drop")
            if failure.code == "drop":
                return JSONResponse({"errors": [{"message": "unavailable"}]}, status_code=503)
        message_id = secrets.token_urlsafe(16)
        if failure is not None and not hangs and not failure.after_send:
            return JSONResponse({"errors": [{"message": "failed"}]}, status_code=int(failure.code))
        email = {"msg_id": message_id, "to": to, "payload": payload}
        state.emails.append(email)
        if failure is not None and failure.after_send:
            if hangs:  # taken, then no answer
                await _held(state)
                return JSONResponse({"errors": [{"message": "timeout"}]}, status_code=504)
            return JSONResponse({"errors": [{"message": "failed"}]}, status_code=int(failure.code))
        if state.event_webhook_url:
            _in_background(state, _report_email(state, state.event_webhook_url, email))
        return Response(status_code=202, headers={"X-Message-Id": message_id})

    async def search_mail(request: Request) -> Response:
        query = request.query_params.get("query", "")
        found = [
            {"msg_id": e["msg_id"], "to_email": e["to"]}
            for e in state.emails
            if any(f'"{v}"' in query for v in e["payload"].get("custom_args", {}).values())
            and not state.lookups_find_nothing
        ]
        return JSONResponse({"messages": found})

    async def inbound(request: Request) -> Response:
        """Post a signed inbound SMS to `url`, as Twilio would: {url, from, to?, body, sid?}
        (`to`, the number texted, defaults to the platform's; `sid` repeats a delivery)."""
        body = await request.json()
        form = {
            "MessageSid": body.get("sid") or "SM" + secrets.token_hex(16),
            "AccountSid": state.account_sid,
            "From": body["from"],
            "To": body.get("to", "+13125550000"),
            "Body": body["body"],
        }
        answer = await _post_signed(state, body["url"], form)
        return JSONResponse(
            {"status": answer.status_code, "body": answer.text, "sid": form["MessageSid"]}
        )

    async def email_event(request: Request) -> Response:
        """Post a signed SendGrid event, as SendGrid would: {to, event, url?} (`url` defaults
        to the event webhook; the event is about the last email to `to`, if any)."""
        body = await request.json()
        url = body.get("url") or state.event_webhook_url
        if not url:
            return JSONResponse({"error": "no url, and no event webhook configured"}, 400)
        to = str(body["to"])
        sent = [e for e in state.emails if e["to"] == to]
        email = sent[-1] if sent else {"msg_id": secrets.token_urlsafe(16), "to": to, "payload": {}}
        answer = await post_email_events(state, url, [_email_event(email, str(body["event"]))])
        return JSONResponse({"status": answer.status_code, "body": answer.text})

    async def add_failure(request: Request) -> Response:
        body = await request.json()
        state.failures.append(Failure(**body))
        return JSONResponse({"ok": True})

    async def recorded(request: Request) -> Response:
        return JSONResponse(
            {
                "callbacks": state.callbacks,
                "messages": state.messages,
                "emails": [{"msg_id": e["msg_id"], "to": e["to"]} for e in state.emails],
                "email_events": state.events,
            }
        )

    return Starlette(
        routes=[
            Route("/2010-04-01/Accounts/{sid}/Messages.json", create_message, methods=["POST"]),
            Route("/2010-04-01/Accounts/{sid}/Messages.json", list_messages, methods=["GET"]),
            Route("/v3/mail/send", send_mail, methods=["POST"]),
            Route("/v3/messages", search_mail, methods=["GET"]),
            Route("/_control/failures", add_failure, methods=["POST"]),
            Route("/_control/inbound", inbound, methods=["POST"]),
            Route("/_control/email-event", email_event, methods=["POST"]),
            Route("/_control/requests", recorded, methods=["GET"]),
            *fake_rnd.routes(state),
        ]
    )
