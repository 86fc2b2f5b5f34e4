"""Playbooks by reference: a lead's workflow carries which playbook (name, version, digest),
never the playbook itself, and every lead on one version reads one shared copy.

A digest is the SHA-256 of the playbook's canonical JSON, so it names exactly one content:
a workflow that reads its playbook from the shelf by digest reads the same playbook on
every replay, on any worker. Before a workflow task runs, the worker's codec puts the
playbook its input names on the shelf (from memory, PostgreSQL or the playbook files);
the workflow then takes it from here without I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from threading import Lock
from typing import Annotated

from pydantic import StringConstraints

from leadflow.models import Message
from leadflow.playbook.schema import Playbook

Digest = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
KEPT = 256  # playbook versions one process holds; a lead only needs its own at start


class PlaybookRef(Message):
    """Which playbook a lead runs: its name and version as people read them, and the digest
    that names its content."""

    name: str
    version: int
    digest: Digest


class PlaybookMissing(LookupError):
    """No playbook with that digest is on the shelf."""


def digest(book: Playbook) -> str:
    body = json.dumps(book.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


class Shelf:
    """The playbooks this process holds, by digest; the least recently used go first."""

    def __init__(self, kept: int = KEPT) -> None:
        self.kept = kept
        self._books: OrderedDict[str, Playbook] = OrderedDict()
        # The digest of each book held, by its identity: a client starting many leads on one
        # playbook object hashes it once. A held book stays alive, so its id stays its own.
        self._digests: dict[int, str] = {}
        self._lock = Lock()  # the codec and workflow threads both reach it

    def put(self, book: Playbook, known: str | None = None) -> PlaybookRef:
        """Hold `book` and return its reference (`known`: its digest, already computed)."""
        with self._lock:
            key = known or self._digests.get(id(book))
        key = key or digest(book)
        with self._lock:
            held = self._books.get(key)
            if held is not book:
                if held is not None:
                    self._digests.pop(id(held), None)
                self._books[key] = book
                self._digests[id(book)] = key
            self._books.move_to_end(key)
            while len(self._books) > self.kept:
                _, gone = self._books.popitem(last=False)
                self._digests.pop(id(gone), None)
        return PlaybookRef(name=book.name, version=book.version, digest=key)

    def get(self, key: str) -> Playbook | None:
        with self._lock:
            book = self._books.get(key)
            if book is not None:
                self._books.move_to_end(key)
            return book

    def forget(self, key: str) -> None:
        """Let the playbook go (the next workflow that names it loads it again)."""
        with self._lock:
            gone = self._books.pop(key, None)
            if gone is not None:
                self._digests.pop(id(gone), None)

    def held(self) -> dict[str, Playbook]:
        """Every playbook held now, by digest."""
        with self._lock:
            return dict(self._books)

    def take(self, ref: PlaybookRef) -> Playbook:
        book = self.get(ref.digest)
        if book is None:
            raise PlaybookMissing(
                f"playbook {ref.name!r} version {ref.version} ({ref.digest[:12]}) is on no "
                "shelf: store it (leadflow account --playbook FILE) or ship it in the "
                "playbooks folder the worker reads"
            )
        return book


SHELF = Shelf()
"""The process's one shelf: clients put what they start leads on, the worker's codec puts
what it resolves, and workflows take from it."""
