"""The docs stay true: the tests docs/behaviours.md cites exist, and the README's Python
example imports only names leadflow has."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

from leadflow.api.app import create_app
from leadflow.client import LeadflowClient
from leadflow.codec import new_key
from leadflow.config import Settings

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


def test_the_readme_python_example_runs_as_a_file_and_calls_what_exists() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert blocks, "the README has a Python example"
    trees = [ast.parse(block) for block in blocks]  # a file as it stands: no top-level await
    for block in blocks:
        compile(block, "README.md", "exec")
    names = [
        (node.module, alias.name)
        for tree in trees
        for node in ast.walk(tree)
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
    called = {
        node.func.attr
        for tree in trees
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "leads"
    }
    assert called, "the example calls the client"
    unknown = sorted(name for name in called if not hasattr(LeadflowClient, name))
    assert not unknown, f"the README calls client methods that do not exist: {unknown}"


def test_the_docs_cite_only_endpoints_the_api_has() -> None:
    settings = Settings(
        database_url="postgresql://u@h/db", temporal_address="h:7233", encryption_keys=new_key("k")
    )
    shape = re.compile(r"\{[^}]*\}")  # the docs may name a path parameter otherwise
    paths = {shape.sub("{}", path) for path in create_app(settings).openapi()["paths"]}
    cited = {
        (doc, path)
        for doc in ("README.md", "docs/ARCHITECTURE.md")
        for path in re.findall(
            r"\b(?:GET|PUT|POST|DELETE|PATCH) (/v1/[\w{}/.-]+)", (ROOT / doc).read_text()
        )
    }
    assert cited
    unknown = sorted((doc, path) for doc, path in cited if shape.sub("{}", path) not in paths)
    assert not unknown, f"the docs cite endpoints the API does not have: {unknown}"
