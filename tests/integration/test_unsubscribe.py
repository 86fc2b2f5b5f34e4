"""Every email carries an unsubscribe link and the one-click headers (RFC 2369, RFC 8058),
sent through the real SendGrid SDK to the fake; a POST to the link opts the address out of
the account's emails before it answers and tells the lead; following the link (GET) changes
nothing; a token no email carried is a 404; the token stays out of the access log."""

from __future__ import annotations

import dataclasses
import logging
import uuid

import httpx
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import ActivityEnvironment

from leadflow.activities.payloads import SendRequest
from leadflow.activities.send import SendActivities
from leadflow.api.routes.codec import RedactToken
from leadflow.store.tables import OptOut, OutboxMessage
from tests.factories import eventually
from tests.integration.test_webhooks import EMAIL, PUBLIC, api, app  # noqa: F401  (fixtures)
from tests.services import ProvidersUnderTest


async def _email(db: AsyncEngine, providers: ProvidersUnderTest) -> dict[str, object]:
    """An email to the lead, sent as the send activity sends it when the API is public."""
    key = f"lead:acme:L1:test-{uuid.uuid4().hex[:8]}"
    async with db.begin() as conn:
        await conn.execute(
            insert(OutboxMessage).values(
                key=key,
                account_id="acme",
                lead_id="L1",
                channel="email",
                party="borrower",
                to_address=EMAIL,
                sender_id="isa-1",
                template="intro",
                subject="Your home loan request",
                body="Hi Pat, thanks for your request.\n\nAcme Mortgage, 100 Main St, Chicago, IL",
                media=[],
            )
        )
    public = dataclasses.replace(providers.config, public_url=PUBLIC)
    await ActivityEnvironment().run(SendActivities(db, public).send_message, SendRequest(key=key))
    [sent] = [
        e for e in providers.state.emails if e["payload"]["custom_args"] == {"leadflow_key": key}
    ]
    return dict(sent["payload"])


async def test_an_email_carries_the_link_and_one_click_headers_and_a_post_opts_out(
    db: AsyncEngine,
    providers: ProvidersUnderTest,
    api: httpx.AsyncClient,  # noqa: F811
) -> None:
    payload = await _email(db, providers)
    headers = payload["headers"]
    assert isinstance(headers, dict)
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = headers["List-Unsubscribe"].strip("<>")
    assert link.startswith(f"{PUBLIC}/unsubscribe/") and EMAIL not in link and "acme" not in link
    [content] = payload["content"]  # type: ignore[misc]
    assert content["value"].endswith(
        f"Acme Mortgage, 100 Main St, Chicago, IL\n\nUnsubscribe: {link}"
    )
    again = await _email(db, providers)  # the address's link is the same in every email
    assert again["headers"]["List-Unsubscribe"] == headers["List-Unsubscribe"]  # type: ignore[index]

    path = link.removeprefix(PUBLIC)
    page = await api.get(path)  # a link scanner following it
    assert page.status_code == 200 and "Unsubscribe" in page.text and EMAIL not in page.text
    assert await _opted_out(db) == []
    one_click = await api.post(
        path,
        content="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200 and "no more emails" in one_click.text
    assert await _opted_out(db) == [("acme", "unsubscribe link")]  # before it answered
    assert (await api.post(path)).status_code == 200  # the page's button, again: no change
    assert await _opted_out(db) == [("acme", "unsubscribe link")]

    async def lead_opted_out() -> bool:
        audit = (await api.get("/v1/leads/L1")).json()["audit"]
        return any(a["reason"] == "opted out of email (unsubscribe link)" for a in audit)

    assert await eventually(lead_opted_out)


async def test_a_token_no_email_carried_is_not_found_and_changes_nothing(
    db: AsyncEngine,
    api: httpx.AsyncClient,  # noqa: F811
) -> None:
    for answer in (await api.get("/unsubscribe/nope"), await api.post("/unsubscribe/nope")):
        assert answer.status_code == 404 and "not one we sent" in answer.text
    assert await _opted_out(db) == []


def test_the_token_stays_out_of_the_access_log() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1", "POST", "/unsubscribe/s3cr3t-token", "1.1", 200),
        None,
    )
    assert RedactToken().filter(record)
    assert "s3cr3t" not in record.getMessage()


async def _opted_out(db: AsyncEngine) -> list[tuple[str, str]]:
    async with db.connect() as conn:
        rows = await conn.execute(
            select(OptOut.account_id, OptOut.source).where(
                OptOut.address == EMAIL, OptOut.channel == "email"
            )
        )
    return [(r.account_id, r.source) for r in rows]
