"""The law of every state, through the engine: hours, Sundays, holidays and their observed
days, caps that count calls and texts together, automated-call rules, the state from the
record or the area code, no catch-up bursts, and consent revoked in plain words.

Each lead has phones whose area code is in the state it tests, and a fixed time zone and
date: nothing here depends on when it runs."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest

from leadflow.engine import localtime
from leadflow.engine.events import (
    CallLogged,
    CampaignChanged,
    OptedIn,
    OptedOut,
    ReplyReceived,
)
from leadflow.engine.state import Party
from leadflow.playbook.check import problems
from leadflow.playbook.law import LAW, table
from leadflow.playbook.load import default_playbook
from leadflow.playbook.schema import Playbook, Step, Window
from tests.engine_driver import Lead

MONDAY = date(2026, 3, 2)
SUNDAY = date(2026, 3, 1)
SATURDAY = date(2026, 3, 7)
EASTERN, CENTRAL, MOUNTAIN = "America/New_York", "America/Chicago", "America/Denver"


def at(day: date, clock: time, zone: str) -> datetime:
    return localtime.at_local(day, clock, zone)


def lead_in(
    region: str | None,
    area: str,
    zone: str,
    when: datetime,
    book: str | Playbook = "isa",
    **facts: Any,
) -> Lead:
    """An ISA lead in `zone` whose parties' phones ring in area code `area`."""
    playbook = default_playbook(book) if isinstance(book, str) else book
    parties = {
        role: Party(
            name=f"{role.title()} Example",
            phone=f"+1{area}555{1000 + i:04d}",
            email=f"{role}@example.com",
            sms_consent=True,
        )
        for i, role in enumerate(playbook.parties)
    }
    return Lead.create(playbook, when, time_zone=zone, region=region, parties=parties, **facts)


def first_text(lead: Lead) -> datetime:
    return next(
        s.at for s in lead.log if s.command.kind == "send_message" and s.command.channel == "sms"
    )


def deferred(lead: Lead, channel_key: str = "isa_touches:1:0") -> Any:
    return next(a for a in lead.audits("deferred") if channel_key in a.key)


def test_new_leads_follow_the_current_table() -> None:
    lead = lead_in("KY", "502", EASTERN, at(MONDAY, time(11), EASTERN))
    assert lead.state.law == LAW == table().version


def test_kentucky_opens_at_ten_for_calls_and_texts() -> None:
    lead = lead_in("KY", "502", EASTERN, at(MONDAY, time(9, 30), EASTERN))
    ten = at(MONDAY, time(10), EASTERN)
    audit = deferred(lead)
    assert audit.until == ten
    assert "KY window 10:00-21:00" in audit.reason and "(KRS 367.46955(15))" in audit.reason
    assert lead.calls()[0].available_at == ten
    lead.run_until(ten)
    assert first_text(lead) == ten


def test_michigans_hours_bind_calls_and_not_texts() -> None:
    """Michigan's statute is about voice calls: the text goes at 08:30, the call waits."""
    lead = lead_in("MI", "313", EASTERN, at(MONDAY, time(8, 30), EASTERN))
    assert first_text(lead) == at(MONDAY, time(8, 30), EASTERN)
    call = lead.calls()[0]
    assert call.available_at == at(MONDAY, time(9), EASTERN)
    assert "MI window 09:00-21:00" in call.why and "MCL 445.111c(1)" in call.why


def test_alabama_bans_sundays() -> None:
    lead = lead_in("AL", "205", CENTRAL, at(SUNDAY, time(10), CENTRAL))
    monday = at(MONDAY, time(8), CENTRAL)
    audit = deferred(lead)
    assert audit.until == monday
    assert audit.reason.startswith("Sunday: no calls or texts in AL (Ala. Admin. Code")
    assert lead.calls()[0].available_at == monday
    lead.run_until(monday)
    assert first_text(lead) == monday


def test_texas_opens_at_noon_on_sundays() -> None:
    lead = lead_in("TX", "214", CENTRAL, at(SUNDAY, time(10), CENTRAL))
    audit = deferred(lead)
    assert audit.until == at(SUNDAY, time(12), CENTRAL)
    assert audit.reason == (
        "quiet hours: TX Sunday window 12:00-21:00 America/Chicago "
        "(Tex. Bus. & Com. Code § 301.051; chs. 302, 304 as amended by SB 140 (2025))"
    )
    # On a weekday Texas opens at nine.
    weekday = lead_in("TX", "214", CENTRAL, at(MONDAY, time(8, 30), CENTRAL))
    assert deferred(weekday).until == at(MONDAY, time(9), CENTRAL)


def test_a_holiday_on_a_saturday_is_observed_the_friday_before() -> None:
    """Independence Day 2026 is a Saturday, observed on Friday 3 July; Utah bans both, and
    Sunday: a lead on the Friday morning is first texted on Monday."""
    friday = date(2026, 7, 3)
    lead = lead_in("UT", "801", MOUNTAIN, at(friday, time(10), MOUNTAIN))
    audit = deferred(lead)
    assert audit.until == at(date(2026, 7, 6), time(8), MOUNTAIN)
    assert audit.reason.startswith(
        "Independence Day (observed): no calls or texts in UT on legal holidays "
        "(Utah Code § 13-25a-103(3))"
    )
    thursday = lead_in("UT", "801", MOUNTAIN, at(date(2026, 7, 2), time(10), MOUNTAIN))
    assert first_text(thursday) == at(date(2026, 7, 2), time(10), MOUNTAIN)


def test_rhode_island_has_its_own_saturday_hours() -> None:
    lead = lead_in("RI", "401", EASTERN, at(SATURDAY, time(9, 30), EASTERN))
    audit = deferred(lead)
    assert audit.until == at(SATURDAY, time(10), EASTERN)
    assert "RI Saturday window 10:00-17:00" in audit.reason
    late = lead_in("RI", "401", EASTERN, at(MONDAY, time(18, 30), EASTERN))
    assert deferred(late).until == at(MONDAY + timedelta(days=1), time(9), EASTERN)


def test_maryland_counts_calls_and_texts_together() -> None:
    """Three calls and texts on the same subject per 24 h: a text after the intro text and
    two calls waits for the first of them to be a day old."""
    start = at(MONDAY, time(9), EASTERN)
    lead = lead_in("MD", "410", EASTERN, start)
    assert first_text(lead) == start
    for minutes in (10, 20):
        lead.send(CallLogged(disposition="No Answer"), at=start + timedelta(minutes=minutes))
    lead.log.clear()
    lead.send(CampaignChanged(op="cancel", campaign="isa_touches"))
    lead.send(CampaignChanged(op="start", campaign="isa_touches"))
    assert not [m for m in lead.messages() if m.channel == "sms"]
    audit = deferred(lead, "isa_touches:2:0")
    assert audit.until == start + timedelta(days=1)
    assert audit.reason.startswith(
        "frequency cap: 3 calls and texts on the same subject per 1d in MD (Md. Code"
    )


def test_the_area_code_gives_the_state_when_none_is_on_record() -> None:
    lead = lead_in(None, "502", EASTERN, at(MONDAY, time(9, 30), EASTERN))
    assert deferred(lead).until == at(MONDAY, time(10), EASTERN)


def test_when_record_and_area_code_disagree_both_states_rules_hold() -> None:
    """Florida on record, a Kentucky number: Kentucky's ten o'clock and Florida's eight."""
    morning = lead_in("FL", "502", EASTERN, at(MONDAY, time(9, 30), EASTERN))
    assert "KY window 10:00-21:00" in deferred(morning).reason
    evening = lead_in("FL", "502", EASTERN, at(MONDAY, time(20, 30), EASTERN))
    audit = deferred(evening)
    assert "FL window 08:00-20:00" in audit.reason
    assert audit.until == at(MONDAY + timedelta(days=1), time(10), EASTERN)


def test_maines_automated_call_rules_hold_texts_and_not_calls() -> None:
    lead = lead_in("ME", "207", EASTERN, at(MONDAY, time(8, 30), EASTERN))
    audit = deferred(lead)
    assert audit.until == at(MONDAY, time(9), EASTERN)
    assert "ME window 09:00-17:00 America/New_York (10 M.R.S. § 1498(3))" in audit.reason
    assert lead.calls()[0].available_at == at(MONDAY, time(8, 30), EASTERN)
    # One automated text per 8 h.
    lead.run_until(at(MONDAY, time(9), EASTERN))
    lead.send(CampaignChanged(op="cancel", campaign="isa_touches"))
    lead.send(CampaignChanged(op="start", campaign="isa_touches"))
    capped = deferred(lead, "isa_touches:2:0")
    # 17:00 is eight hours on, and the end of Maine's window: the next is 09:00 Tuesday.
    assert capped.until == at(MONDAY + timedelta(days=1), time(9), EASTERN)
    assert "1 automated calls per 8h in ME" in capped.reason


def _spaced(book: Playbook, stop_on_reach: bool = True) -> Playbook:
    """isa with a touches campaign of three messages two hours apart."""
    spec = book.campaigns["isa_touches"]
    steps = [
        Step(after=timedelta(hours=0), do="sms", template="intro_sms"),
        Step(after=timedelta(hours=2), do="sms", template="missed_you_sms"),
        Step(after=timedelta(hours=4), do="email", template="intro_email"),
    ]
    spec = spec.model_copy(
        update={"steps": steps, "stop_on_reply": stop_on_reach, "stop_on_contact": stop_on_reach}
    )
    return book.model_copy(update={"campaigns": {**book.campaigns, "isa_touches": spec}})


def test_a_deferred_step_moves_the_later_steps_with_it() -> None:
    """A lead at 21:30: the first text waits for 08:00, and the next two keep their two
    hours after it instead of all three going at 08:00."""
    lead = lead_in(
        None, "312", CENTRAL, at(MONDAY, time(21, 30), CENTRAL), _spaced(default_playbook("isa"))
    )
    lead.run_for(timedelta(days=1))
    sent = [
        (s.command.template, localtime.to_local(s.at, CENTRAL).time())
        for s in lead.log
        if s.command.kind == "send_message"
    ]
    assert sent == [
        ("intro_sms", time(8)),
        ("missed_you_sms", time(10)),
        ("intro_email", time(12)),
    ]


def test_a_deferred_text_is_dropped_once_the_lead_is_reached() -> None:
    book = _spaced(default_playbook("isa"), stop_on_reach=False)
    lead = lead_in(None, "312", CENTRAL, at(MONDAY, time(22), CENTRAL), book)
    tuesday = MONDAY + timedelta(days=1)
    lead.send(ReplyReceived(body="Yes, call me after nine"), at=at(tuesday, time(7), CENTRAL))
    lead.run_until(at(tuesday, time(9), CENTRAL))
    assert not [m for m in lead.messages() if m.template == "intro_sms"]
    skipped = [a for a in lead.audits("skipped") if a.key == "campaign:isa_touches:1:0:borrower"]
    assert skipped and "the lead was reached since" in skipped[0].reason


@pytest.mark.parametrize(
    ("reply", "calls_too"),
    [
        ("Please stop texting me", False),
        ("take me off your list", True),
        ("Stop texting and stop calling me", True),
    ],
)
def test_a_plain_request_revokes_consent_at_once(reply: str, calls_too: bool) -> None:
    lead = lead_in(None, "312", CENTRAL, at(MONDAY, time(10), CENTRAL))
    lead.log.clear()
    lead.send(ReplyReceived(body=reply), at=at(MONDAY, time(10, 5), CENTRAL))
    assert {"sms", "mms"} <= set(lead.state.opted_out)
    assert ("call" in lead.state.opted_out) is calls_too
    (recorded, *_) = lead.commands("record_opt_out")
    assert recorded.source == f"reply {reply}"
    notes = [h.note for h in lead.commands("record_history")]
    assert any(reply in n and "2026-03-02 16:05 UTC" in n for n in notes)
    lead.run_for(timedelta(days=3))
    assert not [m for m in lead.messages() if m.channel == "sms"]


def test_a_reply_that_may_revoke_holds_texts_for_a_person() -> None:
    lead = lead_in(None, "312", CENTRAL, at(MONDAY, time(10), CENTRAL))
    lead.send(ReplyReceived(body="not interested"), at=at(MONDAY, time(10, 5), CENTRAL))
    assert lead.state.opted_out == []
    (asked,) = [t for t in lead.commands("create_task") if "revoke consent" in t.subject]
    assert "not interested" in asked.notes
    assert "isa_touches" not in lead.state.campaigns  # a reply all the same: it stops them
    lead.log.clear()
    lead.send(CampaignChanged(op="start", campaign="isa_touches"))
    assert not [m for m in lead.messages() if m.channel == "sms"]
    assert [a for a in lead.audits("held") if "texts wait for a person" in a.reason]
    # The person reads it as no revocation: the held text goes at once, the task is done.
    lead.send(OptedIn(channel="sms"))
    assert [m.template for m in lead.messages() if m.channel == "sms"] == ["intro_sms"]
    assert [c.key for c in lead.commands("complete_task")] == [asked.key]


def test_a_held_text_is_dropped_when_the_person_records_the_opt_out() -> None:
    lead = lead_in(None, "312", CENTRAL, at(MONDAY, time(10), CENTRAL))
    lead.send(ReplyReceived(body="wrong number"), at=at(MONDAY, time(10, 5), CENTRAL))
    lead.send(CampaignChanged(op="start", campaign="isa_touches"))
    lead.log.clear()
    lead.send(OptedOut(channel="sms", source="agent"))
    lead.run_for(timedelta(days=2))
    assert not [m for m in lead.messages() if m.channel == "sms"]
    assert lead.state.consent_doubt is None and lead.commands("complete_task")


def test_an_account_may_tighten_the_law_and_not_loosen_it() -> None:
    book = default_playbook("isa")
    rules = book.compliance
    loose = rules.model_copy(
        update={
            "state_quiet_hours": {
                **rules.state_quiet_hours,
                "KY": Window(start=time(9), end=time(21)),
            },
            "frequency_caps": {
                **rules.frequency_caps,
                "MD": rules.frequency_caps["MD"].model_copy(update={"max": 4}),
            },
        }
    )
    found = dict(problems(book.model_copy(update={"compliance": loose})))
    assert "compliance.quiet_hours" not in found  # the account's own, for every recipient
    assert "wider than Kentucky's law, 10:00-21:00 (KRS" in found["compliance.state_quiet_hours.KY"]
    assert (
        "4 per 1d is looser than Maryland's law, 3 per 1d" in found["compliance.frequency_caps.MD"]
    )
    tight = rules.model_copy(
        update={"state_quiet_hours": {"KY": Window(start=time(11), end=time(19))}}
    )
    assert problems(book.model_copy(update={"compliance": tight})) == []
    narrower = lead_in(
        "KY",
        "502",
        EASTERN,
        at(MONDAY, time(10, 30), EASTERN),
        book.model_copy(update={"compliance": tight}),
    )
    assert "KY window 11:00-19:00 (this account's)" in deferred(narrower).reason


def test_every_row_of_the_table_cites_its_source() -> None:
    for code, statute in table().states.items():
        assert statute.source and statute.confidence, code
        rules = [statute, *([statute.automated] if statute.automated else [])]
        for rule in rules:
            for day in range(7):
                hours = rule.day(day)
                if isinstance(hours, Window):
                    assert hours.start < hours.end, (code, day)


def test_a_deferred_call_moves_the_call_cadence_with_it() -> None:
    """A Utah lead on the observed holiday: the first call waits for Monday, and the day-2
    call comes two days after it, not beside it on Monday morning."""
    lead = lead_in("UT", "801", MOUNTAIN, at(date(2026, 7, 3), time(10), MOUNTAIN))
    lead.run_until(at(date(2026, 7, 9), time(0), MOUNTAIN))
    first, second = [(c.label, c.available_at) for c in lead.calls()][:2]
    assert first == ("CallASAP", at(date(2026, 7, 6), time(8), MOUNTAIN))
    assert second[0] == "Redial" and second[1] >= first[1] + timedelta(days=2)


def test_rules_that_never_meet_skip_the_touch_with_the_reason() -> None:
    """An account's Florida window of 08:00-09:30 and a Kentucky number (10:00 on): no hour
    is ever open for calls and texts, so the text is skipped and the call not queued, each
    with why (the email, which no statute reaches, goes)."""
    book = default_playbook("isa")
    narrow = book.compliance.model_copy(
        update={"state_quiet_hours": {"FL": Window(start=time(8), end=time(9, 30))}}
    )
    lead = lead_in(
        "FL",
        "502",
        EASTERN,
        at(MONDAY, time(9), EASTERN),
        book.model_copy(update={"compliance": narrow}),
    )
    assert not [m for m in lead.messages() if m.channel == "sms"] and not lead.calls()
    skipped = [a.reason for a in lead.audits("skipped")]
    assert any("no hours in common" in r for r in skipped)
    assert any(r.startswith("call not queued: no hours in common") for r in skipped)
