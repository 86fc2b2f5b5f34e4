"""Sending through the real twilio and sendgrid SDKs against the fake: exactly once,
every error code to its outcome."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from leadflow.activities.payloads import BatchOutcome, SendBatch, SendRequest
from leadflow.activities.send import SendActivities
from leadflow.engine.refs import LeadRef
from leadflow.providers.clients import NORTH_AMERICA
from leadflow.store.tables import Lead, OptOut, OutboxMessage
from tests.services import ProvidersUnderTest

REF = LeadRef(account_id="acme", lead_id="L1")
PHONE, EMAIL = "+13125550111", "pat@example.com"


async def _outbox(db: AsyncEngine, key: str = "k1", channel: str = "sms") -> SendRequest:
    async with db.begin() as conn:
        exists = (await conn.execute(select(Lead.lead_id))).first()
        if exists is None:
            await conn.execute(
                insert(Lead).values(
                    account_id="acme",
                    lead_id="L1",
                    workflow_id=REF.workflow_id,
                    milestone="Prospect",
                    status="New",
                    time_zone="America/Chicago",
                )
            )
        await conn.execute(
            insert(OutboxMessage).values(
                key=key,
                account_id="acme",
                lead_id="L1",
                channel=channel,
                party="borrower",
                to_address=EMAIL if channel == "email" else PHONE,
                sender_id="isa-1",
                template="intro",
                subject="Hello" if channel == "email" else None,
                body=f"Hi Pat ({key})",
                media=[],
            )
        )
    return SendRequest(lead=REF, key=key)


async def _row(db: AsyncEngine, key: str = "k1") -> Any:
    async with db.connect() as conn:
        return (
            await conn.execute(select(OutboxMessage.__table__).where(OutboxMessage.key == key))
        ).one()


async def _send(db: AsyncEngine, providers: ProvidersUnderTest, request: SendRequest) -> Any:
    return await ActivityEnvironment().run(
        SendActivities(db, providers.config).send_message, request
    )


async def test_an_sms_is_sent_once_and_a_retry_sends_nothing(
    db: AsyncEngine, providers: ProvidersUnderTest
) -> None:
    request = await _outbox(db)
    first = await _send(db, providers, request)
    again = await _send(db, providers, request)
    assert first.provider_id == again.provider_id and first.provider_id.startswith("SM")
    [sent] = providers.state.messages
    assert (sent["to"], sent["from"], sent["body"]) == (PHONE, "+13125550000", "Hi Pat (k1)")
    row = await _row(db)
    assert (row.status, row.provider_id, row.attempts) == ("sent", first.provider_id, 1)


async def test_an_email_is_sent_once(db: AsyncEngine, providers: ProvidersUnderTest) -> None:
    request = await _outbox(db, channel="email")
    first = await _send(db, providers, request)
    await _send(db, providers, request)
    assert len(providers.state.emails) == 1
    assert providers.state.emails[0]["msg_id"] == first.provider_id


@pytest.mark.parametrize(
    ("code", "kind", "retryable", "status"),
    [
        (21211, "BadNumber", False, "failed"),
        (21614, "BadNumber", False, "failed"),
        (30005, "BadNumber", False, "failed"),
        (30006, "BadNumber", False, "failed"),
        (21610, "OptedOut", False, "failed"),
        (30007, "Filtered", False, "failed"),
        (30003, "Unreachable", True, "queued"),
        (429, "RateLimited", True, "unknown"),
        (503, "ProviderError", True, "unknown"),
    ],
)
async def test_each_twilio_error_ends_in_its_outcome(
    db: AsyncEngine,
    providers: ProvidersUnderTest,
    code: int,
    kind: str,
    retryable: bool,
    status: str,
) -> None:
    providers.state.failures.append(_failure(PHONE, code))
    request = await _outbox(db)
    with pytest.raises(ApplicationError) as error:
        await _send(db, providers, request)
    assert (error.value.type, error.value.non_retryable) == (kind, not retryable)
    assert (await _row(db)).status == status
    if kind == "OptedOut":
        async with db.connect() as conn:
            opted = (await conn.execute(select(OptOut.channel, OptOut.address))).all()
        assert sorted(tuple(o) for o in opted) == [("mms", PHONE), ("sms", PHONE)]
    if retryable:  # the next attempt goes through, once
        await _send(db, providers, request)
        assert len(providers.state.messages) == 1


@pytest.mark.parametrize(("code", "kind"), [(21211, "BadNumber"), (30007, "Filtered")])
async def test_an_attempt_after_a_failure_for_good_ends_the_same_without_the_provider(
    db: AsyncEngine, providers: ProvidersUnderTest, code: int, kind: str
) -> None:
    """The worker died after recording the failure, before the workflow heard it: the
    retried attempt ends with the same error, and the provider (which would take it now)
    is not asked again."""
    providers.state.failures.append(_failure(PHONE, code))
    request = await _outbox(db)
    for _ in range(2):
        with pytest.raises(ApplicationError) as error:
            await _send(db, providers, request)
        assert (error.value.type, error.value.non_retryable) == (kind, True)
    assert providers.state.messages == []
    row = await _row(db)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.error.startswith(f"{kind}: Twilio {code}")


async def test_unreachable_gives_up_after_three_attempts(
    db: AsyncEngine, providers: ProvidersUnderTest
) -> None:
    providers.state.failures.append(_failure(PHONE, 30003, times=3))
    request = await _outbox(db)
    kinds = []
    for _ in range(3):
        with pytest.raises(ApplicationError) as error:
            await _send(db, providers, request)
        kinds.append(error.value.type)
    assert kinds == ["Unreachable", "Unreachable", "Undeliverable"]


@pytest.mark.parametrize("code", [500, 429])
@pytest.mark.parametrize("channel", ["sms", "email"])
async def test_an_ambiguous_failure_is_reconciled_not_resent(
    db: AsyncEngine, providers: ProvidersUnderTest, channel: str, code: int
) -> None:
    """The provider took the message, then answered 500 or 429: the retry finds it."""
    providers.state.failures.append(
        _failure(EMAIL if channel == "email" else PHONE, code, after_send=True)
    )
    request = await _outbox(db, channel=channel)
    with pytest.raises(ApplicationError, match=str(code)):
        await _send(db, providers, request)
    assert (await _row(db)).status == "unknown"
    result = await _send(db, providers, request)
    sent = providers.state.emails if channel == "email" else providers.state.messages
    assert len(sent) == 1 and not result.resent
    assert (await _row(db)).status == "sent"


@pytest.mark.parametrize("channel", ["sms", "email"])
async def test_a_message_that_lands_after_the_sdk_gave_up_is_not_sent_twice(
    db: AsyncEngine, providers: ProvidersUnderTest, channel: str
) -> None:
    """The provider took the request, the SDK timed out (2 s), the provider recorded it at
    4 s. A retry at once must not look it up yet (it would find nothing and send again): it
    waits out the attempt's landing window (5 s), then finds the message."""
    providers.state.failures.append(_failure(EMAIL if channel == "email" else PHONE, "timeout"))
    sent = providers.state.emails if channel == "email" else providers.state.messages
    request = await _outbox(db, channel=channel)
    with pytest.raises(ApplicationError) as error:
        await _send(db, providers, request)
    assert error.value.type == "Timeout" and not error.value.non_retryable
    assert (await _row(db)).status == "unanswered"
    with pytest.raises(ApplicationError) as early:
        await _send(db, providers, request)
    assert early.value.type == "EarlierAttemptInFlight" and not early.value.non_retryable
    wait = early.value.next_retry_delay
    assert wait is not None and timedelta(0) < wait <= timedelta(seconds=5)
    assert sent == []  # neither looked up nor sent: the first request has not landed yet
    await asyncio.sleep(wait.total_seconds())
    result = await _send(db, providers, request)
    assert len(sent) == 1 and not result.resent
    assert (await _row(db)).status == "sent"


async def test_a_crash_between_outbox_and_provider_sends_once(
    db: AsyncEngine, providers: ProvidersUnderTest
) -> None:
    """The worker died after marking the attempt, before calling the provider; once the
    attempt's landing window has passed, the lookup finds nothing and the message goes."""
    request = await _outbox(db)
    async with db.begin() as conn:
        await conn.execute(
            update(OutboxMessage).values(
                status="sending", attempts=1, attempted_at=datetime.now(UTC) - timedelta(seconds=6)
            )
        )
    await _send(db, providers, request)
    assert len(providers.state.messages) == 1


async def test_a_crash_after_the_provider_call_does_not_send_again(
    db: AsyncEngine, providers: ProvidersUnderTest
) -> None:
    """The worker died after the provider took the message, before recording its id."""
    request = await _outbox(db)
    await _send(db, providers, request)
    async with db.begin() as conn:
        await conn.execute(
            update(OutboxMessage).values(
                status="sending",
                provider_id=None,
                attempted_at=datetime.now(UTC) - timedelta(seconds=6),  # past its landing window
            )
        )
    result = await _send(db, providers, request)
    assert len(providers.state.messages) == 1 and not result.resent


async def test_a_text_in_doubt_is_found_behind_many_later_texts_to_the_same_number(
    db: AsyncEngine, providers: ProvidersUnderTest
) -> None:
    """A number many texts go to from one sender (an agent's, for routing's notices): the
    lookup pages past the newest, finds the text the cut-off attempt sent, and sends nothing
    again. (Its first page alone, newest first, would miss it, and the text would go twice.)"""
    request = await _outbox(db)
    await _send(db, providers, request)
    sender = SendActivities(db, providers.config)._twilio
    for i in range(120):  # later texts, same sender, same number
        await asyncio.to_thread(
            sender.messages.create, to=PHONE, from_=providers.config.twilio_from, body=f"n{i}"
        )
    async with db.begin() as conn:
        await conn.execute(
            update(OutboxMessage).values(
                status="sending",
                provider_id=None,
                attempted_at=datetime.now(UTC) - timedelta(seconds=6),  # past its landing window
            )
        )
    result = await _send(db, providers, request)
    assert len(providers.state.messages) == 121 and not result.resent
    assert result.provider_id == providers.state.messages[0]["sid"]


async def test_an_address_opted_out_elsewhere_in_the_account_is_not_texted(
    db: AsyncEngine, providers: ProvidersUnderTest
) -> None:
    request = await _outbox(db)
    async with db.begin() as conn:
        await conn.execute(
            insert(OptOut).values(
                account_id="acme", channel="sms", address=PHONE, source="STOP", at=datetime.now(UTC)
            )
        )
    with pytest.raises(ApplicationError) as error:
        await _send(db, providers, request)
    assert error.value.type == "OptedOut" and providers.state.messages == []
    assert (await _row(db)).status == "suppressed"


async def _send_batch(
    db: AsyncEngine, providers: ProvidersUnderTest, touches: list[str]
) -> BatchOutcome | None:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id=REF.workflow_id)
    return await env.run(
        SendActivities(db, providers.config).send_messages, SendBatch(touches=touches)
    )


async def _pair(db: AsyncEngine) -> list[str]:
    """A text and an email of one decision, by touch key (their outbox keys name the lead)."""
    await _outbox(db, f"{REF.workflow_id}:t-sms")
    await _outbox(db, f"{REF.workflow_id}:t-email", channel="email")
    return ["t-sms", "t-email"]


async def test_a_text_and_an_email_go_in_one_send_each_once(
    db: AsyncEngine, providers: ProvidersUnderTest
) -> None:
    touches = await _pair(db)
    assert await _send_batch(db, providers, touches) is None  # nothing left over
    assert await _send_batch(db, providers, touches) is None  # a retried batch sends nothing
    assert [m["to"] for m in providers.state.messages] == [PHONE]
    assert [e["to"] for e in providers.state.emails] == [EMAIL]
    for touch in touches:
        assert (await _row(db, f"{REF.workflow_id}:{touch}")).status == "sent"


@pytest.mark.parametrize(
    ("code", "failed", "retry"),
    [
        (21211, {"t-sms": "BadNumber"}, {}),
        (21610, {"t-sms": "OptedOut"}, {}),
        (503, {}, {"t-sms": 0.0}),
        (30003, {}, {"t-sms": 1800.0}),  # unreachable: tried again in 30 minutes
    ],
)
async def test_each_message_of_a_batch_ends_on_its_own(
    db: AsyncEngine,
    providers: ProvidersUnderTest,
    code: int,
    failed: dict[str, str],
    retry: dict[str, float],
) -> None:
    """The text fails; the email goes regardless, and the batch says what became of the
    text: failed for good (the engine hears why) or to be retried by a send of its own."""
    providers.state.failures.append(_failure(PHONE, code))
    touches = await _pair(db)
    outcome = await _send_batch(db, providers, touches)
    assert outcome == BatchOutcome(failed=failed, retry=retry)
    assert [e["to"] for e in providers.state.emails] == [EMAIL]
    assert providers.state.messages == []
    if retry:  # the text's own send then goes through, once
        await _send(db, providers, SendRequest(key=f"{REF.workflow_id}:t-sms"))
        await _send_batch(db, providers, touches)
        assert len(providers.state.messages) == 1 and len(providers.state.emails) == 1


def _failure(to: str, code: int | str, times: int = 1, after_send: bool = False) -> Any:
    from leadflow.providers.fake import Failure

    return Failure(to=to, code=code, times=times, after_send=after_send)


async def test_a_text_from_a_number_the_account_does_not_hold_never_reaches_the_provider(
    db: AsyncEngine, providers: ProvidersUnderTest
) -> None:
    from leadflow.store.accounts import ensure_account
    from leadflow.store.senders import add_sender

    theirs, ours = "+13125550999", "+13125550888"
    for account in ("acme", "other"):
        await ensure_account(db, account, account, "isa")
    await add_sender(db, "other", "sms", theirs)
    await add_sender(db, "acme", "sms", ours)
    for key, number in (("spoofed", theirs), ("own", ours)):
        await _outbox(db, key=key)
        async with db.begin() as conn:
            await conn.execute(
                update(OutboxMessage).where(OutboxMessage.key == key).values(from_number=number)
            )
    with pytest.raises(ApplicationError) as refused:
        await _send(db, providers, SendRequest(lead=REF, key="spoofed"))
    assert refused.value.type == "Rejected" and refused.value.non_retryable
    assert providers.state.messages == []
    row = await _row(db, "spoofed")
    assert row.status == "failed" and row.error.startswith("Rejected: the account does not hold")
    # A retry ends the same way, still without the provider.
    with pytest.raises(ApplicationError):
        await _send(db, providers, SendRequest(lead=REF, key="spoofed"))
    await _send(db, providers, SendRequest(lead=REF, key="own"))
    assert [(m["from"], m["to"]) for m in providers.state.messages] == [(ours, PHONE)]


async def test_a_text_to_a_country_texts_may_not_go_to_fails_for_good_unsent(
    db: AsyncEngine, providers: ProvidersUnderTest
) -> None:
    await _outbox(db, key="pumped")
    async with db.begin() as conn:  # a premium-rate country's number, as a bot would give
        await conn.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key == "pumped")
            .values(to_address="+8823450000001")
        )
    default = dataclasses.replace(providers.config, sms_countries=NORTH_AMERICA)
    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(
            SendActivities(db, default).send_message, SendRequest(lead=REF, key="pumped")
        )
    assert refused.value.type == "Rejected" and refused.value.non_retryable
    assert "SMS_COUNTRIES: US, PR, VI, GU, AS, MP, CA" in refused.value.message
    assert providers.state.messages == []
    await _outbox(db, key="abroad")
    async with db.begin() as conn:
        await conn.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key == "abroad")
            .values(to_address="+447700900123")
        )
    uk = dataclasses.replace(providers.config, sms_countries=("US", "GB"))
    await ActivityEnvironment().run(
        SendActivities(db, uk).send_message, SendRequest(lead=REF, key="abroad")
    )
    assert [m["to"] for m in providers.state.messages] == ["+447700900123"]


async def test_an_account_past_its_daily_texts_waits_untaken_and_goes_when_the_day_allows(
    db: AsyncEngine, providers: ProvidersUnderTest
) -> None:
    limited = dataclasses.replace(providers.config, sms_daily_limit=2)
    for key in ("t1", "t2", "t3"):
        await _outbox(db, key=key)
    await _outbox(db, key="mail", channel="email")

    async def send(key: str) -> Any:
        activities = SendActivities(db, limited)
        return await ActivityEnvironment().run(
            activities.send_message, SendRequest(lead=REF, key=key)
        )

    await send("t1")
    await send("t2")
    with pytest.raises(ApplicationError) as waiting:
        await send("t3")
    assert waiting.value.type == "AccountTextLimit" and not waiting.value.non_retryable
    assert waiting.value.next_retry_delay == timedelta(minutes=15)
    row = await _row(db, "t3")
    assert (row.status, row.attempts) == ("queued", 0)  # untaken: a retry takes it afresh
    await send("mail")  # emails do not count
    assert len(providers.state.messages) == 2 and len(providers.state.emails) == 1
    async with db.begin() as conn:  # a day later: the first two fall out of the window
        await conn.exec_driver_sql("UPDATE text_counts SET hour = hour - interval '25 hours'")
    await send("t3")
    assert [m["body"] for m in providers.state.messages][-1] == "Hi Pat (t3)"
