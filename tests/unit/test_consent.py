"""Who may be solicited at all (the second state-law table): consent on record, the
established business relationship's clocks, and the do-not-call lists each message and
queued call names for the moment of contact."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow.engine.consent import add_months
from leadflow.engine.events import (
    ConsentRecorded,
    DeliveryFailed,
    OptedOut,
    RelationshipDates,
    StatusChanged,
)
from leadflow.engine.state import ConsentHeld, Party
from leadflow.playbook.check import problems
from tests.engine_driver import Lead, local
from tests.unit.test_identity import isa

MONDAY = date(2026, 3, 2)
NOON = local(MONDAY, time(12))


def _consent(
    means: str = "web_form", channels: tuple[str, ...] = ("sms", "call"), **more: object
) -> ConsentHeld:
    values = {
        "id": f"c-{means}",
        "party": "borrower",
        "channels": list(channels),
        "given_at": NOON - timedelta(days=1),
        "means": means,
        "seller": "Acme Mortgage",
    } | more
    return ConsentHeld.model_validate(values)


def test_a_new_lead_is_an_inquiry_and_its_touches_name_the_lists_that_reach_them() -> None:
    lead = Lead.create("isa", NOON)  # Chicago: a 312 number; the sample's written consent
    assert lead.state.inquired_at == NOON
    [text, *_] = [m for m in lead.messages() if m.channel == "sms"]
    assert text.lists == ["national", "state:IL"]
    assert text.exemption == "written consent (web form, 2000-01-03)"
    [call] = lead.calls()  # the consent is to texts: the inquiry exempts the call
    assert call.lists == ["national", "state:IL"]
    assert call.exemption is not None and "inquiry on 2026-03-02, until 2026-06-02" in (
        call.exemption
    )
    [email] = [m for m in lead.messages() if m.channel == "email"]
    assert email.lists == [] and email.exemption is None  # no list reaches email
    before = Lead.create("isa", NOON, law=1)
    assert all(m.lists == [] and m.exemption is None for m in before.messages())


def test_a_marketing_text_needs_written_consent_and_an_informational_one_does_not() -> None:
    """From the third table: `sms_consent`, or consent not in writing, lets no marketing text
    go to a US number; the reason cites the rule. A transaction's news still goes."""
    lead = Lead.create("isa", NOON, consents=[])
    assert not [m for m in lead.messages() if m.channel == "sms"]
    [why, *_] = [a.reason for a in lead.audits("skipped")]
    assert "needs borrower's written consent on record (47 C.F.R. § 64.1200(a)(2)" in why
    lead.send(ConsentRecorded(consent=_consent("recorded_call")))
    lead.run_for(timedelta(days=2))
    assert not [m for m in lead.messages() if m.channel == "sms"]
    lead.send(ConsentRecorded(consent=_consent()))
    lead.run_for(timedelta(days=10))
    assert [m for m in lead.messages() if m.channel == "sms"]
    older = Lead.create("isa", NOON, consents=[], law=2)  # leads on the second table keep to it
    assert [m for m in older.messages() if m.channel == "sms"]
    news = Lead.create("mortgage", NOON, consents=[])
    news.send(StatusChanged(milestone="Application", status="In Process"))
    sent = [m for m in news.messages() if m.channel == "sms"]
    assert sent and all(news.book.templates[m.template].purpose == "informational" for m in sent)


def test_three_months_after_the_inquiry_the_lists_are_checked() -> None:
    """The call nobody took moves on each evening, and says again why no list holds it:
    until the inquiry is three months old, then nothing does."""
    lead = Lead.create("isa", NOON)
    lapsed = add_months(NOON, 3)
    lead.run_until(lapsed + timedelta(days=2))
    moved = [(s.at, s.command) for s in lead.log if s.command.kind == "queue_call"]
    before = [c for at, c in moved if at < lapsed]
    after = [c for at, c in moved if at >= lapsed]
    assert before and all(c.exemption is not None for c in before)
    assert after and all(c.exemption is None and c.lists == ["national", "state:IL"] for c in after)


def test_a_transaction_keeps_the_relationship_for_eighteen_months() -> None:
    lead = Lead.create("isa", NOON)
    bought = NOON - timedelta(days=400)
    lead.send(RelationshipDates(inquired_at=bought, transacted_at=bought))
    assert lead.state.inquired_at == bought and lead.state.transacted_at == bought
    lead.run_for(timedelta(days=1))  # the call moves on to the next evening's window
    call = lead.commands("queue_call")[-1]
    assert call.exemption is not None
    assert "transaction on 2025-01-26, until 2026-07-26" in call.exemption


def test_written_consent_exempts_and_a_revocation_ends_it_beside_it() -> None:
    lead = Lead.create("isa", NOON, region="IL", consents=[])
    lead.send(ConsentRecorded(consent=_consent()))
    lead.send(RelationshipDates(inquired_at=NOON - timedelta(days=200)))
    lead.run_for(timedelta(days=2))
    texts = [m for m in lead.messages(since=NOON + timedelta(minutes=1)) if m.channel == "sms"]
    assert texts and all(t.exemption == "written consent (web form, 2026-03-01)" for t in texts)
    said = lead.send(OptedOut(channel="sms", source="reply STOP"))
    [ended] = [c for c in said if c.kind == "end_consents"]
    assert ended.ids == ["c-web_form"] and "opted out of sms" in ended.why
    assert lead.state.consents[0].ended_at == lead.now


def test_consent_not_in_writing_lets_texts_go_but_exempts_nothing() -> None:
    """On the second table (from the third, a marketing text needs it in writing)."""
    lead = Lead.create("isa", NOON, region="IL", consents=[], law=2)
    lead.send(RelationshipDates(inquired_at=NOON - timedelta(days=200)))
    lead.send(ConsentRecorded(consent=_consent("recorded_call")))
    lead.run_for(timedelta(days=2))
    later = [m for m in lead.messages(since=NOON + timedelta(minutes=1)) if m.channel == "sms"]
    assert later and all(m.exemption is None and m.lists for m in later)


def test_a_do_not_call_request_ends_the_relationship_at_once() -> None:
    """On the second table: from the third, a US marketing text has written consent."""
    lead = Lead.create("isa", NOON, consents=[], law=2)
    lead.send(OptedOut(channel="call", source="disposition Do Not Call"))
    lead.run_for(timedelta(days=1))
    texts = [m for m in lead.messages(since=NOON + timedelta(minutes=1)) if m.channel == "sms"]
    assert texts and all(m.exemption is None for m in texts)


def test_a_canadian_number_names_the_dncl_for_calls_and_no_list_for_texts() -> None:
    toronto = "America/Toronto"
    at = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)  # 11:00 in Toronto
    party = Party(name="Pat Roy", phone="+14165550123", sms_consent=True)
    lead = Lead.create("isa", at, time_zone=toronto, region="ON", parties={"borrower": party})
    [call] = lead.calls()
    assert call.lists == ["ca:national"] and "inquiry on 2026-03-02, until 2026-09-02" in (
        call.exemption or ""
    )
    assert all(m.lists == [] for m in lead.messages() if m.channel == "sms")


def test_a_message_a_list_holds_is_skipped_with_its_reason() -> None:
    lead = Lead.create("isa", NOON)
    lead.send(DeliveryFailed(key="k", channel="sms", reason="listed", detail="on the registry"))
    assert lead.audits("skipped")[-1].reason == "on the registry"
    assert "sms" not in lead.state.unreachable


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31)),
    months=st.integers(1, 24),
)
def test_months_later_is_never_early_and_never_a_month_late(start: datetime, months: int) -> None:
    later = add_months(start.replace(tzinfo=UTC), months)
    assert later > start.replace(tzinfo=UTC)
    gone = (later.year - start.year) * 12 + later.month - start.month
    assert gone == months and later.day <= start.day


def test_a_playbook_that_texts_may_not_turn_the_consent_requirement_off() -> None:
    book = isa({"compliance.sms_requires_consent": False})
    [(path, said)] = [p for p in problems(book) if p[0].startswith("compliance.sms")]
    assert path == "compliance.sms_requires_consent" and "64.1200(a)(2)" in said
    quiet = book.model_copy(update={"campaigns": {}, "on_new_lead": [], "date_rules": []})
    quiet = quiet.model_copy(update={"milestone_actions": {}})
    assert not [p for p in problems(quiet) if p[0].startswith("compliance.sms")]
