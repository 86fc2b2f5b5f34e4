"""`leadflow playbook check` and `preview` on broken files: a one-line reason per problem,
never a traceback.

Each example takes a shipped playbook and breaks it a few ways at once: a line dropped,
doubled or cut short, a value replaced by any text, stray bytes (not always UTF-8), the
file truncated. Whatever comes of it, the command ends with 0 (still a playbook) or 1 (each
problem on a line of its own, naming the file), and raises nothing.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from leadflow.cli.main import app
from leadflow.paths import shipped

SHIPPED = sorted(shipped("playbooks").glob("*.yaml"))
TEXTS = {path.name: path.read_bytes() for path in SHIPPED}

value = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "[", "{", "- ", ": :", "&a *a", "!!python/object:os.system", "1e999"]),
    st.sampled_from(["-1", "0", "99999999999", "10:99", "25:00", "P-1D", "3x", "null", "~"]),
)


@st.composite
def broken(draw: st.DrawFn) -> bytes:
    lines = TEXTS[draw(st.sampled_from(sorted(TEXTS)))].split(b"\n")
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        how = draw(st.sampled_from(["drop", "double", "cut", "value", "bytes"]))
        if how == "drop":
            del lines[i]
        elif how == "double":
            lines.insert(i, lines[i])
        elif how == "cut":
            lines[i] = lines[i][: draw(st.integers(0, max(0, len(lines[i]) - 1)))]
        elif how == "value" and b":" in lines[i]:
            key = lines[i].split(b":", 1)[0]
            lines[i] = key + b": " + draw(value).encode()
        else:
            lines[i] = lines[i] + draw(st.binary(min_size=1, max_size=8))
        if not lines:
            lines = [b""]
    text = b"\n".join(lines)
    return text[: draw(st.integers(0, len(text)))] if draw(st.booleans()) else text


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{type(result.exception).__name__}: {result.exception}"
    )
    assert "Traceback" not in result.output
    return result.exit_code, result.stderr


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=broken())
def test_a_broken_playbook_gets_one_line_per_problem(tmp_path: Path, data: bytes) -> None:
    file = tmp_path / "broken.yaml"
    file.write_bytes(data)
    code, errors = _run("playbook", "check", str(file))
    assert code in (0, 1)
    if code == 1:
        lines = errors.strip().splitlines()
        assert lines and all(line.startswith(f"{file}: ") for line in lines), errors
    preview, _ = _run("playbook", "preview", str(file), "--days", "10")
    assert preview == code  # what check passes, preview shows; what it refuses, preview does


# ---- hostile values at every command: one line, never a traceback ----------------------------

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_ENV = {  # enough to reach a command's own checks; nothing listens there
    "DATABASE_URL": "postgresql+asyncpg://leadflow@127.0.0.1:9/nowhere",
    "TEMPORAL_ADDRESS": "127.0.0.1:9",
}


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def _simulate(tmp_path: Path, text: str) -> tuple[int, str]:
    """`simulate` leaves by os._exit (see leadflow.cli.main), so it runs in a process."""
    file = tmp_path / "scenario.yaml"
    file.write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "leadflow", "simulate", str(file)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "", "COLUMNS": "200"},
        cwd=ROOT,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, result.stderr


@pytest.mark.parametrize(
    ("scenario", "said"),
    [
        ("start: '9999-12-31T10:00'", "start: '9999-12-31T10:00': choose a time from 1970 to 2999"),
        ("start: '0001-01-01T00:00+05:00'", "start: '0001-01-01T00:00+05:00': choose a time"),
        ("events: [{at: day 99999999999, opt_out: sms}]", "day 99999999999 is past the longest"),
        (
            "events: [{at: day 1, key_dates: {funded_date: day 999999999}}]",
            "at: 'day 999999999': day 999999999 is past the longest a scenario runs",
        ),
        ("events: [{at: day 1, horizon: day 99999999}]", "day 99999999 is past the longest"),
        (
            "events: [{at: day 1, follow_up: {start: day 99999999 10:00}}]",
            "day 99999999 is past the longest",
        ),
        ("lead: {time_zone: Mars/Olympus}", "unknown time zone 'Mars/Olympus'"),
        ("lead: {first_name: " + "x" * 5000 + "}", "lead.first_name: String should have at most"),
    ],
)
def test_simulate_answers_hostile_values_in_one_line(
    tmp_path: Path, scenario: str, said: str
) -> None:
    code, stderr = _simulate(tmp_path, f"playbook: isa\ndays: 5\n{scenario}\n")
    assert code == 1
    line = _one_line(stderr)
    assert line.startswith(f"{tmp_path / 'scenario.yaml'}: ") and said in line, line


@pytest.mark.parametrize(
    "start", ["9999-12-31T23:00+00:00", "0001-01-01T00:00+05:00", "2026-13-01T00:00+00:00"]
)
def test_preview_answers_a_start_out_of_range_in_one_line(start: str) -> None:
    code, _ = _run("playbook", "preview", str(SHIPPED[0]), "--start", start, "--days", "2")
    assert code == 2


@settings(max_examples=40, deadline=None)
@given(moment=st.datetimes(timezones=st.timezones()))
def test_preview_takes_any_start_or_refuses_it(moment: datetime) -> None:
    code, _ = _run(
        "playbook", "preview", str(SHIPPED[0]), "--start", moment.isoformat(), "--days", "2"
    )
    assert code in (0, 2)


@pytest.mark.parametrize(
    ("lead", "said"),
    [
        ("time_zone: Mars/Olympus", "time_zone: unknown time zone 'Mars/Olympus'"),
        (
            "parties: {borrower: {name: A, time_zone: Nowhere/At_All}}",
            "parties.borrower.time_zone: unknown time zone 'Nowhere/At_All'",
        ),
        (
            "key_dates: {funded_date: 9999-12-31, lock_expiration: 9999-12-31}",
            "(lead): ",
        ),
    ],
)
def test_preview_answers_a_hostile_lead_file_in_one_line(
    tmp_path: Path, lead: str, said: str
) -> None:
    file = tmp_path / "lead.yaml"
    file.write_text(lead + "\n")
    mortgage = shipped("playbooks") / "mortgage.yaml"
    code, stderr = _run("playbook", "preview", str(mortgage), "--lead", str(file), "--days", "2")
    assert code == 1
    line = _one_line(stderr)
    assert line.startswith(f"{file}: ") and said in line, line


@pytest.mark.parametrize(
    "args",
    [
        ["account", "acme", "--name", "n" * 201],
        ["account", "acme", "--name", "a\x00b"],
        ["account", "a" * 129],
        ["account", "acme", "--playbook", "nowhere.yaml"],
        ["playbook", "migrate", "a" * 300, "--to", "2"],
        ["playbook", "migrate", "acme:x", "--to", "2"],
        ["playbook", "migrate", "acme", "--to", "99999999999"],
        ["new-key", "--id", "a:b"],
        ["new-key", "--id", "k" * 65],
        ["new-key", "--id", "ü"],
        ["deploy", "status"],  # no deployment named, none in WORKER_DEPLOYMENT
        ["import", "/nowhere/leads.csv", "--account", "acme"],
        ["import", "/dev/null", "--account", "acme", "--map", "phone"],
    ],
)
def test_commands_answer_hostile_values_in_one_line(args: list[str]) -> None:
    result = CliRunner().invoke(app, args, env=SETTINGS_ENV)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{type(result.exception).__name__}: {result.exception}"
    )
    assert result.exit_code == 2
    assert _one_line(result.stderr).startswith("leadflow: error: ")


@settings(max_examples=60, deadline=None)
@given(key_id=st.text(max_size=80))
def test_new_key_takes_a_usable_id_or_refuses_it(key_id: str) -> None:
    result = CliRunner().invoke(app, ["new-key", "--id", key_id])
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 0:
        made_id, _, key = result.stdout.strip().rpartition(":")
        assert made_id == (key_id or made_id) and "," not in made_id and key
    else:
        _one_line(result.stderr)
