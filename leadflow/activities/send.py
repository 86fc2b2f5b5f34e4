"""Sending an outbox message exactly once through the real Twilio and SendGrid SDKs.

The outbox row exists before any provider is called (the decision wrote it). Each attempt
marks the row `sending`, calls the provider, then records the provider's id. Only an error
that proves nothing was sent (a refused connection, rejected credentials) retries plainly.
Every other failure leaves the message in doubt, and the retry looks it up at the provider
before sending, and only sends if it is not there:

- the provider answered with an error (429, 5xx): its answer came after it recorded the
  message or did not, so the lookup may run at once;
- no answer came (a timeout, a dropped connection) or the attempt was cut off (its worker
  died): the provider may still record the request it took, so the lookup waits until the
  attempt's landing window (`ProviderConfig.landing_seconds` after it began) has passed,
  and can never race the attempt it checks.

Errors about the number or the recipient end the attempt with a type the workflow acts on.
"""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.error
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import phonenumbers
from python_http_client.exceptions import HTTPError as SendGridHTTPError
from sendgrid import SendGridAPIClient
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError
from twilio.base.exceptions import TwilioException
from twilio.rest import Client as TwilioClient

from leadflow import metrics
from leadflow.activities import email, listed, reassigned, window
from leadflow.activities.payloads import BatchOutcome, SendBatch, SendRequest, SendResult
from leadflow.engine.channels import TEXTS
from leadflow.providers.clients import ProviderConfig, sendgrid_client, twilio_client
from leadflow.providers.codes import twilio_meaning
from leadflow.providers.reassigned import ReassignedNumbers
from leadflow.store import opt_outs, outbox, senders
from leadflow.store.tables import OutboxMessage

UNREACHABLE_ATTEMPTS = 3
LIMIT_WAIT = timedelta(minutes=15)  # a text over its account's daily limit tries again then
DATABASE_RETRY = timedelta(seconds=1)
# The error type each kind of Twilio error ends the attempt with, for the workflow to act on.
ENDS_AS = {"bad_number": "BadNumber", "unsubscribed": "OptedOut", "filtered": "Filtered"}
FAILED_FOR_GOOD = {*ENDS_AS.values(), "Undeliverable", "Rejected", "WindowClosed", "Listed"}
FAILED_FOR_GOOD |= {"Reassigned"}


class _Outcome(Exception):
    """How an attempt ended, when it did not end in a provider id."""

    def __init__(self, status: str, error: ApplicationError) -> None:
        self.status = status
        self.error = error


def _country(number: str) -> str:
    """The ISO 3166 code of an E.164 number's country ('??' if none can be told)."""
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return "??"
    # A number no region claims (a reserved or fictional range) reads as its code's country.
    found = phonenumbers.region_code_for_number(parsed)
    return str(found or phonenumbers.region_code_for_country_code(parsed.country_code or 0))


async def _beating(call: Any, *args: Any) -> Any:
    """Run a blocking SDK call in a thread, heartbeating meanwhile: if this worker dies
    mid-call, the server hands the attempt to another worker within the heartbeat timeout
    (which then reconciles before sending)."""
    task = asyncio.ensure_future(asyncio.to_thread(call, *args))
    while not task.done():
        activity.heartbeat()
        await asyncio.wait({task}, timeout=1.0)
    return task.result()


class SendActivities:
    def __init__(self, engine: AsyncEngine, config: ProviderConfig) -> None:
        self._engine = engine
        self._config = config
        self._twilio: TwilioClient = twilio_client(config)
        self._sendgrid: SendGridAPIClient = sendgrid_client(config)
        self._sendgrid.client.timeout = config.timeout
        self._rnd = ReassignedNumbers(config.rnd) if config.rnd is not None else None

    @activity.defn(name="send_message")
    async def send_message(self, request: SendRequest) -> SendResult:
        return await self._send_one(request)

    @activity.defn(name="send_messages")
    async def send_messages(self, batch: SendBatch) -> BatchOutcome | None:
        """Send a batch's messages side by side, each exactly once as `send_message` does.
        One that fails for good is reported, not raised; one that would retry is handed back
        (with its wait) for a send of its own, so it never holds the others' outcome. Anything
        else retries the batch, whose sent messages are then found already sent."""
        lead = activity.info().workflow_id
        results = await asyncio.gather(
            *(self._send_one(SendRequest(key=f"{lead}:{touch}")) for touch in batch.touches),
            return_exceptions=True,
        )
        outcome = BatchOutcome()
        unexpected: BaseException | None = None
        for key, result in zip(batch.touches, results, strict=True):
            if not isinstance(result, BaseException):
                continue
            if not isinstance(result, ApplicationError):
                unexpected = result
            elif result.non_retryable:
                kind = result.type or "Rejected"
                detailed = kind in ("Listed", "Reassigned")
                outcome.failed[key] = f"{kind}: {result.message}" if detailed else kind
            else:
                wait = result.next_retry_delay or timedelta(0)
                outcome.retry[key] = wait.total_seconds()
        if unexpected is not None:
            raise unexpected
        return outcome if outcome.failed or outcome.retry else None

    async def _send_one(self, request: SendRequest) -> SendResult:
        seen: dict[str, str] = {}
        try:
            result = await self._database_or_retry(self._deliver(request, seen))
        except ApplicationError as exc:
            metrics.count_send(seen.get("channel", "unknown"), exc.type or "error")
            activity.logger.warning(
                "send %s %s: %s", seen.get("channel", "?"), request.key, exc.type or "error"
            )
            raise
        metrics.count_send(seen.get("channel", "unknown"), seen.get("outcome", "sent"))
        activity.logger.info(
            "send %s %s: %s", seen.get("channel", "?"), request.key, seen.get("outcome", "sent")
        )
        return result

    async def _deliver(self, request: SendRequest, seen: dict[str, str]) -> SendResult:
        limit = self._config.sms_daily_limit
        attempt = await outbox.take(
            self._engine, request.key, datetime.now(UTC), limit, window.CLOSING
        )
        if attempt is None:
            raise ApplicationError(
                f"no outbox message {request.key!r}", type="MissingOutbox", non_retryable=True
            )
        row = attempt.message
        seen["channel"] = row.channel
        if row.provider_id:
            seen["outcome"] = "already sent"
            return SendResult(provider_id=row.provider_id)
        if row.status == "expired":  # an earlier attempt found its window closed
            raise ApplicationError(
                row.error or "its window closed", type="WindowClosed", non_retryable=True
            )
        if row.status == "failed":  # an earlier attempt ended it for good
            kind, _, why = (row.error or "").partition(": ")
            if kind not in FAILED_FOR_GOOD:  # recorded before errors kept their type
                kind, why = "Rejected", row.error or ""
            raise ApplicationError(
                why or "the message failed for good", type=kind, non_retryable=True
            )
        if row.from_number and not await self._holds(row.account_id, row.from_number):
            # Refused at the API too; checked again here, where it costs the number's rate.
            why = f"the account does not hold the sending number {row.from_number}"
            await self._mark(row.key, status="failed", error=f"Rejected: {why}")
            raise ApplicationError(why, type="Rejected", non_retryable=True)
        if row.channel in TEXTS and (country := _country(row.to_address)) not in (
            allowed := self._config.sms_countries
        ):
            why = f"texts to numbers of {country} are off (SMS_COUNTRIES: {', '.join(allowed)})"
            await self._mark(row.key, status="failed", error=f"Rejected: {why}")
            raise ApplicationError(why, type="Rejected", non_retryable=True)
        if attempt.opted_out:
            await self._mark(row.key, status="suppressed", error="opted out")
            raise ApplicationError(
                f"{row.to_address} opted out of {row.channel}", type="OptedOut", non_retryable=True
            )
        if attempt.over_limit:  # waits, untaken, until the account's last 24 hours allow it
            raise ApplicationError(
                f"the account sent its {limit} texts of the last 24 hours (SMS_DAILY_LIMIT); "
                f"this one waits {LIMIT_WAIT.seconds // 60} minutes and tries again",
                type="AccountTextLimit",
                next_retry_delay=LIMIT_WAIT,
            )
        if attempt.expired and row.status not in outbox.IN_DOUBT:
            await window.closed(self._engine, row)
        if not attempt.taken:  # an earlier attempt ended in doubt: reconcile first
            if row.status != "unknown":  # no answer came: wait until it can no longer land
                began = row.attempted_at or row.created_at
                settles = began + timedelta(seconds=self._config.landing_seconds)
                wait = settles - datetime.now(UTC)
                if wait > timedelta(0):
                    raise ApplicationError(
                        f"an earlier attempt may still reach the provider until "
                        f"{settles:%H:%M:%S} UTC; the message is looked up then",
                        type="EarlierAttemptInFlight",
                        next_retry_delay=wait,
                    )
            candidates = await _beating(self._find, row)
            # A provider id another message recorded is that message's, never this one's.
            taken = await outbox.recorded_elsewhere(self._engine, row.key, candidates)
            found = next((sid for sid in candidates if sid not in taken), None)
            if found is not None:
                await self._mark(row.key, status="sent", provider_id=found)
                seen["outcome"] = "found"
                return SendResult(provider_id=found)
            if row.send_by is not None and datetime.now(UTC) + window.CLOSING >= row.send_by:
                await window.closed(self._engine, row)  # not found, and too late to send now
            if not await outbox.retake(self._engine, row.key, row, datetime.now(UTC)):
                raise ApplicationError(
                    "another attempt took the message since this one read it; it is looked "
                    "up again once that attempt can no longer land",
                    type="EarlierAttemptInFlight",
                    next_retry_delay=timedelta(seconds=self._config.landing_seconds),
                )
        await listed.check(self._engine, row)  # a do-not-call list the engine could not exempt
        await reassigned.check(self._engine, self._rnd, row)  # disconnected since it was theirs
        if row.caps:
            await window.within_caps(self._engine, row)
        link = await email.unsubscribe_link(self._engine, self._config, row)
        try:
            provider_id = await _beating(self._send, row, link)
        except _Outcome as outcome:
            # The type first: a retried attempt that finds the message failed for good
            # (its worker died before saying so) ends the same way, without the provider.
            error = f"{outcome.error.type}: {outcome.error.message}"
            await self._mark(row.key, status=outcome.status, error=error)
            if outcome.error.type == "OptedOut":
                await self._record_opt_out(row)
            raise outcome.error from None
        await self._mark(row.key, status="sent", provider_id=provider_id)
        seen["outcome"] = "resent" if row.attempts > 0 else "sent"
        return SendResult(provider_id=provider_id, resent=row.attempts > 0)

    async def _holds(self, account_id: str, number: str) -> bool:
        async with self._engine.connect() as conn:
            return await senders.account_of(conn, "sms", number) == account_id

    def all(self) -> list[Callable[..., Any]]:
        return [self.send_message, self.send_messages]

    # ---- providers (blocking SDK calls, run in a thread) -----------------------------------

    def _send(self, row: OutboxMessage, link: str | None) -> str:
        if row.channel == "email":
            return self._send_email(row, link)
        try:
            callback = None
            if self._config.public_url:
                base = self._config.public_url.rstrip("/")
                callback = f"{base}/webhooks/twilio/status"
            message = self._twilio.messages.create(
                to=row.to_address,
                from_=row.from_number or self._config.twilio_from,
                body=row.body,
                media_url=list(row.media) or None,
                status_callback=callback,
                validity_period=window.validity(row),
            )
        except TwilioException as exc:
            raise self._twilio_outcome(row, exc) from None
        except (OSError, urllib.error.URLError) as exc:
            raise self._network_outcome(exc) from None
        return str(message.sid)

    def _send_email(self, row: OutboxMessage, link: str | None) -> str:
        try:
            response = self._sendgrid.send(email.mail(row, self._config.sendgrid_from, link))
        except SendGridHTTPError as exc:
            status = int(exc.status_code)
            raise self._http_outcome(status, f"SendGrid {status}: {exc.body!r}") from None
        except (OSError, urllib.error.URLError) as exc:
            raise self._network_outcome(exc) from None
        return str(response.headers.get("X-Message-Id", ""))

    def _find(self, row: OutboxMessage) -> list[str]:
        """Reconcile: did an earlier attempt reach the provider after all? The provider ids
        that may be it: an email by its key, a text by its recipient, sender and body."""
        since = (row.attempted_at or row.created_at) - timedelta(minutes=1)
        if row.channel == "email":
            query = f"unique_args['leadflow_key']=\"{row.key}\""
            response = self._sendgrid.client.messages.get(
                query_params={"query": query, "limit": 10}
            )
            found = json.loads(response.body or b"{}").get("messages", [])
            return [str(message["msg_id"]) for message in found]
        # Every text from this sender to this number, newest first, page by page: no date
        # filter (Twilio's filters on the date sent, which a text still queued there lacks)
        # and no limit (a number many texts went to, like an agent's, would hide an older
        # one past it, and the text would go twice).
        sender = row.from_number or self._config.twilio_from
        listed = self._twilio.messages.stream(to=row.to_address, from_=sender, page_size=1000)
        return [
            str(m.sid)
            for m in listed
            if m.to == row.to_address
            and m.from_ == sender
            and m.body == row.body
            and (m.date_created is None or m.date_created >= since)
        ]

    def _twilio_outcome(self, row: OutboxMessage, exc: TwilioException) -> _Outcome:
        code = getattr(exc, "code", None)
        status = int(getattr(exc, "status", 0) or 0)
        text = f"Twilio {code or status}: {getattr(exc, 'msg', '') or exc}"
        meaning = twilio_meaning(code)
        if meaning in ENDS_AS:
            error = ApplicationError(text, type=ENDS_AS[meaning], non_retryable=True)
            return _Outcome("failed", error)
        if meaning == "not_sent":  # held back (a rate limit): tried again later, in its window
            return _Outcome(
                "queued",
                ApplicationError(text, type="ProviderDeferred", next_retry_delay=LIMIT_WAIT),
            )
        if meaning == "unreachable":
            if row.attempts + 1 >= UNREACHABLE_ATTEMPTS:
                return _Outcome(
                    "failed", ApplicationError(text, type="Undeliverable", non_retryable=True)
                )
            return _Outcome(
                "queued",
                ApplicationError(text, type="Unreachable", next_retry_delay=timedelta(minutes=30)),
            )
        return self._http_outcome(status, text)

    @staticmethod
    def _http_outcome(status: int, text: str) -> _Outcome:
        if status == 429:  # a provider may answer 429 after taking the message: look it up
            return _Outcome("unknown", ApplicationError(text, type="RateLimited"))
        if status >= 500:  # it may have been sent: reconcile before any resend
            return _Outcome("unknown", ApplicationError(text, type="ProviderError"))
        if status in (401, 403):
            return _Outcome(
                "queued", ApplicationError(f"{text} (check the credentials)", type="ProviderAuth")
            )
        return _Outcome("failed", ApplicationError(text, type="Rejected", non_retryable=True))

    @staticmethod
    def _network_outcome(exc: BaseException) -> _Outcome:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, ConnectionRefusedError):
            return _Outcome(
                "queued", ApplicationError(f"connection refused: {reason}", type="Unavailable")
            )
        if isinstance(reason, TimeoutError | socket.timeout) or "timed out" in str(exc):
            return _Outcome("unanswered", ApplicationError(f"timed out: {exc}", type="Timeout"))
        return _Outcome("unanswered", ApplicationError(f"network error: {exc}", type="Network"))

    # ---- the outbox ---------------------------------------------------------------------

    @staticmethod
    async def _database_or_retry(attempt: Awaitable[SendResult]) -> SendResult:
        """A database that does not answer retries the send on a schedule of its own, about
        a second apart, not the provider's backoff: the message is sent once it is back (a
        row left `sending` is then looked up first, as after any cut-off attempt)."""
        try:
            return await attempt
        except (DBAPIError, ConnectionError) as exc:
            raise ApplicationError(
                f"the database did not answer: {type(exc).__name__}",
                type="DatabaseUnavailable",
                next_retry_delay=DATABASE_RETRY,
            ) from None

    async def _mark(self, key: str, **values: Any) -> None:
        await outbox.mark(self._engine, key, **values)

    async def _record_opt_out(self, row: OutboxMessage) -> None:
        """The carrier says the number unsubscribed: it holds for every text, account-wide."""
        async with self._engine.begin() as conn:
            await opt_outs.opt_out(
                conn,
                row.account_id,
                TEXTS,
                row.to_address,
                source="carrier 21610",
                at=datetime.now(UTC),
            )
