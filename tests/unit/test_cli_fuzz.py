"""`leadflow playbook check` and `preview` on broken files: a one-line reason per problem,
never a traceback.

Each example takes a shipped playbook and breaks it a few ways at once: a line dropped,
doubled or cut short, a value replaced by any text, stray bytes (not always UTF-8), the
file truncated. Whatever comes of it, the command ends with 0 (still a playbook) or 1 (each
problem on a line of its own, naming the file), and raises nothing.
"""

from __future__ import annotations

from pathlib import Path

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
