"""Reassigned numbers in the engine (the second state-law table): each text and call to a US
number says since when the number is known to be the party's, and a number reported
reassigned gets no text or call again on the lead, its queued call leaves, and the lead's
owner is asked to find the party's number."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from leadflow.engine import reassigned
from leadflow.engine.events import (
    ConsentRecorded,
    DeliveryFailed,
    NumberReassigned,
    PartiesChanged,
    ReplyReceived,
)
from leadflow.engine.run import Run
from leadflow.engine.state import ConsentHeld, Party
from tests.engine_driver import Lead, local

MONDAY = date(2026, 3, 2)
NOON = local(MONDAY, time(12))


def test_each_text_and_call_says_since_when_the_number_is_the_partys() -> None:
    lead = Lead.create("isa", NOON - timedelta(days=3))  # Chicago: a 312 number
    [text, *_] = [m for m in lead.messages() if m.channel == "sms"]
    [call] = lead.calls()
    assert text.reassigned_since == call.reassigned_since == date(2026, 2, 27)  # the inquiry
    assert all(m.reassigned_since is None for m in lead.messages() if m.channel == "email")
    # A written consent given later, then a reply, each move the day on.
    consent = {"id": "c1", "party": "borrower", "channels": ["sms", "call"], "means": "web_form"}
    given = ConsentHeld.model_validate(consent | {"given_at": NOON - timedelta(days=1)})
    lead.send(ConsentRecorded(consent=given), at=NOON)
    lead.run_for(timedelta(days=1))
    assert lead.calls(since=NOON)[-1].reassigned_since == date(2026, 3, 1)
    lead.send(ReplyReceived(party="borrower", body="Tomorrow works"), at=NOON + timedelta(days=2))
    run, party = Run(lead.book, lead.state, lead.now), lead.state.parties["borrower"]
    assert reassigned.since(run, "borrower", party, "sms") == date(2026, 3, 4)
    assert reassigned.since(run, "borrower", party, "email") is None
    # Not on the first table, nor for a number outside the US numbering plan's US part.
    assert all(m.reassigned_since is None for m in Lead.create("isa", NOON, law=1).messages())
    toronto = Party(name="Pat Roy", phone="+14165550123", sms_consent=True)
    canadian = Lead.create(
        "isa",
        datetime(2026, 3, 2, 16, 0, tzinfo=UTC),
        time_zone="America/Toronto",
        region="ON",
        parties={"borrower": toronto},
    )
    assert canadian.calls()[0].reassigned_since is None


def test_a_number_reported_reassigned_gets_nothing_more_and_a_task_asks_for_another() -> None:
    lead = Lead.create("isa", NOON)
    phone = lead.state.parties["borrower"].phone
    assert phone is not None and lead.state.queue is not None
    [text, *_] = [m for m in lead.messages() if m.channel == "sms"]
    detail = "the Reassigned Numbers Database reports the number disconnected since 2026-03-02"
    failed = DeliveryFailed(
        key=text.key, channel="sms", reason="reassigned", detail=detail, address=phone
    )
    commands = lead.send(failed, at=NOON + timedelta(minutes=1))
    assert lead.state.reassigned == [phone] and lead.state.queue is None
    assert [c.reason for c in commands if c.kind == "dequeue_call"] == [
        "the number was reported reassigned"
    ]
    [task] = [c for c in commands if c.kind == "create_task"]
    assert task.subject == "Find borrower's number: the one on file was reported reassigned"
    assert task.notes == detail
    assert detail in [a.reason for a in lead.audits("skipped")]
    # The same report again (a claim, a retried send) changes nothing.
    assert lead.send(NumberReassigned(phone=phone, detail=detail)) == []
    # Nothing more goes to the number: every text and call is skipped, and says why.
    start, before = lead.now, len(lead.audits("skipped"))
    lead.run_for(timedelta(days=10))
    assert [m for m in lead.messages(since=start) if m.channel != "email"] == []
    assert lead.calls(since=start) == []
    skipped = [a.reason for a in lead.audits("skipped")[before:]]
    assert "borrower's number was reported reassigned: find their number" in skipped
    # A new number for the borrower is reached as any other.
    again = Lead.create("isa", NOON)
    again.send(NumberReassigned(phone=phone, detail=detail), at=NOON + timedelta(minutes=1))
    moved = again.state.parties["borrower"].model_copy(update={"phone": "+13125550177"})
    again.send(PartiesChanged(parties={"borrower": moved}), at=NOON + timedelta(minutes=2))
    again.run_for(timedelta(days=10))
    reached = {m.to for m in again.messages(since=NOON + timedelta(minutes=2))}
    assert reached - {None, moved.email} == {"+13125550177"}
