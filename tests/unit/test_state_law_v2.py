"""The law's second version, through the engine and the playbook check: Oregon's hours and
cap, Canada's calling hours (chosen by the number's country), the country's window on top of
an account's wider one (a lead on the first version deciding as it did), the check refusing
a window wider than the law, and a bare `region: ON` read as YAML's boolean.

Each lead has a fixed time zone, date and number: nothing here depends on when it runs."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from leadflow.cli.scenario import ScenarioError, load_scenario
from leadflow.engine.law import area_state
from leadflow.paths import shipped
from leadflow.playbook.load import PlaybookError, default_playbook, load_playbook
from leadflow.playbook.schema import Playbook, Step, Window
from tests.engine_driver import Lead
from tests.unit.test_state_law import at, lead_in

MONDAY, SATURDAY, SUNDAY = date(2026, 3, 2), date(2026, 3, 7), date(2026, 3, 8)
PACIFIC, CENTRAL, TORONTO = "America/Los_Angeles", "America/Chicago", "America/Toronto"
FEDERAL = "(47 C.F.R. § 64.1200(c)(1))"
CRTC = "(CRTC Unsolicited Telecommunications Rules, Part III (Telemarketing Rules))"


def texts(lead: Lead) -> list[datetime]:
    return [
        s.at for s in lead.log if s.command.kind == "send_message" and s.command.channel == "sms"
    ]


def deferred(lead: Lead, key: str = "isa_touches:1:0") -> Any:
    return next(a for a in lead.audits("deferred") if key in a.key)


def _four_texts_an_hour_apart() -> Playbook:
    book = default_playbook("isa")
    steps = [Step(after=timedelta(hours=h), do="sms", template="intro_sms") for h in range(4)]
    spec = book.campaigns["isa_touches"].model_copy(update={"steps": steps})
    return book.model_copy(update={"campaigns": {**book.campaigns, "isa_touches": spec}})


def _wide(book: Playbook) -> Playbook:
    """The playbook with an account window of 07:00-22:00 for every recipient."""
    window = Window(start=time(7), end=time(22))
    rules = book.compliance.model_copy(update={"quiet_hours": window})
    return book.model_copy(update={"compliance": rules})


def test_an_oregon_lead_texted_at_half_past_eight_waits_for_eight_in_the_morning() -> None:
    assert area_state("+15035551000") == "OR"
    lead = lead_in(None, "503", PACIFIC, at(MONDAY, time(20, 30), PACIFIC))
    audit = deferred(lead)
    assert audit.until == at(MONDAY + timedelta(days=1), time(8), PACIFIC)
    assert "OR window 08:00-20:00" in audit.reason and "Or. HB 3865 (2025)" in audit.reason
    assert not texts(lead)


def test_a_fourth_text_in_a_day_to_an_oregon_lead_waits() -> None:
    start = at(MONDAY, time(9), PACIFIC)
    lead = lead_in("OR", "503", PACIFIC, start, _four_texts_an_hour_apart())
    lead.run_until(start + timedelta(hours=5))
    assert texts(lead) == [start + timedelta(hours=h) for h in range(3)]
    audit = deferred(lead, "isa_touches:1:3")
    assert audit.until == start + timedelta(days=1)
    assert audit.reason.startswith(
        "frequency cap: 3 calls and texts on the same subject per 1d in OR"
    )
    lead.run_until(start + timedelta(days=1))
    assert texts(lead)[3:] == [start + timedelta(days=1)]


def test_a_canadian_number_is_called_from_nine_on_a_weekday_not_eight() -> None:
    lead = lead_in(None, "416", TORONTO, at(MONDAY, time(8, 30), TORONTO))
    call = lead.calls()[0]
    assert call.available_at == at(MONDAY, time(9), TORONTO)
    assert f"CA window 09:00-21:30 America/Toronto {CRTC}" in call.why
    # The CRTC's hours are for calls: a text (CASL sets no hours) goes at 08:30.
    assert texts(lead) == [at(MONDAY, time(8, 30), TORONTO)]


def test_a_canadian_number_waits_for_ten_on_a_saturday() -> None:
    lead = lead_in(None, "416", TORONTO, at(SATURDAY, time(9), TORONTO))
    call = lead.calls()[0]
    assert call.available_at == at(SATURDAY, time(10), TORONTO)
    assert "CA Saturday window 10:00-18:00" in call.why


def test_a_canadian_number_gets_no_call_after_six_on_a_sunday() -> None:
    lead = lead_in(None, "416", TORONTO, at(SUNDAY, time(18, 30), TORONTO))
    call = lead.calls()[0]
    assert call.available_at == at(SUNDAY + timedelta(days=1), time(9), TORONTO)
    assert f"CA Sunday window 10:00-18:00 America/Toronto {CRTC}" in call.why


def test_a_canadian_province_on_record_is_no_state() -> None:
    """`region: ON` is Ontario: Canada's hours by the record, and no state table looked up."""
    lead = lead_in("ON", "416", TORONTO, at(MONDAY, time(10), TORONTO))
    assert lead.state.region == "ON" and texts(lead) == [at(MONDAY, time(10), TORONTO)]
    assert lead.calls()[0].available_at == at(MONDAY, time(10), TORONTO)


def test_an_account_window_wider_than_the_law_does_not_text_a_us_number_at_quarter_past_seven() -> (
    None
):
    morning = at(MONDAY, time(7, 15), CENTRAL)
    lead = lead_in(None, "312", CENTRAL, morning, _wide(default_playbook("isa")))
    audit = deferred(lead)
    assert audit.until == at(MONDAY, time(8), CENTRAL)
    assert audit.reason == f"quiet hours: US window 08:00-21:00 America/Chicago {FEDERAL}"
    assert lead.calls()[0].available_at == at(MONDAY, time(8), CENTRAL)
    # A lead recorded under the first version decides as it did: its account's window.
    old = lead_in(None, "312", CENTRAL, morning, _wide(default_playbook("isa")), law=1)
    assert old.state.law == 1 and texts(old) == [morning]


def test_the_federal_window_is_named_on_an_account_window_that_is_it() -> None:
    lead = lead_in(None, "312", CENTRAL, at(MONDAY, time(7, 15), CENTRAL))
    assert deferred(lead).reason == f"quiet hours: window 08:00-21:00 America/Chicago {FEDERAL}"


def _isa_with(tmp_path: Path, compliance: dict[str, Any]) -> Path:
    data = yaml.safe_load((shipped("playbooks") / "isa.yaml").read_text())
    data["compliance"].update(compliance)
    file = tmp_path / "isa.yaml"
    file.write_text(yaml.safe_dump(data, sort_keys=False))
    return file


def test_playbook_check_refuses_a_window_wider_than_the_us_and_canadas_law(tmp_path: Path) -> None:
    file = _isa_with(
        tmp_path,
        {
            "quiet_hours": {"start": "07:00", "end": "22:00"},
            "state_quiet_hours": {
                "FL": {"start": "08:00", "end": "20:00"},
                "ON": {"start": "08:30", "end": "21:00"},
            },
        },
    )
    with pytest.raises(PlaybookError) as error:
        load_playbook(file)
    assert str(error.value).splitlines() == [
        f"{file}: compliance.quiet_hours: 07:00-22:00 is wider than the federal window, "
        f"08:00-21:00 {FEDERAL}; an account may only narrow it",
        f"{file}: compliance.quiet_hours: 07:00-22:00 is wider than Canada's law, "
        f"09:00-21:30 {CRTC}; an account may only narrow it",
        f"{file}: compliance.state_quiet_hours.ON: 08:30-21:00 is wider than Canada's law, "
        f"09:00-21:30 {CRTC}; an account may only narrow it",
    ]


def test_playbook_check_refuses_a_window_wider_than_oregons(tmp_path: Path) -> None:
    file = _isa_with(tmp_path, {"state_quiet_hours": {"OR": {"start": "08:00", "end": "21:00"}}})
    with pytest.raises(PlaybookError, match=r"compliance\.state_quiet_hours\.OR: .*Oregon's law"):
        load_playbook(file)


def test_a_bare_region_on_is_reported_as_yamls_boolean(tmp_path: Path) -> None:
    scenario = tmp_path / "ontario.yaml"
    scenario.write_text(
        "playbook: isa\nstart: next monday 10:00\ndays: 1\n"
        "lead:\n  time_zone: America/Toronto\n  region: ON\n  parties:\n"
        "    borrower: {name: Dana Fields, phone: '+14165550250', region: ON}\n"
    )
    with pytest.raises(ScenarioError) as error:
        load_scenario(scenario)
    assert str(error.value).splitlines() == [
        f'{scenario}: lead.region: YAML read ON as true; quote it: region: "ON"',
        f'{scenario}: lead.parties.borrower.region: YAML read ON as true; quote it: region: "ON"',
    ]
    scenario.write_text(scenario.read_text().replace("region: ON", 'region: "ON"'))
    assert load_scenario(scenario).lead.region == "ON"
