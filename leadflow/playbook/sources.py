"""Where a lead's playbook comes from by name, when the caller does not hand one over.

The API hands over each account's current stored version; a source is for callers that
work from files on purpose (`simulate`, tests, benchmarks), and is always given explicitly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from leadflow.playbook.load import PlaybookError, load_playbook
from leadflow.playbook.schema import Playbook
from leadflow.playbook.shelf import digest


class UnknownPlaybook(PlaybookError):
    """No playbook of that name in the source."""


class PlaybookSource(Protocol):
    def get(self, name: str | None) -> Playbook:
        """The playbook called `name` (None: the source's default). Raises `UnknownPlaybook`
        for a name it does not have, `PlaybookError` for one that does not load."""
        ...


class PlaybookFolder:
    """A folder of `<name>.yaml` playbook files, each loaded once."""

    def __init__(self, folder: Path, default: str = "isa") -> None:
        self.folder = folder
        self.default = default
        self._loaded: dict[str, Playbook] = {}
        self._digests: dict[str, Playbook] | None = None

    def get(self, name: str | None) -> Playbook:
        name = name or self.default
        if name not in self._loaded:
            file = self.folder / f"{name}.yaml"
            if not file.exists():
                known = ", ".join(sorted(p.stem for p in self.folder.glob("*.yaml")))
                raise UnknownPlaybook(
                    name, [("(name)", f"unknown playbook {name!r}; have {known}")]
                )
            self._loaded[name] = load_playbook(file)
        return self._loaded[name]

    async def by_digest(self, key: str) -> Playbook | None:
        """The folder's playbook whose content has this digest (a worker's loader)."""
        if self._digests is None or key not in self._digests:
            found: dict[str, Playbook] = {}
            for file in sorted(self.folder.glob("*.yaml")):
                try:
                    book = self.get(file.stem)
                except PlaybookError:
                    continue  # `leadflow playbook check` reports it; no lead can run on it
                found[digest(book)] = book
            self._digests = found
        return self._digests.get(key)
