"""Consent revoked by any reasonable means, one rule for every channel (the FCC's 2024 rule,
47 CFR 64.1200(a)(10)-(12)), for leads on the second state-law table; leads on the first
decide as they did."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Literal

import pytest

from leadflow.engine.commands import SendMessage
from leadflow.engine.events import (
    CallLogged,
    Event,
    OptedIn,
    OptedOut,
    ReplyReceived,
    StatusChanged,
)
from leadflow.engine.keywords import reading, stop_keyword
from tests.engine_driver import Lead, local

MONDAY = date(2026, 3, 2)
TEXTS = ["mms", "sms"]


def _lead(law: int = 2) -> Lead:
    """An ISA lead created Monday 10:00 in Chicago: texted, emailed and queued for a call."""
    lead = Lead.create("isa", local(MONDAY, time(10)), law=law)
    assert lead.calls() and lead.state.queue is not None
    return lead


def _texts(lead: Lead, since: datetime) -> list[SendMessage]:
    return [m for m in lead.messages(since) if m.channel in TEXTS]


def test_an_email_reply_asking_to_stop_texts_ends_texts() -> None:
    lead = _lead()
    at = local(MONDAY, time(10, 30))
    lead.send(ReplyReceived(channel="email", body="Please stop texting me"), at=at)
    assert lead.state.opted_out == TEXTS
    (recorded,) = lead.commands("record_opt_out")
    assert recorded.channels == TEXTS
    assert recorded.addresses == [lead.state.parties["borrower"].phone]
    lead.run_for(timedelta(days=10))
    assert not _texts(lead, at)
    assert [m for m in lead.messages(at) if m.channel == "email"]  # it named texts only


def test_an_email_that_says_stop_ends_texts_and_emails() -> None:
    lead = _lead()
    at = local(MONDAY, time(10, 30))
    lead.send(ReplyReceived(channel="email", body="STOP"), at=at)
    assert lead.state.opted_out == ["email", *TEXTS]
    lead.run_for(timedelta(days=10))
    assert not lead.messages(at)


def test_an_email_quoting_an_unsubscribe_footer_is_an_ordinary_reply() -> None:
    lead = _lead()
    body = "Friday works.\n\nOn Mon, Mar 2, 2026 at 10:00 AM Team wrote:\n> unsubscribe here"
    lead.send(ReplyReceived(channel="email", body=body))
    assert lead.state.replied and lead.state.opted_out == []


@pytest.mark.parametrize("body", ["OPT-OUT", "opt-out", "Opt out!", "remove me", "Remove me."])
def test_opt_out_and_remove_me_end_texts(body: str) -> None:
    _texts_end_after(body)


def _texts_end_after(body: str) -> None:
    """A reply of `body` by text opts the lead out of texts, and none goes for ten days."""
    lead = _lead()
    at = local(MONDAY, time(10, 30))
    lead.send(ReplyReceived(channel="sms", body=body), at=at)
    assert set(TEXTS) <= set(lead.state.opted_out)
    lead.run_for(timedelta(days=10))
    assert not _texts(lead, at)


@pytest.mark.parametrize(
    ("body", "keyword"), [("STOP ALL", None), ("stopall", None), ("STOPALL", "stop")]
)
def test_stop_all_ends_texts_calls_and_email(body: str, keyword: Literal["stop"] | None) -> None:
    """Whichever way it comes: in the text, or recognised by the provider as a STOP."""
    lead = _lead()
    at = local(MONDAY, time(10, 30))
    lead.send(ReplyReceived(channel="sms", body=body, keyword=keyword), at=at)
    assert lead.state.opted_out == ["call", "email", *TEXTS]
    assert lead.state.queue is None and lead.commands("dequeue_call")
    (recorded,) = lead.commands("record_opt_out")
    assert recorded.channels == ["call", "email", *TEXTS]
    lead.run_for(timedelta(days=20))
    assert not lead.messages(at) and not lead.calls(at)


def test_wrong_number_holds_calls_and_texts_for_a_person() -> None:
    lead = _lead()
    at = local(MONDAY, time(10, 30))
    lead.send(ReplyReceived(channel="sms", body="Wrong number"), at=at)
    assert lead.state.opted_out == [] and lead.state.queue is None
    assert lead.commands("dequeue_call")
    (asked,) = [t for t in lead.commands("create_task") if "lead's number" in t.subject]
    assert "Wrong number" in asked.notes
    lead.run_for(timedelta(days=5))  # the cadence's day 2 and day 4 calls are held
    assert not lead.calls(at) and not _texts(lead, at)
    skipped = [a.reason for a in lead.audits("skipped") if "call not queued" in a.reason]
    assert "call not queued: a person is to read a reply first" in skipped

    # The person records the opt-out: the question is settled, nothing goes to the number.
    lead.send(OptedOut(channel="all", source="agent: not the lead's number"))
    assert [c.key for c in lead.commands("complete_task")] == [asked.key]
    lead.run_for(timedelta(days=20))
    assert not lead.calls(at) and not _texts(lead, at)


def test_wrong_number_settled_as_the_leads_own_lets_calls_and_texts_go_on() -> None:
    lead = _lead()
    at = local(MONDAY, time(10, 30))
    lead.send(ReplyReceived(channel="sms", body="wrong number?"), at=at)
    lead.run_for(timedelta(days=2))  # the cadence's day 2 call, Wednesday 10:00, is held
    assert not lead.calls(at)
    lead.send(OptedIn(channel="sms", source="agent: spoke to the lead, the number is theirs"))
    assert lead.state.consent_doubt is None and lead.commands("complete_task")
    lead.run_for(timedelta(days=2))  # the day 4 call, Friday 10:00, is queued
    assert [c.label for c in lead.calls(at)] == ["Redial"]


def test_do_not_call_opts_the_number_out_of_calls_for_the_account() -> None:
    lead = _lead()
    at = local(MONDAY, time(11))
    lead.send(CallLogged(disposition="Do Not Call", actor="isa"), at=at)
    assert "call" in lead.state.opted_out
    (recorded,) = lead.commands("record_opt_out")
    phone = lead.state.parties["borrower"].phone
    assert (recorded.channels, recorded.addresses) == (["call"], [phone])
    assert not recorded.opted_in
    # A later status change (which used to lift the block) calls the number no more.
    lead.send(StatusChanged(status="Contact Attempted", actor="isa"), at=local(MONDAY, time(12)))
    lead.run_for(timedelta(days=20))
    assert not lead.calls(at)
    assert "call" in lead.state.opted_out


@pytest.mark.parametrize(
    "body",
    [
        "ALTO",
        "¡Alto!",
        "PARA",
        "parar",
        "Detener",
        "CANCELAR",
        "baja",
        "ARRET",
        "Arrêt",
        "arrêter",
        "Désabonner",
        "DESINSCRIRE",
        "no me envíes más mensajes",
        "Por favor no me mandes más mensajes",
        "dejen de enviarme mensajes",
        "ne m'écrivez plus",
        "Ne m\u2019écrivez plus svp",  # a curly apostrophe
        "arrêtez les messages",
        "je ne veux plus recevoir de messages",
        "désabonnez-moi",
    ],
)
def test_spanish_and_french_opt_outs_end_texts(body: str) -> None:
    _texts_end_after(body)


@pytest.mark.parametrize(
    "body", ["para mañana", "Para mañana a las 5", "fin de semana?", "Alto interés", "arrêt de bus"]
)
def test_common_spanish_and_french_words_are_no_opt_out(body: str) -> None:
    assert stop_keyword(body) is None and reading(body) is None
    lead = _lead()
    lead.send(ReplyReceived(channel="sms", body=body), at=local(MONDAY, time(10, 30)))
    assert lead.state.opted_out == [] and lead.state.consent_doubt is None
    assert lead.state.replied


def test_an_agents_note_that_records_a_revocation_opts_out() -> None:
    lead = _lead()
    at = local(MONDAY, time(11))
    lead.send(
        CallLogged(disposition="Engaged", comments="Lead asked us to stop texting her"), at=at
    )
    assert lead.state.opted_out == TEXTS
    (recorded,) = lead.commands("record_opt_out")
    assert recorded.source.startswith("note by agent:")
    lead.send(StatusChanged(status="Nurture", note="Said: do not call me at all", actor="isa"))
    assert lead.state.opted_out == ["call", *TEXTS]


def test_an_agents_note_setting_a_time_is_no_revocation() -> None:
    lead = _lead()
    lead.send(
        CallLogged(disposition="Engaged", comments="Don't call before 5pm, she works days"),
        at=local(MONDAY, time(11)),
    )
    assert lead.state.opted_out == []


@pytest.mark.parametrize(
    ("event", "opted_out"),
    [
        (ReplyReceived(channel="sms", body="STOP ALL"), []),  # may revoke: held for a person
        (ReplyReceived(channel="sms", body="STOPALL"), TEXTS),
        (ReplyReceived(channel="email", body="please stop texting me"), []),
        (ReplyReceived(channel="sms", body="opt-out"), []),
        (ReplyReceived(channel="sms", body="ALTO"), []),
        (ReplyReceived(channel="sms", body="Wrong number"), []),
        (CallLogged(disposition="Do Not Call"), []),
        (CallLogged(disposition="Engaged", comments="asked us to stop texting"), []),
    ],
)
def test_leads_on_the_first_table_decide_as_they_did(event: Event, opted_out: list[str]) -> None:
    lead = _lead(law=1)
    at = local(MONDAY, time(10, 30))
    lead.send(event, at=at)
    assert lead.state.opted_out == opted_out
    assert not [r for r in lead.commands("record_opt_out") if "call" in r.channels]
    assert not lead.commands("dequeue_call") or isinstance(event, CallLogged)
    assert not lead.state.consent_doubt_calls


def test_wrong_number_with_a_request_to_stop_calls_still_holds_texts() -> None:
    lead = _lead()
    at = local(MONDAY, time(10, 30))
    lead.send(ReplyReceived(channel="sms", body="Wrong number, stop calling"), at=at)
    assert lead.state.opted_out == ["call"] and lead.state.consent_doubt is not None
    lead.run_for(timedelta(days=10))
    assert not _texts(lead, at) and not lead.calls(at)
