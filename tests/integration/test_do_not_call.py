"""The do-not-call lists at the moment of contact, on real PostgreSQL with the real Twilio
SDK against the fake: a solicitation the engine could not exempt is not sent, and no agent
is handed the call, while its number is on a list that reaches it, or while such a list is
more than 31 days old; written consent or a live business relationship lets it through;
the reason names the list and the rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.exceptions import ApplicationError

from leadflow.store import queue
from leadflow.store.dnc import import_list
from leadflow.store.tables import CallQueueEntry, OutboxMessage
from tests.factories import eventually
from tests.integration.test_call_caps import NOW, _queued
from tests.integration.test_moment_of_contact import PHONE, _row, _send, _text
from tests.integration.test_webhooks import PHONE as LEAD_PHONE
from tests.integration.test_webhooks import api, app  # noqa: F401  (fixtures)
from tests.services import ProvidersUnderTest

OTHER = "+13055550177"  # Miami too, on no list


async def _listed_text(db: AsyncEngine, key: str, exemption: str | None = None) -> object:
    request = await _text(db, key)
    async with db.begin() as conn:
        await conn.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key == key)
            .values(do_not_call=["national", "state:FL"], exemption=exemption)
        )
    return request


async def test_a_text_to_a_listed_number_is_not_sent_unless_something_exempts_it(
    db: AsyncEngine, providers: ProvidersUnderTest
) -> None:
    today = datetime.now(UTC).date()
    await import_list(db, "state:FL", today - timedelta(days=3), [PHONE[2:]])
    with pytest.raises(ApplicationError) as held:
        await _send(db, providers, await _listed_text(db, "t1"))
    assert held.value.type == "Listed" and held.value.non_retryable
    assert "FL's do-not-call list" in held.value.message and "64.1200" in held.value.message
    row = await _row(db, "t1")
    assert row.status == "failed" and row.error.startswith("Listed: ")
    assert providers.state.messages == []  # never reached Twilio
    exempt = "written consent (web form, 2026-11-30)"
    await _send(db, providers, await _listed_text(db, "t2", exemption=exempt))
    assert len(providers.state.messages) == 1


async def test_a_list_older_than_31_days_holds_every_number_it_covers(
    db: AsyncEngine, providers: ProvidersUnderTest
) -> None:
    today = datetime.now(UTC).date()
    await import_list(db, "national", today - timedelta(days=31), ["2025550100"])
    await _send(db, providers, await _listed_text(db, "fresh"))  # 31 days: still relied on
    await import_list(db, "national", today - timedelta(days=32), ["2025550100"])
    with pytest.raises(ApplicationError) as stale:
        await _send(db, providers, await _listed_text(db, "stale"))
    assert stale.value.type == "Listed"
    assert "National Do Not Call Registry is 32 days old" in stale.value.message
    assert len(providers.state.messages) == 1


async def test_no_agent_is_handed_a_call_a_list_holds_and_the_queue_says_why(
    db: AsyncEngine,
) -> None:
    await import_list(db, "national", NOW.date() - timedelta(days=2), [PHONE[2:]])
    for lead, phone, exemption in (
        ("listed", PHONE, None),
        ("consented", PHONE, "written consent (web form, 2026-02-27)"),
        ("clear", OTHER, None),
    ):
        await _queued(db, lead, phone, caps=[])
        async with db.begin() as conn:
            await conn.execute(
                update(CallQueueEntry)
                .where(CallQueueEntry.lead_id == lead)
                .values(do_not_call=["national", "state:FL"], exemption=exemption)
            )
    assert sorted(c.lead_id for c in await queue.due(db, "acme", now=NOW)) == [
        "clear",
        "consented",
    ]
    [held] = [w for w in await queue.waiting(db, "acme", now=NOW, limit=10)]
    assert held.lead_id == "listed" and held.why.startswith("a do-not-call list holds")
    taken = [await queue.claim_next(db, "acme", f"a{n}", now=NOW) for n in range(3)]
    assert sorted(c.lead_id for c in taken if c is not None) == ["clear", "consented"]
    # Thirty-two days on, the list is too old to rely on: only the consented call is handed out.
    later = NOW + timedelta(days=30)
    async with db.begin() as conn:
        await conn.execute(
            update(CallQueueEntry).values(
                claimed_by=None, claimed_until=None, callable_until=later + timedelta(hours=3)
            )
        )
    assert sorted(c.lead_id for c in await queue.due(db, "acme", now=later)) == ["consented"]


async def test_the_accounts_own_list_takes_numbers_and_tells_their_leads(
    db: AsyncEngine,
    api: httpx.AsyncClient,  # noqa: F811
) -> None:
    """A number put on the account's list over the API: its calls and texts stop on every
    lead with it, at once; what holds a number says so, beside the registries' lists."""
    await import_list(db, "national", datetime.now(UTC).date(), [LEAD_PHONE[2:]])
    answer = await api.post(
        "/v1/do-not-call",
        json={
            "numbers": ["(312) 555-0111", "+13125550188"],
            "source": "CRM export",
            "actor": "ops",
        },
    )
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"numbers": 2, "leads": 1}

    async def stopped() -> bool:
        audit = (await api.get("/v1/leads/L1")).json()["audit"]
        return any(a["reason"].startswith("opted out of call (do-not-call list") for a in audit)

    assert await eventually(stopped)
    held = (await api.get("/v1/do-not-call/3125550111")).json()
    assert held["number"] == LEAD_PHONE and held["account"] == ["call", "mms", "sms"]
    assert held["account_source"] == "do-not-call list: CRM export (by ops)"
    assert held["registries"] == ["national"] and held["stale"] == []
    bad = await api.get("/v1/do-not-call/not-a-number")
    assert bad.status_code == 422 and "not a phone number" in bad.text
    empty = await api.post("/v1/do-not-call", json={"numbers": [], "source": "x", "actor": "y"})
    assert empty.status_code == 422
