"""Loading playbook files: YAML, then schema, then cross-references and templates.

Every problem is reported as `FILE: PATH: what is wrong`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from leadflow.paths import shipped
from leadflow.playbook.check import Problem, problems
from leadflow.playbook.schema import Playbook

DEFAULTS = ("mortgage", "insurance", "isa", "callback-periods", "leads-queue")
MAX_BYTES = 512 * 1024  # a playbook file (the shipped ones are under 20 KiB)


class PlaybookError(ValueError):
    def __init__(self, source: str, found: list[Problem]) -> None:
        self.source = source
        self.problems = found
        super().__init__("\n".join(f"{source}: {path}: {message}" for path, message in found))


def _path(location: tuple[int | str, ...]) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _too_big(size: int) -> str:
    return f"is {size / 1024:,.0f} KiB; a playbook may be at most {MAX_BYTES // 1024} KiB"


def _yaml_problem(exc: yaml.YAMLError, text: str) -> Problem:
    """Where the YAML broke and why, on one line (PyYAML's own message spans several)."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        what = "; ".join(part for part in (exc.context, exc.problem) if part)
        return f"line {mark.line + 1}", f"not valid YAML: {what} (column {mark.column + 1})"
    if isinstance(exc, yaml.reader.ReaderError) and isinstance(exc.character, str):
        line = text.count("\n", 0, exc.position) + 1
        return (
            f"line {line}",
            f"not valid YAML: character U+{ord(exc.character):04X} is not allowed",
        )
    return "(yaml)", "not valid YAML: " + " ".join(str(exc).split())


class DuplicateKey(ValueError):
    """A mapping that names a key twice: YAML would keep the last in silence."""

    def __init__(self, line: int, key: object) -> None:
        self.line = line
        self.key = key
        super().__init__(f"duplicate key {key!r}")


class _UniqueKeys(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` may be overridden
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                fresh = key not in seen
                seen.add(key)
            except TypeError:  # an unhashable key: the constructor says so
                continue
            if not fresh:
                raise DuplicateKey(key_node.start_mark.line + 1, key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(text: str) -> Any:
    """`yaml.safe_load`, refusing a key given twice in one mapping (`DuplicateKey`)."""
    return yaml.load(text, Loader=_UniqueKeys)


def parse_playbook(text: str, source: str = "<playbook>") -> Playbook:
    if (size := len(text.encode())) > MAX_BYTES:
        raise PlaybookError(source, [("(file)", _too_big(size))])
    try:
        data = read_yaml(text)
    except DuplicateKey as exc:
        raise PlaybookError(source, [(f"line {exc.line}", str(exc))]) from None
    except yaml.YAMLError as exc:
        raise PlaybookError(source, [_yaml_problem(exc, text)]) from None
    except RecursionError:
        raise PlaybookError(source, [("(yaml)", "nested too deeply to be a playbook")]) from None
    if not isinstance(data, dict):
        raise PlaybookError(source, [("(top level)", "expected a mapping of playbook fields")])
    try:
        book = Playbook.model_validate(data)
    except ValidationError as exc:
        found = [
            (_path(error["loc"]), str(error["msg"]).removeprefix("Value error, "))
            for error in exc.errors()
        ]
        raise PlaybookError(source, found) from None
    found = problems(book)
    if found:
        raise PlaybookError(source, found)
    return book


def load_playbook(path: str | Path) -> Playbook:
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > MAX_BYTES:  # refused before it is read
            raise PlaybookError(str(path), [("(file)", _too_big(size))])
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlaybookError(str(path), [("(file)", f"cannot read: {exc.strerror}")]) from None
    except UnicodeDecodeError as exc:
        where = f"byte {exc.start}"
        raise PlaybookError(str(path), [("(file)", f"not UTF-8 text ({where})")]) from None
    return parse_playbook(text, str(path))


def default_playbook(name: str) -> Playbook:
    if name not in DEFAULTS:
        raise PlaybookError(name, [("(name)", f"no default playbook {name!r}; have {DEFAULTS}")])
    return load_playbook(shipped("playbooks") / f"{name}.yaml")
