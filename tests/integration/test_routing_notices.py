"""Routing's notices to users, through a lead's workflow under time skipping, the real
Twilio and SendGrid SDKs and the fake providers: each user offered a lead hears of it once
by text and by email, the user the lead falls back to hears it is theirs, and a notice is
the user's, never the lead's: no reply to it reaches the lead, no cap counts it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from leadflow.client import LeadflowClient
from leadflow.playbook.schema import Playbook
from leadflow.store import outbox
from leadflow.store import routing as store
from leadflow.store.accounts import ensure_account
from leadflow.store.playbooks import save_version
from leadflow.store.tables import OutboxMessage
from leadflow.store.users import save_user
from tests.factories import PLAYBOOKS, eventually, new_lead
from tests.integration.test_routing_workflow import _isa_of
from tests.services import ProvidersUnderTest

PHONES = {"ana": "+16175550181", "bo": "+16175550182", "cy": "+16175550183"}  # no lead's
EMAILS = {"ana": "ana@team.example", "bo": "bo@team.example"}  # cy has none on record
CLAIM = {"name": "claim", "designation": "isa", "mode": "first_to_claim",
         "group": ["ana", "bo"], "claim_window": "5m", "fallback": ["backup"]}  # fmt: skip
BACKUP = {"name": "backup", "designation": "isa", "group": ["cy"]}


def _notifying() -> Playbook:
    data = PLAYBOOKS.get("isa").model_dump(mode="json")
    data["version"] += 101
    data["routing"] = {"rules": [CLAIM, BACKUP], "notify": ["sms", "email"]}
    return Playbook.model_validate(data)


def _texts(providers: ProvidersUnderTest, user: str) -> list[dict[str, Any]]:
    return [m for m in providers.state.messages if m["to"] == PHONES[user]]


def _emails(providers: ProvidersUnderTest, user: str) -> list[dict[str, Any]]:
    return [m for m in providers.state.emails if m["to"] == EMAILS.get(user)]


async def test_users_hear_of_an_offer_and_of_a_lead_given_them_once_and_never_as_a_lead(
    leads: LeadflowClient,
    db: AsyncEngine,
    time_env: WorkflowEnvironment,
    providers: ProvidersUnderTest,
) -> None:
    await ensure_account(db, "acme", "Acme", "isa")
    for user, phone in PHONES.items():
        await save_user(db, "acme", user, user.title(), phone, EMAILS.get(user), ["isa"])
    book = _notifying()
    await save_version(db, "acme", book)
    request = new_lead(playbook="isa", designations={})
    await leads.ensure_lead(request, playbook=book)
    lead = request.lead

    async def told_both() -> bool:
        heard = [_texts(providers, u) + _emails(providers, u) for u in ("ana", "bo")]
        return all(len(h) == 2 for h in heard)

    assert await eventually(told_both)
    [text] = _texts(providers, "ana")
    assert text["from"] == "+13125550000"
    assert text["body"].startswith(f"leadflow: lead {lead.lead_id} is offered to you until ")
    [email] = _emails(providers, "bo")
    assert email["payload"]["subject"] == f"Lead {lead.lead_id} offered to you"
    assert "Unsubscribe" not in str(email["payload"])  # a colleague, not a mailing list
    # Nobody accepts: the window runs out and the lead falls back to cy, who hears it is
    # theirs by text (no email on record). Nobody is told twice.
    await time_env.sleep(timedelta(minutes=6))

    async def given() -> str | None:
        return await _isa_of(leads, lead)

    assert await eventually(given) == "cy"

    async def told_cy() -> list[dict[str, Any]]:
        return _texts(providers, "cy")

    [yours] = await eventually(told_cy)
    assert yours["body"].startswith(f"leadflow: lead {lead.lead_id} is yours (backup: ")
    assert [len(_texts(providers, u)) for u in ("ana", "bo")] == [1, 1]
    # The notices are the users': a reply from a user's phone finds no lead through them.
    async with db.connect() as conn:
        rows = (
            await conn.execute(
                select(OutboxMessage.audience, OutboxMessage.status).where(
                    OutboxMessage.lead_id == lead.lead_id,
                    OutboxMessage.key.contains(":notice:"),
                )
            )
        ).all()
        assert sorted(rows) == [("agent", "sent")] * 5
        found = await outbox.texts_to(conn, PHONES["ana"], "+13125550000", default_number=True)
    assert found == []
    history = await store.history(db, "acme", lead.lead_id)
    assert [len(h["notices"] or []) for h in history] == [4, 1]
