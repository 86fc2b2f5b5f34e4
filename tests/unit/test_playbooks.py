"""Playbook files: the defaults pass `check`; a broken copy names file, path and reason."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from leadflow.paths import shipped
from leadflow.playbook.load import DEFAULTS, PlaybookError, default_playbook, load_playbook
from leadflow.playbook.schema import Playbook
from leadflow.playbook.shelf import Shelf, digest

PLAYBOOKS = shipped("playbooks")
ROOT = Path(__file__).resolve().parents[2]


def _leadflow(*args: str, columns: int = 200) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leadflow", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": str(columns), "PATH": ""},
    )


@pytest.mark.parametrize("name", DEFAULTS)
def test_default_playbooks_pass_check(name: str) -> None:
    result = _leadflow("playbook", "check", str(PLAYBOOKS / f"{name}.yaml"))
    assert result.returncode == 0, result.stderr
    assert f"ok ({name} v1" in result.stdout


def _broken(tmp_path: Path, base: str, change: Callable[[dict[str, Any]], None]) -> Path:
    data = yaml.safe_load((PLAYBOOKS / f"{base}.yaml").read_text())
    change(data)
    file = tmp_path / f"broken-{base}.yaml"
    file.write_text(yaml.safe_dump(data, sort_keys=False))
    return file


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        target = data
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return change


BROKEN = [
    (
        "isa",
        _set(["links", "Nowhere"], ["New"]),
        "links.Nowhere: unknown milestone 'Nowhere'",
    ),
    (
        "isa",
        _set(["templates", "intro_sms", "body"], "Hi {{ lead.frist_name }}"),
        "templates.intro_sms.body: template error: 'dict object' has no attribute 'frist_name'",
    ),
    (
        "isa",
        _set(["templates", "intro_sms", "body"], "Hi {{ borrower }}"),
        "templates.intro_sms.body: template error: 'borrower' is undefined",
    ),
    (
        "isa",
        _set(["templates", "intro_sms", "body"], "Hi {{ 'x' * 10**9 }}"),
        "templates.intro_sms.body: template error: the repetition makes a value too long",
    ),
    (
        "isa",
        _set(
            ["templates", "intro_email", "body"],
            "{% for a in range(999) %}{% for b in range(999) %}.{% endfor %}{% endfor %}",
        ),
        "templates.intro_email.body: template error: the template takes more than 10,000 loop",
    ),
    (  # only a lead with no name: "there" has no second letter
        "isa",
        _set(["templates", "intro_email", "subject"], "{{ lead.last_name[1] }}"),
        "templates.intro_email.subject: template error for a lead with no name, loan purpose "
        "or sender contacts: ",
    ),
    (  # only a lead with the longest names: 400 characters and more is three segments
        "isa",
        _set(["templates", "intro_sms", "body"], "Hi {{ lead.full_name }}! " + "x" * 1200),
        "templates.intro_sms.body: as a text it is 11 segments (1,606 characters, GSM-7); "
        "a text may be at most 10 (a lead with the longest names)",
    ),
    (  # only a lead whose name makes the text UCS-2
        "isa",
        _set(["templates", "intro_sms", "body"], "Hi {{ lead.first_name }}! " + "x" * 700),
        "templates.intro_sms.body: as a text it is 11 segments (708 characters, UCS-2); "
        "a text may be at most 10 (a lead with names beyond GSM-7)",
    ),
    (
        "isa",
        _set(
            ["milestones"],
            ["Prospect", "Contacted", "Application", "Scheduled Closing", "Closed", "Contacted"],
        ),
        "milestones: duplicate name 'Contacted'",
    ),
    (
        "isa",
        _set(["campaigns", "isa_call_campaign", "steps", 1, "after"], "2 days"),
        "campaigns.isa_call_campaign.steps[1].after: '2 days' is not a duration",
    ),
    (
        "isa",
        _set(["dispositions", "No Answer", "hold"], 1),
        "dispositions.No Answer.hold: 1 has no unit",
    ),
    (
        "isa",
        _set(["dispositions", "No Answer", "status"], "Gone Fishing"),
        "dispositions.No Answer.status: unknown status 'Gone Fishing'",
    ),
    (
        "isa",
        _set(["campaigns", "isa_touches", "steps", 0, "template"], "nope"),
        "campaigns.isa_touches.steps[0].template: unknown template 'nope'",
    ),
    (
        "isa",
        _set(["dispositions", "Engaged", "requeue"], True),
        "dispositions.Engaged.requeue: with contact_prompt the agent sets the next call",
    ),
    (
        "isa",
        _set(["contact_prompt", "assignee"], {"designation": "closer"}),
        "contact_prompt.assignee.designation: unknown designation 'closer'",
    ),
    (
        "mortgage",
        _set(
            ["campaigns", "low_touch", "on_complete"],
            {"milestone": "Called Left Voicemail", "status": "New"},
        ),
        "campaign chain loops forever: high_touch -> low_touch -> high_touch",
    ),
    (
        "mortgage",
        _set(["date_rules", 0, "key_date"], "birthday"),
        "date_rules[0].key_date: unknown key date 'birthday'",
    ),
    ("isa", _set(["spread"], "1m"), "spread: a spread is from 2 minutes to 2 hours, e.g. 15m"),
    ("isa", _set(["spread"], "3h"), "spread: a spread is from 2 minutes to 2 hours, e.g. 15m"),
    ("isa", _set(["spread"], "150s"), "spread: a spread is whole minutes, e.g. 15m"),
    (
        "insurance",
        _set(["defaults", "status"], "Customer"),
        "defaults: status 'Customer' is not linked with milestone 'No Milestone'",
    ),
]


@pytest.mark.parametrize(("base", "change", "expected"), BROKEN)
def test_broken_copies_fail_with_file_path_and_reason(
    tmp_path: Path, base: str, change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    file = _broken(tmp_path, base, change)
    with pytest.raises(PlaybookError) as error:
        load_playbook(file)
    assert f"{file}: " in str(error.value)
    assert expected in str(error.value)


def test_check_command_prints_each_problem_and_fails(tmp_path: Path) -> None:
    file = _broken(tmp_path, "isa", _set(["links", "Nowhere"], ["Limbo"]))
    result = _leadflow("playbook", "check", str(file))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{file}: links.Nowhere: unknown milestone 'Nowhere'",
        f"{file}: links.Nowhere[0]: unknown status 'Limbo'",
    ]


def test_not_yaml_is_reported_with_its_line(tmp_path: Path) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text("name: x\nmilestones: [a, b\n")
    with pytest.raises(PlaybookError, match=r"bad.yaml: line \d+: not valid YAML"):
        load_playbook(file)


def test_isa_preview_calls_on_the_cadence_days_with_texts_between(tmp_path: Path) -> None:
    result = _leadflow(
        "playbook",
        "preview",
        str(PLAYBOOKS / "isa.yaml"),
        "--json",
        "--start",
        "2026-03-02T19:30-06:00",
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    jsonschema.validate(rows, json.loads((ROOT / "docs" / "timeline.schema.json").read_text()))
    queued = [row for row in rows if row["kind"] == "call"]
    calls = [row for row in queued if not row["what"].startswith("moved ")]
    touches = [row for row in rows if row["kind"] == "message"]
    assert [row["day"] for row in calls] == [0, 2, 4, 7, 15, 30, 45, 50, 60]
    # A call no agent took moves on to the next window the day its window closes.
    assert {row["label"] for row in queued if row not in calls} <= {"CallASAP", "Redial"}
    assert [row["label"] for row in calls][:2] == ["CallASAP", "Redial"]
    assert [row["what"] for row in calls][:2] == ["queue CallASAP", "queue Redial"]  # as simulate
    text = touches[0]
    assert (text["channel"], text["party"], text["to"]) == ("sms", "borrower", "+13125551000")
    assert text["sender_name"] and text["template"] and text["body"].startswith("Hi Jordan")
    assert text["local_at"].endswith("-06:00") and "2026" in text["local_time"]
    assert 10 <= len(touches) <= 15
    # The lead came in at 19:30; every touch and call lands inside 08:00-21:00 local.
    for row in calls + touches:
        clock = row["local_time"].split()[4]
        assert "08:00" <= clock < "21:00", row


def test_preview_reads_lead_facts_and_reports_bad_ones(tmp_path: Path) -> None:
    lead = tmp_path / "lead.yaml"
    lead.write_text("time_zone: America/New_York\nregion: FL\nfavourite_colour: blue\n")
    result = _leadflow("playbook", "preview", str(PLAYBOOKS / "isa.yaml"), "--lead", str(lead))
    assert result.returncode == 1
    assert f"{lead}: favourite_colour: Extra inputs are not permitted" in result.stderr


def test_default_playbook_names_are_checked() -> None:
    with pytest.raises(PlaybookError, match="no default playbook 'crm'"):
        default_playbook("crm")


def test_presets_carry_their_teams_vocabulary() -> None:
    insurance, isa = default_playbook("insurance"), default_playbook("isa")
    queue, periods = default_playbook("leads-queue"), default_playbook("callback-periods")
    # The insurance preset: actions, ordered milestones starting at "No Milestone", all twelve
    # statuses.
    assert {"Call", "Email", "Meeting", "Lead Update"} <= set(insurance.actions)
    assert insurance.milestones == [
        "No Milestone",
        "Contacted",
        "Quoted",
        "Sold",
        "Not Interested",
        "Cancelled Policy",
    ]
    assert [s.name for s in insurance.statuses] == [
        "New",
        "Attempted Contact",
        "Hot",
        "Follow Up",
        "Requote",
        "Customer",
        "Cross-Sell Auto",
        "Cross-Sell Home",
        "Bad Phone Number",
        "Do Not Call Number",
        "Not Interested",
        "Winback",
    ]
    assert [s.name for s in insurance.statuses if s.requires_follow_up] == ["Hot", "Follow Up"]
    # The usual insurance combinations are all linked.
    for milestone, status in [
        ("No Milestone", "New"),
        ("No Milestone", "Bad Phone Number"),
        ("No Milestone", "Attempted Contact"),
        ("Contacted", "Follow Up"),
        ("Contacted", "Hot"),
        ("Quoted", "Hot"),
        ("Quoted", "Follow Up"),
        ("Quoted", "Requote"),
        ("Sold", "Customer"),
    ]:
        assert status in insurance.links[milestone], (milestone, status)
    assert not insurance.callback_periods and not insurance.production_cycle
    # The leads-queue preset: New, Contact Attempted, Engaged, Nurture, Converted.
    assert [s.name for s in queue.statuses][:5] == [
        "New",
        "Contact Attempted",
        "Engaged",
        "Nurture",
        "Converted",
    ]
    # The isa preset: the cadence days are in the file as written; no callback periods,
    # production cycle or disposition holds mixed in.
    calls = [s.after.days for s in isa.campaigns["isa_call_campaign"].steps if s.do == "call"]
    assert calls == [0, 2, 4, 7, 15, 30, 45, 50, 60]
    assert not isa.callback_periods and not isa.production_cycle
    assert all(not d.requeue for d in isa.dispositions.values())
    assert isa.contact_prompt is not None
    # The callback-periods preset: 2-4 hours attempted, 18-24 hours contacted.
    assert {
        k: (v.min / timedelta(hours=1), v.max / timedelta(hours=1))
        for k, v in periods.callback_periods.items()
    } == {
        "Contact Attempted": (2, 4),
        "Contacted": (18, 24),
    }


def test_a_field_added_at_its_default_leaves_the_playbooks_digest_as_it_was() -> None:
    """A lead pinned to a playbook before templates had a `purpose` names it by the digest
    of its JSON then: a marketing template (the default) writes the JSON it did, so the
    same content has the same digest; an informational one says so."""
    isa, mortgage = default_playbook("isa"), default_playbook("mortgage")
    assert all("purpose" not in t for t in isa.model_dump(mode="json")["templates"].values())
    news = mortgage.model_dump(mode="json")["templates"]["borrower_funded"]
    assert news["purpose"] == "informational"
    then = isa.model_dump(mode="json")
    key = hashlib.sha256(
        json.dumps(then, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    assert key == digest(isa) == digest(Playbook.model_validate(then))


def test_the_shelf_names_every_playbook_by_its_own_digest() -> None:
    """Whatever it held before, replaced or let go, a reference names the content put."""
    shelf = Shelf(kept=2)
    isa, mortgage = default_playbook("isa"), default_playbook("mortgage")
    copy = isa.model_copy()  # the same content, another object
    other = isa.model_copy(update={"version": isa.version + 1})
    for book in (isa, isa, copy, mortgage, other, isa, copy, other):
        ref = shelf.put(book)
        assert ref.digest == digest(book)
        assert shelf.take(ref) == book
    shelf.forget(digest(other))
    assert shelf.get(digest(other)) is None
    assert shelf.put(other).digest == digest(other)


def _huge(file: Path) -> None:
    book = yaml.safe_load((PLAYBOOKS / "isa.yaml").read_text())
    book["description"] = "x" * (600 * 1024)
    file.write_text(yaml.safe_dump(book))


def _many_campaigns(file: Path) -> None:
    book = yaml.safe_load((PLAYBOOKS / "isa.yaml").read_text())
    steps = book["campaigns"]["isa_touches"]["steps"][:1]
    book["campaigns"] = {f"c{i}": {"steps": steps} for i in range(101)}
    file.write_text(yaml.safe_dump(book))


@pytest.mark.parametrize(
    ("write", "expected"),
    [
        (lambda p: p.write_bytes(b"name: \xff\xfe isa\n"), "(file): not UTF-8 text (byte 6)"),
        (lambda p: p.write_text("[" * 5000 + "]" * 5000), "nested too deeply to be a playbook"),
        (_huge, "a playbook may be at most 512 KiB"),
        (_many_campaigns, "campaigns: Dictionary should have at most 100 items"),
    ],
    ids=["not-utf8", "deep", "huge", "too-many-campaigns"],
)
def test_bad_files_get_one_line_each_and_no_traceback(
    tmp_path: Path, write: Callable[[Path], Any], expected: str
) -> None:
    file = tmp_path / "bad.yaml"
    write(file)
    result = _leadflow("playbook", "check", str(file))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and expected in result.stderr, result.stderr
    assert result.stderr.strip().startswith(f"{file}: ")


def test_the_timeline_schema_in_docs_is_the_one_the_code_prints() -> None:
    printed = _leadflow("timeline-schema")
    assert printed.returncode == 0, printed.stderr
    shipped = json.loads((ROOT / "docs" / "timeline.schema.json").read_text())
    assert json.loads(printed.stdout) == shipped, "run: leadflow timeline-schema > docs/..."


def test_preview_hides_internal_rows_unless_asked_and_ends_with_a_summary() -> None:
    args = ("playbook", "preview", str(PLAYBOOKS / "isa.yaml"), "--days", "3")
    monday = ("--start", "2026-03-02T09:00-06:00")
    plain = _leadflow(*args, *monday, columns=80)
    everything = _leadflow(*args, *monday, "--all", columns=80)
    assert plain.returncode == everything.returncode == 0, plain.stderr
    assert "parties" not in plain.stdout and "parties" in everything.stdout
    assert "save_parties" not in everything.stdout and "send_message" not in plain.stdout
    assert plain.stdout.rstrip().splitlines()[-1] == (
        "2 calls queued, 2 texts, 1 email, 0 tasks, 0 deferred, 0 held, 0 skipped"
    )
    assert max(len(line) for line in plain.stdout.splitlines()) <= 80


def test_a_yaml_error_reads_as_written_not_as_markup(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nmilestones: [a: b: c]\n")
    for command in ("check", "preview"):
        result = _leadflow("playbook", command, str(broken))
        assert result.returncode == 1
        assert result.stderr.strip() == (
            f"{broken}: line 2: not valid YAML: while parsing a flow sequence; "
            "expected ',' or ']', but got ':' (column 18)"
        ), command


def test_preview_shows_each_deferrals_rule_state_and_citation(tmp_path: Path) -> None:
    """A Utah lead arriving on the Friday Independence Day is observed: the timeline names
    the holiday, the state and the statute, for the text and for the call."""
    lead = tmp_path / "lead.yaml"
    lead.write_text(
        "time_zone: America/Denver\nregion: UT\nparties:\n"
        "  borrower: {name: Pat Lee, phone: '+18015551000', sms_consent: true}\n"
    )
    result = _leadflow(
        "playbook", "preview", str(PLAYBOOKS / "isa.yaml"), "--lead", str(lead),
        "--start", "2026-07-03T10:00:00-06:00", "--days", "3", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    reasons = [e["reason"] for e in json.loads(result.stdout) if e.get("outcome") == "deferred"]
    assert any(
        r.startswith("Independence Day (observed): no calls or texts in UT on legal holidays")
        and "(Utah Code § 13-25a-103(3))" in r
        for r in reasons
    )
    assert any(r.startswith("Independence Day (observed): no calls in UT") for r in reasons)


def test_a_key_given_twice_is_refused_with_its_line(tmp_path: Path) -> None:
    text = (PLAYBOOKS / "isa.yaml").read_text()
    file = tmp_path / "twice.yaml"
    file.write_text(text.replace("\nversion: 1\n", "\nversion: 1\nversion: 2\n", 1))
    line = file.read_text().splitlines().index("version: 2") + 1
    with pytest.raises(PlaybookError) as error:
        load_playbook(file)
    assert str(error.value) == f"{file}: line {line}: duplicate key 'version'"


def test_a_merge_key_may_be_overridden(tmp_path: Path) -> None:
    from leadflow.playbook.load import read_yaml

    assert read_yaml("a: &x {b: 1, c: 2}\nd:\n  <<: *x\n  b: 3\n") == {
        "a": {"b": 1, "c": 2},
        "d": {"b": 3, "c": 2},
    }


def test_scenario_and_lead_files_refuse_a_key_given_twice(tmp_path: Path) -> None:
    scenario = tmp_path / "twice.yaml"
    scenario.write_text("playbook: isa\ndays: 5\nlead:\n  first_name: A\n  first_name: B\n")
    result = _leadflow("simulate", str(scenario))
    assert result.returncode == 1
    assert result.stderr.strip() == f"{scenario}: line 5: duplicate key 'first_name'"
    lead = tmp_path / "lead.yaml"
    lead.write_text("first_name: A\ntime_zone: America/Chicago\nfirst_name: B\n")
    result = _leadflow("playbook", "preview", str(PLAYBOOKS / "isa.yaml"), "--lead", str(lead))
    assert result.returncode == 1
    assert result.stderr.strip() == f"{lead}: line 3: duplicate key 'first_name'"
