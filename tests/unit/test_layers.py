"""leadflow's imports run one way down, in no circle, and no module grows past a screenful.

Every `import` and `from ... import` counts, wherever it sits: at the top, inside a
function, under `TYPE_CHECKING`, or in a `workflow.unsafe.imports_passed_through()` block.
A lazy import still ties the importer to what it imports.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "leadflow"
ROOT = PACKAGE.parent
MAX_LINES = 400

# Top to bottom: a module may import from its own layer or a lower one, never a higher one.
LAYERS: list[tuple[str, ...]] = [
    ("leadflow.cli", "leadflow.__main__"),
    ("leadflow.api",),
    ("leadflow.client", "leadflow.migration", "leadflow.deploy"),
    ("leadflow.worker",),
    ("leadflow.temporal", "leadflow.config", "leadflow.codec", "leadflow.tracing"),
    ("leadflow.workflows",),
    ("leadflow.activities", "leadflow.metrics"),
    ("leadflow.store", "leadflow.providers"),
    ("leadflow.engine",),
    ("leadflow.playbook",),
    ("leadflow.models", "leadflow.errors", "leadflow.paths", "leadflow.logs"),
]
PACKAGE_INIT = "leadflow"  # the package's own __init__: the bottom, like errors and paths


@dataclass(frozen=True)
class Import:
    importer: str  # a module's dotted name
    file: Path
    line: int
    target: str  # the leadflow module it reaches


def module_name(file: Path) -> str:
    parts = list(file.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(f): f for f in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int | None:
    """The index of the layer a module belongs to (its longest matching prefix)."""
    if module == PACKAGE_INIT:
        return len(LAYERS) - 1
    best: tuple[int, int] | None = None  # (prefix length, layer)
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            matches = module == prefix or module.startswith(prefix + ".")
            if matches and (best is None or len(prefix) > best[0]):
                best = (len(prefix), index)
    return None if best is None else best[1]


def layer_name(index: int) -> str:
    return f"layer {index + 1} ({', '.join(p.removeprefix('leadflow.') for p in LAYERS[index])})"


def _resolve(name: str) -> str | None:
    """The most specific leadflow module `name` denotes (a module, or the package of a name)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str, file: Path) -> list[Import]:
    tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
    package = module if file.name == "__init__.py" else module.rpartition(".")[0]
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            names = [f"{source}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name == "leadflow" or name.startswith("leadflow."):
                target = _resolve(name)
                if target is not None and target != module:
                    found.append(Import(module, file, node.lineno, target))
    return found


ALL_IMPORTS = [i for module, file in MODULES.items() for i in imports_of(module, file)]


def where(item: Import) -> str:
    return f"{item.file.relative_to(ROOT)}:{item.line}"


def test_every_module_belongs_to_a_layer() -> None:
    unplaced = [m for m in MODULES if layer_of(m) is None]
    assert not unplaced, f"modules in no layer (add them to LAYERS): {unplaced}"


def test_nothing_imports_upward() -> None:
    upward = []
    for item in ALL_IMPORTS:
        mine, theirs = layer_of(item.importer), layer_of(item.target)
        if mine is not None and theirs is not None and theirs < mine:
            upward.append(
                f"{where(item)}: {item.importer} in {layer_name(mine)} imports "
                f"{item.target} from {layer_name(theirs)}, a higher layer"
            )
    assert not upward, "imports that run upward:\n" + "\n".join(upward)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    edges: dict[str, set[str]] = {}
    lines: dict[tuple[str, str], Import] = {}
    for item in ALL_IMPORTS:
        edges.setdefault(item.importer, set()).add(item.target)
        lines.setdefault((item.importer, item.target), item)
    problems = []
    for component in _cycles(edges):
        members = set(component)
        ties = [
            f"  {where(item)}: {item.importer} imports {item.target}"
            for (importer, target), item in sorted(lines.items())
            if importer in members and target in members
        ]
        problems.append(f"{' <-> '.join(component)}:\n" + "\n".join(ties))
    assert not problems, "modules that import each other in a circle:\n" + "\n".join(problems)


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(file.relative_to(ROOT)): count
        for file in MODULES.values()
        if (count := len(file.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines (split them by concept): {long}"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from leadflow.engine import localtime", "leadflow.engine.localtime"),
        ("from leadflow.engine.localtime import at_local", "leadflow.engine.localtime"),
        ("import leadflow.engine.localtime as localtime", "leadflow.engine.localtime"),
        ("from ..engine import localtime", "leadflow.engine.localtime"),
        ("from . import localtime", "leadflow.engine.localtime"),
    ],
)
def test_the_walk_resolves_every_form_of_import(tmp_path: Path, source: str, expected: str) -> None:
    body = f"def later() -> None:\n    with passed_through():\n        {source}\n"
    parsed = tmp_path / "example.py"
    parsed.write_text(body)
    found = imports_of("leadflow.engine.example", parsed)
    assert [(i.target, i.line) for i in found] == [(expected, 3)]


def test_an_upward_import_is_named_with_its_file_line_and_layers() -> None:
    assert layer_of("leadflow.engine.rules") == 8 and layer_of("leadflow.api.routes.leads") == 1
    assert layer_name(4) == "layer 5 (temporal, config, codec, tracing)"
    assert layer_of("leadflow.enginery") is None


def test_the_cycle_check_finds_a_circle_and_nothing_else() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(edges) == [["a", "b", "c"]]
