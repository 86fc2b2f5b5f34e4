"""The compliance gate at send time and the per-touch audit."""

from __future__ import annotations

from datetime import date, time, timedelta

from leadflow.engine import localtime
from leadflow.engine.events import (
    CallLogged,
    CampaignChanged,
    ConsentRecorded,
    DeliveryFailed,
    OptedIn,
    OptedOut,
    StatusChanged,
)
from leadflow.engine.state import Party
from tests.engine_driver import Lead, local

MONDAY = date(2026, 3, 2)


def test_a_lead_arriving_at_night_is_texted_and_called_at_eight_local() -> None:
    lead = Lead.create("isa", local(MONDAY, time(22, 15)))
    assert not lead.messages()
    deferred = lead.audits("deferred")
    assert deferred and "quiet hours" in deferred[0].reason
    assert deferred[0].until == local(MONDAY + timedelta(days=1), time(8))
    assert lead.calls()[0].available_at == local(MONDAY + timedelta(days=1), time(8))

    lead.run_until(local(MONDAY + timedelta(days=1), time(8, 1)))
    first = [m.template for m in lead.messages()]
    assert first == ["intro_sms", "intro_email"]


def test_florida_ends_the_day_at_eight_pm() -> None:
    zone = "America/New_York"
    lead = Lead.create(
        "isa", localtime.at_local(MONDAY, time(20, 30), zone), time_zone=zone, region="FL"
    )
    assert not lead.messages()
    assert "FL window 08:00-20:00" in lead.audits("deferred")[0].reason
    assert "(Fla. Stat. § 501.616(6)(a)-(b))" in lead.audits("deferred")[0].reason
    lead.run_for(timedelta(hours=13))
    assert lead.messages()
    assert min(
        localtime.to_local(s.at, zone).time() for s in lead.log if s.command.kind == "send_message"
    ) >= time(8)


def test_florida_caps_texts_at_three_a_day() -> None:
    zone = "America/New_York"
    lead = Lead.create(
        "isa", localtime.at_local(MONDAY, time(9), zone), time_zone=zone, region="FL"
    )
    phone = lead.state.parties["borrower"].phone
    for i in range(3):  # three milestone-triggered texts (the intro already used one)
        lead.send(StatusChanged(milestone="Contacted", status="Engaged", note=f"#{i}"))
        lead.send(StatusChanged(milestone="Prospect", status="Engaged"))
    lead.run_for(timedelta(days=3))
    sent = [s for s in lead.log if s.command.kind == "send_message" and s.command.to == phone]
    for s in sent:
        window = [o for o in sent if s.at - timedelta(hours=24) < o.at <= s.at]
        assert len(window) <= 3


def test_caps_defer_with_the_reason() -> None:
    zone = "America/New_York"
    lead = Lead.create(
        "isa", localtime.at_local(MONDAY, time(9), zone), time_zone=zone, region="FL"
    )
    book = lead.book
    steps = [
        s.model_copy(update={"after": timedelta(minutes=10 * i), "at": None})
        for i, s in enumerate(book.campaigns["isa_touches"].steps[:5])
    ]
    campaign = book.campaigns["isa_touches"].model_copy(update={"steps": steps})
    lead.book = book.model_copy(update={"campaigns": {**book.campaigns, "isa_touches": campaign}})
    lead.send(CampaignChanged(op="cancel", campaign="isa_touches"))
    lead.send(CampaignChanged(op="start", campaign="isa_touches"))
    lead.run_for(timedelta(hours=1))
    capped = [a for a in lead.audits("deferred") if "frequency cap" in a.reason]
    assert capped and "3 per 1d (FL, this account's)" in capped[0].reason


def test_no_touch_outside_calling_hours_across_a_weekend_and_dst() -> None:
    # Friday evening before the March DST change, in Chicago; then two weeks of cadence.
    lead = Lead.create("isa", local(date(2026, 3, 6), time(19, 45)))
    lead.run_for(timedelta(days=20))
    for sent in lead.log:
        c = sent.command
        if c.kind == "send_message":
            assert time(8) <= localtime.to_local(sent.at, "America/Chicago").time() < time(21)
        if c.kind == "queue_call":
            clock = localtime.to_local(c.available_at, "America/Chicago").time()
            assert time(8) <= clock < time(21)


def test_stop_blocks_texts_at_once_and_start_allows_them_again() -> None:
    lead = Lead.create("isa", local(MONDAY, time(10)))
    lead.send(OptedOut(channel="sms"))
    lead.run_for(timedelta(days=10))
    texts_after = [
        m for m in lead.messages(since=lead.log[0].at + timedelta(minutes=1)) if m.channel == "sms"
    ]
    assert texts_after == []
    assert any("opted out of sms" in a.reason for a in lead.audits("skipped"))
    assert any(
        m.channel == "email" for m in lead.messages(since=lead.log[0].at + timedelta(minutes=1))
    )
    assert lead.state.consents[0].ended_at is not None  # STOP ended the written consent
    lead.send(OptedIn(channel="sms"))
    lead.run_for(timedelta(days=5))  # marketing texts need written consent again
    assert not any(m.channel == "sms" for m in lead.messages(since=lead.now - timedelta(days=5)))
    again = lead.state.consents[0].model_copy(update={"id": "again", "ended_at": None})
    lead.send(ConsentRecorded(consent=again))
    lead.run_for(timedelta(days=15))
    assert any(m.channel == "sms" for m in lead.messages(since=lead.now - timedelta(days=15)))


def test_do_not_call_and_bad_numbers_block_calls_and_texts() -> None:
    lead = Lead.create("isa", local(MONDAY, time(10)))
    lead.send(CallLogged(disposition="Do Not Call"))
    assert lead.state.queue is None
    lead.run_for(timedelta(days=30))
    since = lead.log[0].at + timedelta(minutes=1)
    assert not lead.calls(since=since)
    assert not [m for m in lead.messages(since=since) if m.channel == "sms"]

    other = Lead.create("isa", local(MONDAY, time(10)))
    other.send(DeliveryFailed(key="x", channel="sms", reason="bad_number"))
    assert other.state.status == "Bad Phone Number" and other.state.queue is None
    other.run_for(timedelta(days=30))
    assert not other.calls(since=since)


def test_texts_need_recorded_consent() -> None:
    lead = Lead.create("isa", local(MONDAY, time(10)), consents=[])
    lead.state.parties["borrower"] = lead.state.parties["borrower"].model_copy(
        update={"sms_consent": False}
    )
    lead.state.campaigns.clear()
    lead.log.clear()
    lead.send(CampaignChanged(op="start", campaign="isa_touches"))
    assert [m.channel for m in lead.messages()] == ["email"]
    assert any(
        a.reason == "no recorded consent for automated texts" for a in lead.audits("skipped")
    )


def test_parties_in_another_time_zone_get_their_own_hours() -> None:
    partner = Party(
        name="Rita Partner", phone="+12135550123", time_zone="America/Los_Angeles", sms_consent=True
    )
    lead = Lead.create("mortgage", local(MONDAY, time(9)))
    lead.state.parties["referral_partner"] = partner
    lead.send(StatusChanged(milestone="Called Left Voicemail", status="Attempted Contact"))
    assert not [m for m in lead.messages() if m.party == "referral_partner"]
    lead.run_for(timedelta(hours=3))
    sent = [
        s
        for s in lead.log
        if s.command.kind == "send_message" and s.command.party == "referral_partner"
    ]
    assert sent[0].at == localtime.at_local(MONDAY, time(8), "America/Los_Angeles")


def test_the_stricter_of_address_and_area_code_wins() -> None:
    # The lead lives in Chicago, but the borrower's mobile is a Los Angeles number.
    lead = Lead.create("isa", local(MONDAY, time(9)))
    lead.state.parties["borrower"] = lead.state.parties["borrower"].model_copy(
        update={"phone": "+12135550123"}
    )
    lead.log.clear()
    lead.send(CampaignChanged(op="cancel", campaign="isa_touches"))
    lead.send(CampaignChanged(op="start", campaign="isa_touches"))
    assert lead.messages() == []  # the text waits, and the email, the next step, with it
    deferred = [a for a in lead.audits("deferred") if a.key.endswith(":0:borrower")]
    assert "America/Los_Angeles" in deferred[0].reason
    opens = localtime.at_local(MONDAY, time(8), "America/Los_Angeles")
    assert deferred[0].until == opens
    lead.run_until(opens)
    assert [m.channel for m in lead.messages()] == ["sms", "email"]


def test_toll_free_numbers_have_no_area_code_zone() -> None:
    from leadflow.engine.phones import zones_for

    assert zones_for("+18005550100") == ()
    assert zones_for("+13055550100") == ("America/New_York",)


def test_carrier_filtering_asks_a_person_to_look_and_stops_nothing_else() -> None:
    lead = Lead.create("isa", local(MONDAY, time(10)))
    lead.send(
        DeliveryFailed(key="campaign:isa_touches:1:0:borrower", channel="sms", reason="filtered")
    )
    tasks = [t for t in lead.commands("create_task") if "filtered" in t.subject]
    assert len(tasks) == 1 and tasks[0].assignee == "isa"
    assert lead.state.unreachable == [] and lead.state.status == "New"


def test_calls_wait_for_the_phones_area_code_zone_like_texts() -> None:
    """A New York lead with a Chicago number (+1312...): 08:00 in New York is 07:00 where
    the phone rings, so the call and the text both wait for 08:00 Chicago time."""
    zone = "America/New_York"
    lead = Lead.create("leads-queue", localtime.at_local(MONDAY, time(7, 30), zone), time_zone=zone)
    assert lead.state.parties["borrower"].phone.startswith("+1312")
    opens = localtime.at_local(MONDAY, time(9), zone)  # 08:00 America/Chicago
    first = lead.calls()[0]
    assert (first.label, first.available_at) == ("CallASAP", opens)
    (deferred,) = [a for a in lead.audits("deferred") if a.key == first.key]
    assert deferred.until == opens
    assert deferred.reason == (
        "quiet hours: window 08:00-21:00 America/Chicago, America/New_York "
        "(47 C.F.R. § 64.1200(c)(1)): queued for the next window"
    )
    # The queue row says the same to an agent told that nothing is due yet.
    assert (
        first.why == "outside calling hours (window 08:00-21:00 America/Chicago, "
        "America/New_York (47 C.F.R. § 64.1200(c)(1)))"
    )

    isa = Lead.create("isa", localtime.at_local(MONDAY, time(7, 30), zone), time_zone=zone)
    assert isa.calls()[0].available_at == opens
    isa.run_until(opens)
    sent = {(s.command.channel, s.at) for s in isa.log if s.command.kind == "send_message"}
    # The text waits for Chicago; the email, the campaign's next step, keeps its place after it.
    assert sent == {("sms", opens), ("email", opens)}
