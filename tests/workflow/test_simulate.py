"""`leadflow simulate`: every shipped scenario runs cleanly through the real workflow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path

import jsonschema
import pytest

from leadflow.cli.scenario import ScenarioError, ScriptedEvent, load_scenario
from leadflow.cli.simulate import simulate
from leadflow.cli.timeline import TimelineEntry, at_contact
from leadflow.engine import localtime
from leadflow.paths import shipped

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
PLAYBOOKS = shipped("playbooks")


async def _run(name: str) -> list[TimelineEntry]:
    file = next(f for f in SCENARIOS if f.stem == name)
    return await simulate(load_scenario(file), base=file.parent)


EXPECTING_REFUSALS = ("rejected_combinations", "isa_buying_in_six_months", "routing_first_to_claim")


@pytest.mark.parametrize("file", SCENARIOS, ids=[f.stem for f in SCENARIOS])
async def test_every_scenario_runs_cleanly(file: Path) -> None:
    lines = await simulate(load_scenario(file), base=file.parent)
    assert lines[0].what == "lead created"
    assert not [
        line for line in lines if line.detail.startswith("rejected") and "expect" not in line.detail
    ] or file.stem in (
        "rejected_combinations",
        "isa_buying_in_six_months",
        "routing_first_to_claim",
    )


def _queued(lines: list[TimelineEntry]) -> list[tuple[int, str, str]]:
    """(day, label, from when) of every queue entry, as `simulate` prints them."""
    return [
        (line.day, line.what.removeprefix("queue "), line.detail.split(", from ")[1].split(".")[0])
        for line in lines
        if line.what.startswith("queue ")
    ]


def _on(
    day0: date, days: int, clock: time, zone: str = "America/Chicago", *, year: bool = False
) -> str:
    """How simulate says a local time `days` after the lead arrived: in an entry's details,
    or (`year`) as its `local_time`."""
    moment = localtime.at_local(day0 + timedelta(days=days), clock, zone)
    return localtime.describe(moment, zone, year=year)


def _after(line: TimelineEntry, delta: timedelta) -> str:
    """A time as the entries' details say it (without the year)."""
    return localtime.describe(line.at + delta, "America/Chicago")


async def test_contact_on_day_7_timeline() -> None:
    """The isa preset: No Answer adds nothing outside the cadence; the callback the ISA sets
    with the day-7 call is the only entry after contact."""
    lines = await _run("isa_contact_on_day_7")
    calls = [(line.day, line.what) for line in lines if line.what.startswith("queue ")]
    assert calls == [
        (0, "queue CallASAP"),
        (2, "queue Redial"),
        (4, "queue Redial"),
        (7, "queue Redial"),
        (7, "queue Callback"),
    ]
    assert all(when.endswith("10:00 America/Chicago") for _, _, when in _queued(lines)[:4])
    assert _queued(lines)[-1][2].endswith("15:00 America/Chicago")
    assert [line.detail for line in lines if line.what == "stopped"] == [
        "campaign:isa_call_campaign:1: contact made",
        "campaign:isa_touches:1: contact made",
    ]


async def test_isa_nobody_answers_gets_one_call_asap_and_eight_redials() -> None:
    lines = await _run("isa_nobody_answers")
    queued = _queued(lines)
    assert [(day, label) for day, label, _ in queued] == [(0, "CallASAP")] + [
        (day, "Redial") for day in (2, 4, 7, 15, 30, 45, 50, 60)
    ]
    assert all(when.endswith("10:00 America/Chicago") for _, _, when in queued)
    touches = [line for line in lines if line.what.startswith(("sms ", "email "))]
    assert len(touches) == 12
    assert not [line for line in lines if line.what == "task"]


async def test_callback_periods_timeline() -> None:
    """The callback-periods preset: attempted -> back in 2 hours, contacted -> 18 hours
    (into the next calling window when that lands at night), back and forth."""
    lines = await _run("callback_periods")  # the 16th of next month: no band applies
    day0 = localtime.local_date(lines[0].at, "America/Chicago")
    assert day0.day == 16
    assert _queued(lines) == [
        (0, "CallASAP", _on(day0, 0, time(9, 0))),
        (0, "Redial", _on(day0, 0, time(11, 5))),
        (0, "Redial", _on(day0, 0, time(13, 10))),
        (0, "Callback", _on(day0, 1, time(9, 10))),
        (1, "Callback", _on(day0, 1, time(11, 15))),
        (1, "Callback", _on(day0, 2, time(8, 0))),
    ]
    statuses = [line.detail for line in lines if line.what == "status"]
    assert statuses == [
        "Prospect / Contact Attempted",
        "Prospect / Contact Attempted",
        "Prospect / Contacted",
        "Prospect / Contact Attempted",
        "Prospect / Contacted",
    ]


async def test_production_cycle_timeline() -> None:
    lines = await _run("production_cycle")
    entries = [line for line in lines if line.what == "queue Callback"]
    late, early = entries[1], entries[2]
    # The 28th: 18 h stretched by half; the 2nd of the next month: halved, 20 points ahead.
    assert late.detail.startswith(f"priority 80, from {_after(late, timedelta(hours=27))}")
    assert early.detail.startswith(f"priority 100, from {_after(early, timedelta(hours=9))}")


async def test_dispositions_and_follow_up_timeline() -> None:
    """The leads-queue preset: out 1 hour after No Answer and Left VM, 48 hours after
    Engaged; a follow-up date overrides, as a Scheduled call when the lead asked for it."""
    lines = await _run("dispositions_and_follow_up")
    queued = _queued(lines)
    assert [(day, label) for day, label, _ in queued] == [
        (0, "CallASAP"),
        (0, "Redial"),
        (0, "Redial"),
        (0, "Callback"),
        (2, "Scheduled"),
    ]
    assert [when.split()[-2] for _, _, when in queued] == [
        "10:00",
        "11:05",
        "12:10",
        "15:00",
        "11:30",
    ]
    calls = [line for line in lines if line.what == "queue Callback"]
    assert calls[0].detail.startswith(f"priority 80, from {_after(calls[0], timedelta(hours=48))}")
    statuses = [line.detail for line in lines if line.what == "status"]
    assert statuses[:3] == [
        "Lead / Contact Attempted",
        "Lead / Contact Attempted",
        "Lead / Engaged",
    ]


async def test_florida_lead_after_hours_waits_for_the_morning() -> None:
    lines = await _run("weekend_and_dst")  # the Friday before the spring change, 20:10
    day0 = localtime.local_date(lines[0].at, "America/New_York")
    assert day0.weekday() == 4 and day0.month == 3
    saturday_eight = _on(day0, 1, time(8), "America/New_York")
    sent = [line for line in lines if line.what.startswith(("sms ", "email "))]
    assert sent[0].local_time == _on(day0, 1, time(8), "America/New_York", year=True)
    for line in sent:
        clock = localtime.to_local(line.at, "America/New_York").time()
        assert time(8) <= clock < time(20), line
    first_call = next(line for line in lines if line.what == "queue CallASAP")
    assert f"from {saturday_eight}" in first_call.detail


async def test_referral_chain_timeline_tells_the_partner_twice() -> None:
    lines = await _run("referral_partner_chain")
    partner = [line for line in lines if line.what == "sms to referral_partner"]
    assert partner[0].day == 0 and len(partner) == 2
    assert any(line.what == "status" and "No reply to outreach" in line.detail for line in lines)


def test_cli_prints_json_and_reports_bad_scenarios(tmp_path: Path) -> None:
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "leadflow",
            "simulate",
            "--json",
            str(next(f for f in SCENARIOS if f.stem == "loan_purpose")),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    rows = json.loads(ok.stdout)
    jsonschema.validate(rows, json.loads((ROOT / "docs" / "timeline.schema.json").read_text()))
    assert any(r["what"] == "sms to borrower" and "refinanc" in r["body"].lower() for r in rows)
    times = [datetime.fromisoformat(r["at"]) for r in rows]
    assert times == sorted(times)  # in time order
    kinds = {r["kind"] for r in rows}
    assert {"lead", "message", "call", "status", "audit"} <= kinds

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "playbook: isa\nevents:\n  - {at: 'tomorrow', reply: {}}\n"
        "  - {at: 'day 1', reply: {}, opt_out: sms}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "leadflow", "simulate", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert f"{bad}: events.0: at 'tomorrow': write 'day N' or 'day N HH:MM'" in result.stderr
    assert f"{bad}: events.1: give exactly one of" in result.stderr


def test_scenario_errors_name_the_file() -> None:
    with pytest.raises(ScenarioError, match=r"nope.yaml: \(file\): cannot read"):
        load_scenario(Path("nope.yaml"))


async def test_a_stated_horizon_sets_the_check_in_a_third_of_the_way() -> None:
    """The isa preset's rule of thumb: buying in six months (day 180) -> a Callback by day 60, the
    first calling-hours moment before the limit; a later follow-up is refused."""
    lines = await _run("isa_buying_in_six_months")
    stated = next(line for line in lines if line.what == "event horizon")
    check_in = localtime.at_local(
        localtime.local_date(stated.at, "America/Chicago") + timedelta(days=60),
        time(8),
        "America/Chicago",
    )
    assert _queued(lines)[-1] == (0, "Callback", localtime.describe(check_in, "America/Chicago"))
    refused = next(line for line in lines if line.what == "event follow_up")
    assert "follow up no later than" in refused.detail
    assert "the lead means to move by" in refused.detail


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "playbook: isa\nevents:\n  - {at: 'day 99 25:61', reply: {}}\n",
            "events.0: at 'day 99 25:61': 25:61 is not a time of day (00:00 to 23:59)",
        ),
        (
            "playbook: isa\nstart: next monday 25:00\nevents: []\n",
            "start: 'next monday 25:00': 25:00 is not a time of day (00:00 to 23:59)",
        ),
        (
            "playbook: isa\nstart: next month day 32 10:00\nevents: []\n",
            "start: 'next month day 32 10:00': day 32: choose 1 to 28",
        ),
    ],
    ids=["event-time", "start-time", "start-day"],
)
def test_bad_times_get_one_line_and_no_traceback(tmp_path: Path, text: str, expected: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "leadflow", "simulate", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"{bad}: {expected}" in result.stderr


def test_a_refused_event_stops_the_run_after_printing_what_happened_until_then(
    tmp_path: Path,
) -> None:
    scenario = tmp_path / "refused.yaml"
    playbook = tmp_path / "My_Book.yaml"  # a file name the playbook's own name need not match
    playbook.write_text((PLAYBOOKS / "isa.yaml").read_text())
    scenario.write_text(
        "playbook: My_Book.yaml\nstart: next monday 10:00\ndays: 3\n"
        "lead:\n  time_zone: America/Chicago\n"
        "  parties: {borrower: {name: J, phone: '+13125550150', sms_consent: true}}\n"
        "events:\n  - {at: 'day 0 10:05', call: {disposition: No Answer}}\n"
        "  - {at: 'day 1 10:05', milestone: {milestone: Sold, status: Hot}}\n"
    )
    result = _simulate(scenario)
    assert result.returncode == 1
    # The timeline up to the refusal, then the reason once, with the file's name first.
    assert "event call" in result.stdout and "event milestone" in result.stdout
    errors = result.stderr.strip().splitlines()
    assert errors == [
        f"{scenario}: events[1]: rejected: unknown milestone 'Sold'; the playbook has "
        "Prospect, Contacted, Appointment Set, Under Contract, Closed"
    ]

    # A lead the playbook refuses (a designation it lacks) is named, not a traceback.
    designation = "  designations: {processor: {id: p, name: P}}\nevents:"
    scenario.write_text(scenario.read_text().replace("events:", designation))
    refused = _simulate(scenario)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"{scenario}: lead: refused: unknown designation 'processor'; the playbook has isa, "
        "loan_officer"
    )


def test_a_start_in_the_past_is_named_once(tmp_path: Path) -> None:
    scenario = tmp_path / "past.yaml"
    scenario.write_text("playbook: isa\nstart: 2020-01-01T10:00\ndays: 3\n")
    result = _simulate(scenario)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"{scenario}: start: 2020-01-01T10:00 is in the past; the simulation's clock can "
        "only move forward"
    )


def _simulate(scenario: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leadflow", "simulate", str(scenario)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )


async def test_consent_and_a_reassigned_number_in_a_simulation() -> None:
    """Consent and the relationship given in a scenario reach the lead as the API's do; each
    text and call says which lists it is checked against when it goes, and why none holds
    it; a number reported reassigned gets nothing more, and a task asks for another."""
    lines = await _run("consent_and_reassigned_number")
    notes = [line.detail for line in lines if line.kind == "audit"]
    assert any("borrower consented to sms, call (marketing, written: web form" in n for n in notes)
    assert any("business relationship: inquiry" in n and "last transaction" in n for n in notes)
    texts = [line for line in lines if line.kind == "message" and line.channel == "sms"]
    assert texts and all(line.lists == ["national", "state:IL"] for line in texts)
    after = [line for line in texts if line.day >= 1]
    assert after and all((line.exemption or "").startswith("written consent") for line in after)
    assert all(line.reassigned_since is not None for line in texts)
    assert at_contact(texts[-1]).startswith(" [not held by national, state:IL: written consent")
    [task] = [
        line for line in lines if line.kind == "task" and "Find borrower" in line.what + line.detail
    ]
    assert task.day == 3
    reached = [
        line
        for line in lines
        if line.at > task.at
        and (line.kind == "call" or (line.kind == "message" and line.channel != "email"))
    ]
    assert reached == []
    assert any(line.kind == "dequeue" and line.at == task.at for line in lines)


async def test_a_routing_rule_is_tried_in_a_simulation_with_its_team() -> None:
    """The shipped scenario: an offer to the ISAs on shift, an accept refused to the one who
    went away, the lead taken, its held text sent from the taker, its first touch kept."""
    lines = await _run("routing_first_to_claim")
    said = [(line.what, line.detail) for line in lines]
    offered = next(d for w, d in said if d.startswith("routing:1: "))
    assert offered == "routing:1: web: offered to ana, bo for 5 min, first to claim"  # cy: 08:00
    assert ("event accept", "rejected: bo is away") in said
    assert ("event accept", "web: ana took it first") in said
    [text] = [d for w, d in said if w == "sms to borrower"]
    assert "from Ana Ruiz" in text
    assert ("first touch", "by ana") in said
    assert not any(d.startswith("worked:") for _, d in said)  # she worked it in time


async def test_an_offer_nobody_takes_goes_to_the_pond_where_each_takes_it_on_shift(
    tmp_path: Path,
) -> None:
    file = next(f for f in SCENARIOS if f.stem == "routing_first_to_claim")
    scenario = load_scenario(file).model_copy(deep=True)
    scenario.events = [
        ScriptedEvent(at="day 0 10:10", accept="cy", expect_rejected=True),  # 08:10 for him
        ScriptedEvent(at="day 0 10:11", accept="bo"),
    ]
    lines = await simulate(scenario, base=file.parent)
    said = [(line.what, line.detail) for line in lines]
    pond = next(d for _, d in said if d.startswith("routing:2: "))
    assert pond == "routing:2: pond: in the pond, open to ana, bo, cy after web: tried"
    refused = "rejected: cy works 09:00-17:00 America/Los_Angeles, it is 08:10"
    assert ("event accept", refused) in said
    assert ("event accept", "pond: bo took it from the pond") in said
    # web's rule asked bo to work it within 30 min; the pond's does not: nothing moves on
    assert not any(d.startswith("worked:") for _, d in said)
