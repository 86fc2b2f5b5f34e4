"""STOP, START and HELP are one rule the lead's engine applies, whichever way a reply arrives:
the provider webhook (tests/test_webhooks.py), the HTTP API, the Python client, simulate."""

from __future__ import annotations

from datetime import date, time, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from leadflow.models.engine import ReplyReceived
from leadflow.models.keywords import keyword
from leadflow.starter.client import LeadflowClient
from leadflow.store.accounts import new_api_key
from tests.engine_driver import Lead, local
from tests.factories import eventually, new_lead
from tests.scenario_support import skip_to_next
from tests.test_api import Served, app  # noqa: F401  (the API over a worker)

MONDAY = date(2026, 3, 2)


@pytest.mark.parametrize(
    ("body", "meaning"),
    [
        ("STOP", "stop"),
        (" stop. ", "stop"),
        ("Unsubscribe", "stop"),
        ("start", "start"),
        ("HELP", "help"),
        ("please stop", None),
        ("Stop by at 5?", None),
        ("", None),
    ],
)
def test_a_keyword_is_one_word_alone(body: str, meaning: str | None) -> None:
    assert keyword(body) == meaning


def test_a_stop_reply_opts_out_of_texts_and_start_opts_back_in() -> None:
    lead = Lead.create("isa", local(MONDAY, time(10)))
    assert [m.channel for m in lead.messages()] == ["sms", "email"]

    lead.send(ReplyReceived(channel="sms", body=" Stop "), at=local(MONDAY, time(10, 30)))
    assert lead.state.opted_out == ["mms", "sms"]
    assert not lead.state.replied  # a keyword is not a conversation: the drip goes on
    assert "isa_touches" in lead.state.campaigns
    recorded = lead.commands("record_opt_out")
    assert [(r.channels, r.opted_in, r.source) for r in recorded] == [
        (["mms", "sms"], False, "reply Stop")
    ]
    lead.run_for(timedelta(days=6))
    assert [m.channel for m in lead.messages(since=local(MONDAY, time(10, 30)))] == ["email"]

    lead.send(ReplyReceived(channel="sms", body="START"))
    assert lead.state.opted_out == []
    assert lead.commands("record_opt_out")[-1].opted_in


def test_help_is_answered_and_changes_nothing_else() -> None:
    lead = Lead.create("isa", local(MONDAY, time(10)))
    lead.send(ReplyReceived(channel="sms", body="help"), at=local(MONDAY, time(11)))
    assert not lead.state.replied and not lead.state.opted_out
    assert sorted(lead.state.campaigns) == ["isa_call_campaign", "isa_touches"]
    assert lead.audits("note")[-1].reason == (
        "borrower replied 'help': answered with the help text, nothing else"
    )


def test_a_stop_said_in_other_words_by_the_provider_is_a_stop() -> None:
    lead = Lead.create("isa", local(MONDAY, time(10)))
    lead.send(ReplyReceived(channel="sms", body="arrête", keyword="stop"))
    assert lead.state.opted_out == ["mms", "sms"]


def test_an_email_that_says_stop_is_a_reply() -> None:
    lead = Lead.create("isa", local(MONDAY, time(10)))
    lead.send(ReplyReceived(channel="email", body="STOP"))
    assert lead.state.replied and not lead.state.opted_out


async def test_stop_through_the_python_client(
    leads: LeadflowClient, time_env: WorkflowEnvironment
) -> None:
    await skip_to_next(time_env, 0, time(10))
    request = new_lead(playbook="isa")
    await leads.ensure_lead(request)
    await leads.reply_received(request.lead, ReplyReceived(channel="sms", body="STOP"))

    async def opted_out() -> list[str]:
        return (await leads.describe(request.lead)).opted_out

    assert await eventually(opted_out) == ["mms", "sms"]


async def test_stop_through_the_http_api(
    db: AsyncEngine,
    time_env: WorkflowEnvironment,
    app: FastAPI,  # noqa: F811
) -> None:
    await skip_to_next(time_env, 0, time(10))
    async with Served(app, await new_api_key(db, "beta")) as api:
        created = await api.put(
            "/v1/leads/K1",
            json={"parties": {"borrower": {"phone": "+13125550160", "sms_consent": True}}},
        )
        assert created.status_code == 201, created.text
        answer = await api.post("/v1/leads/K1/replies", json={"body": "stop"})
        assert answer.status_code == 202, answer.text
        unknown = await api.post("/v1/leads/K1/replies", json={"party": "cousin", "body": "hi"})
        assert unknown.status_code == 422 and "unknown party 'cousin'" in unknown.text

        async def audit() -> list[str]:
            view: httpx.Response = await api.get("/v1/leads/K1")
            return [a["reason"] for a in view.json()["audit"] if a["outcome"] == "note"]

        async def said_stop() -> bool:
            return "opted out of sms (reply stop)" in await audit()

        assert await eventually(said_stop)
