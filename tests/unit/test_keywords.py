"""STOP, START and HELP are one rule the lead's engine applies, whichever way a reply arrives:
the provider webhook and the HTTP API and the Python client (tests/integration), simulate."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from leadflow.engine.events import ReplyReceived
from leadflow.engine.keywords import keyword, revocation, revoked_channels
from tests.engine_driver import Lead, local
from tests.integration.test_api import Served, app  # noqa: F401  (the API over a worker)

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
    """On the first state-law table; from the second it revokes (test_revocation.py)."""
    lead = Lead.create("isa", local(MONDAY, time(10)), law=1)
    lead.send(ReplyReceived(channel="email", body="STOP"))
    assert lead.state.replied and not lead.state.opted_out


@pytest.mark.parametrize(
    ("body", "meaning"),
    [
        ("Please stop texting me", "revokes"),
        ("take me off your list!", "revokes"),
        ("Don't contact me again", "revokes"),
        ("unsubscribe me please", "revokes"),
        ("not interested", "may_revoke"),
        ("Wrong number", "may_revoke"),
        ("please stop", "may_revoke"),
        ("Stop by at 5?", None),
        ("I need to cancel my appointment and move it to Friday", None),
        ("Can you remove my cosigner from the loan?", None),
        ("Can you take me to see the house Saturday?", None),
        ("take me through the numbers", None),
    ],
)
def test_revocation_in_plain_words(body: str, meaning: str | None) -> None:
    assert revocation(body) == meaning


@pytest.mark.parametrize(
    ("body", "channels"),
    [
        ("Please stop texting me", ["sms"]),
        ("Stop calling me, text is fine", ["call"]),
        ("please don't email, text is fine", ["email"]),
        ("Please stop texting me, just call me instead", ["sms"]),
        ("take me off your list", ["call", "sms"]),
        ("Stop calling and stop texting", ["call", "sms"]),
    ],
)
def test_a_revocation_covers_the_channels_it_names(body: str, channels: list[str]) -> None:
    assert revoked_channels(body) == channels
