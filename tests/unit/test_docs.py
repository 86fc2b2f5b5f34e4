"""The docs stay true: the tests docs/behaviours.md cites exist, and the README's Python
example imports only names leadflow has."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CITED = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def test_every_test_behaviours_md_cites_exists() -> None:
    text = (ROOT / "docs" / "behaviours.md").read_text()
    cited = set(CITED.findall(text))
    assert len(cited) > 100
    missing = [
        f"{file}::{name}"
        for file, name in sorted(cited)
        if not (ROOT / file).exists() or not re.search(rf"def {name}\b", (ROOT / file).read_text())
    ]
    assert not missing, f"docs/behaviours.md cites tests that do not exist: {missing}"


def test_the_readme_python_example_imports_what_exists() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert blocks, "the README has a Python example"
    names = [
        (node.module, alias.name)
        for block in blocks
        for node in ast.walk(ast.parse(block.replace("await ", "")))
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    ]
    assert names
    missing = [
        f"{module}.{name}"
        for module, name in names
        if not hasattr(importlib.import_module(module), name)
    ]
    assert not missing, f"the README imports names leadflow does not have: {missing}"
