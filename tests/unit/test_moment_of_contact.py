"""The engine's half of the law at the moment of contact (the second state-law table): each
message carries its window's end and caps, a message the provider did not send in its window
comes back and goes again in a window under a key of its own, and a queued call no agent
took moves on to the next window rather than waiting to be dialled at night."""

from __future__ import annotations

from datetime import date, time, timedelta

from leadflow.engine import localtime
from leadflow.engine.contact import again
from leadflow.engine.events import CallLogged, DeliveryFailed, ReplyReceived
from tests.engine_driver import Lead, local

MONDAY = date(2026, 3, 2)
NEW_YORK = "America/New_York"


def test_a_text_carries_the_end_of_its_window_and_the_caps_on_it() -> None:
    chicago = Lead.create("isa", local(MONDAY, time(20, 55)))
    [intro] = [m for m in chicago.messages() if m.channel == "sms"]
    assert intro.send_by == local(MONDAY, time(21))  # the federal window's end, local
    florida = Lead.create(
        "isa", localtime.at_local(MONDAY, time(19, 30), NEW_YORK), time_zone=NEW_YORK, region="FL"
    )
    [text] = [m for m in florida.messages() if m.channel == "sms"]
    assert text.send_by == localtime.at_local(MONDAY, time(20), NEW_YORK)
    [cap] = [c for c in text.caps if "Fla. Stat." in c.why]
    assert (cap.max, cap.per) == (3, timedelta(hours=24)) and "sms" in (cap.counts or [])


def test_a_lead_on_the_first_table_sends_as_it_always_did() -> None:
    lead = Lead.create("isa", local(MONDAY, time(20, 55)), law=1)
    assert all(m.send_by is None and not m.caps for m in lead.messages())
    assert all(c.callable_until is None and c.phone is None for c in lead.calls())


def test_a_text_not_sent_in_its_window_goes_at_the_next_opening_under_a_key_of_its_own() -> None:
    lead = Lead.create("isa", local(MONDAY, time(20, 55)))
    [intro] = [m for m in lead.messages() if m.channel == "sms"]
    touches = len(lead.state.touches)
    lead.send(
        DeliveryFailed(key=intro.key, channel="sms", reason="not_sent"),
        at=local(MONDAY, time(20, 59, 30)),
    )
    assert len(lead.state.touches) == touches - 1  # it never reached the lead: no cap counts it
    lead.run_until(local(MONDAY + timedelta(days=1), time(12)))
    [later] = [m for m in lead.messages() if m.key.startswith(f"{intro.key}:")]
    sent_at = next(s.at for s in lead.log if s.command is later)
    assert later.key == f"{intro.key}:again2" and later.body == intro.body
    assert sent_at == local(MONDAY + timedelta(days=1), time(8))  # never at 21:xx, never 07:xx
    reasons = [a.reason for a in lead.audits("deferred") if a.key == later.key]
    assert "was not sent in its window" in reasons[0] and "quiet hours" in reasons[1]


def test_a_text_twilio_rate_limited_goes_again_the_same_evening_if_the_window_allows() -> None:
    lead = Lead.create("isa", local(MONDAY, time(15)))
    [intro] = [m for m in lead.messages() if m.channel == "sms"]
    lead.send(
        DeliveryFailed(key=intro.key, channel="sms", reason="not_sent"),
        at=local(MONDAY, time(15, 1)),
    )
    lead.run_until(local(MONDAY, time(15, 30)))
    [later] = [m for m in lead.messages(since=local(MONDAY, time(15, 1))) if m.channel == "sms"]
    assert later.key == f"{intro.key}:again2"
    assert next(s.at for s in lead.log if s.command is later) == local(MONDAY, time(15, 16))


def test_a_text_not_sent_is_dropped_if_the_lead_replied_meanwhile() -> None:
    lead = Lead.create("isa", local(MONDAY, time(20, 55)))
    [intro] = [m for m in lead.messages() if m.channel == "sms"]
    lead.send(DeliveryFailed(key=intro.key, channel="sms", reason="not_sent"))
    lead.send(ReplyReceived(channel="sms", party="borrower", body="Call me tomorrow"))
    lead.run_for(timedelta(days=1))
    assert not [m for m in lead.messages() if m.key.startswith(f"{intro.key}:again")]


def test_the_keys_of_further_tries() -> None:
    assert again("campaign:c:1:0:borrower") == "campaign:c:1:0:borrower:again2"
    assert again("campaign:c:1:0:borrower:again2") == "campaign:c:1:0:borrower:again3"


def test_a_call_nobody_took_moves_on_to_the_next_window_the_same_call() -> None:
    lead = Lead.create("isa", local(MONDAY, time(20, 30)))
    [asap] = lead.calls()
    assert asap.callable_until == local(MONDAY, time(21)) and asap.phone
    lead.run_until(local(MONDAY, time(21, 0)))
    moved = [c for c in lead.commands("queue_call") if c.moved]
    assert [(c.key, c.label) for c in moved] == [(asap.key, "CallASAP")]
    assert moved[0].available_at == local(MONDAY + timedelta(days=1), time(8))
    assert moved[0].callable_until == local(MONDAY + timedelta(days=1), time(21))
    assert lead.state.queue is not None and lead.state.queue.available_at == moved[0].available_at
    # Made the next morning, it leaves the queue as any call does.
    lead.send(CallLogged(disposition="No Answer"), at=local(MONDAY + timedelta(days=1), time(9)))
    assert lead.state.queue is None or lead.state.queue.key != asap.key


def test_a_call_whose_window_closed_after_calls_were_stopped_leaves_the_queue() -> None:
    lead = Lead.create("isa", local(MONDAY, time(20, 30)))
    lead.state.opted_out = ["call"]  # as the revocation rule leaves it, without its dequeue
    lead.run_until(local(MONDAY, time(21, 0)))
    assert lead.state.queue is None
    assert lead.commands("dequeue_call")


def test_a_call_nobody_took_on_saturday_evening_skips_a_banned_sunday() -> None:
    saturday = MONDAY + timedelta(days=5)
    lead = Lead.create("isa", local(saturday, time(19)), region="AL")
    [asap] = lead.calls()
    assert asap.callable_until == local(saturday, time(20))  # Alabama closes at 20:00
    lead.run_until(local(saturday + timedelta(days=1), time(12)))  # Sunday noon: nothing due
    [moved] = [c for c in lead.commands("queue_call") if c.moved]
    assert moved.available_at == local(saturday + timedelta(days=2), time(8))
    assert moved.callable_until == local(saturday + timedelta(days=2), time(20))


def test_a_queued_call_carries_the_caps_that_count_calls_for_the_claim() -> None:
    florida = Lead.create(
        "isa", localtime.at_local(MONDAY, time(10), NEW_YORK), time_zone=NEW_YORK, region="FL"
    )
    [asap] = florida.calls()
    [cap] = asap.caps  # the account's own caps are on messages only
    assert "Fla. Stat." in cap.why and (cap.max, cap.per) == (3, timedelta(hours=24))
    assert cap.counts is not None and {"call", "sms"} <= set(cap.counts)
    florida.run_until(localtime.at_local(MONDAY, time(20), NEW_YORK))  # taken by nobody
    [moved] = [c for c in florida.commands("queue_call") if c.moved]
    assert moved.caps == asap.caps
    texas = Lead.create("isa", local(MONDAY, time(10)), region="TX")
    assert [c.caps for c in texas.calls()] == [[]]
