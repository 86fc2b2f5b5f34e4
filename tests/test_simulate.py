"""`leadflow simulate`: every shipped scenario runs cleanly through the real workflow."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import time
from pathlib import Path

import pytest

from leadflow.starter.simulate import Line, ScenarioError, load_scenario, simulate
from leadflow.workflows import localtime

SCENARIOS = sorted((Path(__file__).resolve().parent.parent / "scenarios").glob("*.yaml"))


async def _run(name: str) -> list[Line]:
    file = next(f for f in SCENARIOS if f.stem == name)
    return await simulate(load_scenario(file), base=file.parent)


@pytest.mark.parametrize("file", SCENARIOS, ids=[f.stem for f in SCENARIOS])
async def test_every_scenario_runs_cleanly(file: Path) -> None:
    lines = await simulate(load_scenario(file), base=file.parent)
    assert lines[0].what == "lead created"
    assert (
        not [
            line
            for line in lines
            if line.detail.startswith("rejected") and "expect" not in line.detail
        ]
        or file.stem == "rejected_combinations"
    )


async def test_contact_on_day_7_timeline() -> None:
    lines = await _run("isa_contact_on_day_7")
    calls = [(line.day, line.what) for line in lines if line.what.startswith("queue ")]
    assert calls == [
        (0, "queue CallASAP"),
        (0, "queue Redial"),
        (2, "queue Redial"),
        (2, "queue Redial"),
        (4, "queue Redial"),
        (4, "queue Redial"),
        (7, "queue Redial"),
        (7, "queue Callback"),
    ]
    assert [line.detail for line in lines if line.what == "audit stopped"] == [
        "campaign:isa_call_campaign:1: contact made",
        "campaign:isa_touches:1: contact made",
    ]


async def test_florida_lead_after_hours_waits_for_the_morning() -> None:
    lines = await _run("weekend_and_dst")
    sent = [line for line in lines if line.what.startswith(("sms ", "email "))]
    assert sent[0].local_time.startswith("Sat 13 Mar 08:00")
    for line in sent:
        clock = localtime.to_local(line.at, "America/New_York").time()
        assert time(8) <= clock < time(20), line
    first_call = next(line for line in lines if line.what == "queue CallASAP")
    assert "from Sat 13 Mar 08:00 America/New_York" in first_call.detail


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
    assert any(r["what"] == "sms to borrower" and "refinanc" in r["detail"].lower() for r in rows)

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
