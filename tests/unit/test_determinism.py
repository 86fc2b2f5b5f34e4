"""Workflow code reads no clock, no randomness and no environment of its own.

LeadWorkflow runs outside Temporal's sandbox (the sandbox would load a copy of its module
for every cached lead), so this test stands where the sandbox's guards stood: the code a
workflow runs (the engine, the playbook, the workflow's modules) may take time only from
`workflow.now()` or its caller, and may not reach for anything that differs on replay.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "leadflow"
WORKFLOW_CODE = sorted(
    [
        *(PACKAGE / "engine").glob("*.py"),
        *(PACKAGE / "playbook").glob("*.py"),
        *(PACKAGE / "workflows").glob("*.py"),
    ]
)
# Modules and attributes whose answer differs from run to run, or from replay to replay.
FORBIDDEN_MODULES = {"random", "secrets", "time", "uuid", "os", "socket", "threading"}
FORBIDDEN_CALLS = {"now", "utcnow", "today", "sleep", "getenv", "urandom"}
ALLOWED = {  # the deliberate exceptions, each with its reason
    ("shelf.py", "threading"): "a lock around the shared shelf, taken by codec and workflow",
}


def _offences(file: Path) -> list[str]:
    tree = ast.parse(file.read_text())
    found: list[str] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module.split(".")[0]]
        for name in names:
            if name in FORBIDDEN_MODULES and (file.name, name) not in ALLOWED:
                found.append(f"{file.name}:{node.lineno} imports {name}")
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            owner = func.value if isinstance(func, ast.Attribute) else None
            via_workflow = isinstance(owner, ast.Name) and owner.id == "workflow"
            if called in FORBIDDEN_CALLS and not via_workflow:
                found.append(f"{file.name}:{node.lineno} calls {called}()")
    return found


@pytest.mark.parametrize(
    "file", WORKFLOW_CODE, ids=[f"{f.parent.name}/{f.name}" for f in WORKFLOW_CODE]
)
def test_workflow_code_reads_no_clock_randomness_or_environment(file: Path) -> None:
    assert not _offences(file)


def test_the_check_finds_a_clock_read(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import uuid\nfrom datetime import datetime\nx = datetime.now()\n")
    assert _offences(sample) == ["sample.py:1 imports uuid", "sample.py:3 calls now()"]
