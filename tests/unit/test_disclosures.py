"""What the law says a message carries, added where it lacks it (the second state-law table):
CASL's sender and way to stop in every text and email to a Canadian, Oregon's sender in the
first text. Nothing is added where no law asks, nor for leads on the first table."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from pydantic import ValidationError

from leadflow.engine import localtime
from leadflow.playbook.identity import email_warnings
from leadflow.playbook.load import default_playbook
from leadflow.playbook.schema import Playbook, Template
from leadflow.playbook.sender_identity import Identity
from tests.engine_driver import Lead, local

MONDAY = date(2026, 3, 2)
TORONTO, PORTLAND = "America/Toronto", "America/Los_Angeles"


def test_every_text_and_email_to_a_canadian_says_who_sends_it_and_how_to_stop() -> None:
    lead = Lead.create(
        "isa", localtime.at_local(MONDAY, time(11), TORONTO), time_zone=TORONTO, region="ON"
    )
    lead.run_for(timedelta(days=2))
    texts = [m for m in lead.messages() if m.channel == "sms" and m.party == "borrower"]
    emails = [m for m in lead.messages() if m.channel == "email" and m.party == "borrower"]
    assert len(texts) >= 2 and emails
    for text in texts:
        assert "Reply STOP" in text.body and "Isa" in text.body
    assert texts[1].body.endswith(" Reply STOP to opt out.")  # the missed-you text lacked it
    assert emails[0].body.endswith("To stop these emails, reply STOP.")
    notes = [a.reason for a in lead.audits("note") if a.reason.startswith("added how to stop")]
    assert notes and "CASL" in notes[0]


def test_the_intro_that_already_says_it_is_sent_as_written() -> None:
    lead = Lead.create(
        "isa", localtime.at_local(MONDAY, time(11), TORONTO), time_zone=TORONTO, region="ON"
    )
    [intro] = [m for m in lead.messages() if m.channel == "sms" and m.party == "borrower"]
    assert intro.body.count("Reply STOP") == 1 and not intro.body.startswith("Isa Person:")


def _nameless() -> Playbook:
    book = default_playbook("isa")
    plain = Template(body="Hi {{ lead.first_name }}, when is a good time for a quick call?")
    return book.model_copy(update={"templates": {**book.templates, "intro_sms": plain}})


def test_oregons_first_text_names_the_sender_and_later_ones_need_not() -> None:
    at = localtime.at_local(MONDAY, time(11), PORTLAND)
    lead = Lead.create(_nameless(), at, time_zone=PORTLAND, region="OR")
    lead.run_for(timedelta(days=2))
    texts = [m for m in lead.messages() if m.channel == "sms" and m.party == "borrower"]
    assert texts[0].body.startswith("Isa Person: Hi Jordan")
    assert not texts[1].body.startswith("Isa Person:")  # it names Isa already, and is no first


def test_the_business_named_in_the_playbook_is_the_sender() -> None:
    book = _nameless()
    identity = Identity(name="Acme Mortgage", contact="help@acme.example")
    book = book.model_copy(
        update={"compliance": book.compliance.model_copy(update={"identity": identity})}
    )
    at = localtime.at_local(MONDAY, time(11), PORTLAND)
    lead = Lead.create(book, at, time_zone=PORTLAND, region="OR")
    [first, *_] = [m for m in lead.messages() if m.channel == "sms" and m.party == "borrower"]
    assert first.body.startswith("Acme Mortgage: Hi Jordan")


def test_nothing_is_added_where_no_law_asks_nor_on_the_first_table() -> None:
    at = localtime.at_local(MONDAY, time(11), PORTLAND)
    oregon_before = Lead.create(_nameless(), at, time_zone=PORTLAND, region="OR", law=1)
    illinois = Lead.create(_nameless(), at, time_zone="America/Chicago", region="IL")
    for lead in (oregon_before, illinois):
        [first, *_] = [m for m in lead.messages() if m.channel == "sms" and m.party == "borrower"]
        assert first.body.startswith("Hi Jordan")
        assert not [a for a in lead.audits("note") if a.reason.startswith("added ")]


def _with_address(postal: str | None) -> Playbook:
    book = default_playbook("isa")
    identity = Identity(name="Acme Mortgage", contact="help@acme.example", postal_address=postal)
    return book.model_copy(
        update={"compliance": book.compliance.model_copy(update={"identity": identity})}
    )


def test_every_email_carries_the_businesss_postal_address() -> None:
    at = local(MONDAY, time(11))
    lead = Lead.create(_with_address("100 Main St, Chicago, IL 60601"), at)
    emails = [m for m in lead.messages() if m.channel == "email"]
    assert emails
    for email in emails:
        assert email.body.endswith("\n\nAcme Mortgage, 100 Main St, Chicago, IL 60601")
    notes = [a.reason for a in lead.audits("note") if "postal address" in a.reason]
    assert notes and "CAN-SPAM" in notes[0]
    texts = [m for m in lead.messages() if m.channel == "sms"]
    assert texts and not any("100 Main St" in t.body for t in texts)
    before = Lead.create(_with_address("100 Main St, Chicago, IL 60601"), at, law=1)
    assert not any("100 Main St" in m.body for m in before.messages())


def test_a_postal_address_is_one_line_with_a_number_and_a_playbook_that_emails_wants_one() -> None:
    with pytest.raises(ValidationError, match="not a postal address"):
        Identity(name="Acme", contact="help@acme.example", postal_address="Chicago")
    spread = Identity(name="Acme", contact="help@acme.example", postal_address="1 A St\nX, IL 6")
    assert spread.postal_address == "1 A St X, IL 6"
    assert [path for path, _ in email_warnings(_with_address(None))] == [
        "compliance.identity.postal_address"
    ]
    assert email_warnings(_with_address("100 Main St, Chicago, IL 60601")) == []
