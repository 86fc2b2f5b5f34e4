"""Every payload leadflow hands Temporal is compressed, then sealed with AES-256-GCM.

Workflow and activity inputs and results, signals, updates, queries, the memo and failure
details all pass through `EncryptionCodec`, so Temporal's history, its database and its
backups hold no names, phones, emails or message bodies. Two kinds stay as they are: a
None, which has no data, and a `Public` message (a send's key and provider id, a lead's
snapshot of statuses and times), which the payload converter marks `json/public` and the
codec hands every reader back as plain JSON. Search attributes are indexed by the server
in plain text and never pass through a codec: they carry ids and statuses only.

With `REQUIRE_SEALED_PAYLOADS` (the worker's default), a worker's codec hands on nothing
it did not open with its keys: a payload that was never sealed, or does not open under the
key it names, becomes a `binary/unsealed` payload (its content dropped), which no converter
turns into a value. Anyone who reaches Temporal could otherwise signal `opt_in`, change a
milestone or start a lead in the clear: such a signal is dropped, an update rejected, a
start fails its workflow task (the SDK's answer to arguments that do not convert), and the
lead goes on. A `Public` message is left unsealed but marked, so the converter takes it
only as a `Public` type, never as a signal's or an update's argument. Histories recorded
before encryption hold unsealed payloads: turn the setting off while such runs remain.

Each sealed payload names the key that sealed it. `ENCRYPTION_KEYS` lists the keys, the one
new payloads use first; older keys stay listed for as long as histories sealed with them
may be read, so keys rotate without stopping a lead. Payloads written before encryption
(recorded histories, leads started before it was turned on) pass through unchanged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from leadflow.errors import ConfigError
from leadflow.playbook.schema import Playbook
from leadflow.playbook.shelf import SHELF, digest
from leadflow.store.key_checks import add_checks, sealed_checks

SETTING = "ENCRYPTION_KEYS"
ENCODING = b"binary/encrypted"
NULL = b"binary/null"  # the encoding of None: no data, left as it is
PUBLIC = b"json/public"  # JSON of a value with nothing personal in it: left unsealed
PLAIN = b"json/plain"
UNSEALED = b"binary/unsealed"  # what a worker that requires sealing makes of anything else
WAS_PUBLIC = "leadflow-public"  # on an opened `json/public`: takes only a `Public` type
KEY_ID = "encryption-key-id"
COMPRESSED = "compression"  # in the first format: b"zlib" when compressed before sealing
_RAW, _ZLIB = b"\x00", b"\x01"  # the first sealed byte: how the rest was packed
PLAYBOOK = "leadflow-playbook"  # on a payload whose value names a playbook: its digest
NONCE_BYTES = 12
KEY_BYTES = 32


class UnknownKey(ValueError):
    """A payload sealed with a key this process was not given."""


class Forged(UnknownKey):
    """A payload that names a listed key but does not open with it: the key under each id is
    checked at start (`check_keys`), so it was not sealed by this deployment."""


@dataclass(frozen=True)
class Keyring:
    """The encryption keys by id; `current` seals new payloads, every key opens old ones."""

    keys: dict[str, bytes]
    current: str
    _ciphers: dict[str, AESGCM] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def parse(cls, text: str | None) -> Keyring:
        """Read `id:base64-key,id:base64-key,...` (the current key first)."""
        if not text or not text.strip():
            raise ConfigError(
                f"{SETTING}: not set; make a key with `leadflow new-key` and set "
                f"{SETTING}=<id>:<key>"
            )
        keys: dict[str, bytes] = {}
        for item in text.split(","):
            key_id, sep, encoded = item.strip().partition(":")
            if not sep or not key_id or not encoded:
                raise ConfigError(f"{SETTING}: expected <id>:<base64 key>, got {item.strip()!r}")
            try:
                key = base64.b64decode(encoded, validate=True)
            except binascii.Error:
                raise ConfigError(f"{SETTING}: key {key_id!r} is not base64") from None
            if len(key) != KEY_BYTES:
                raise ConfigError(
                    f"{SETTING}: key {key_id!r} is {len(key)} bytes; AES-256 needs {KEY_BYTES}"
                )
            if key_id in keys:
                raise ConfigError(f"{SETTING}: key id {key_id!r} is listed twice")
            keys[key_id] = key
        return cls(keys=keys, current=next(iter(keys)))

    def derived(self, purpose: str) -> bytes:
        """A secret for another use (signing the workspace's session cookies), derived from
        the current key: rotating the key renews it."""
        return hmac.new(self.keys[self.current], purpose.encode(), hashlib.sha256).digest()

    def cipher(self, key_id: str) -> AESGCM:
        found = self._ciphers.get(key_id)
        if found is None:
            key = self.keys.get(key_id)
            if key is None:
                raise UnknownKey(
                    f"payload sealed with key {key_id!r}, which {SETTING} does not list "
                    f"(it lists {', '.join(self.keys)})"
                )
            found = self._ciphers[key_id] = AESGCM(key)
        return found


CHECK = b"leadflow encryption key check"


async def check_keys(engine: AsyncEngine, keyring: Keyring) -> None:
    """Stop a process whose key under some id is not the key first used under that id: it
    would write payloads no other process can open. A new id is recorded for next time."""
    codec = EncryptionCodec(keyring)
    found = await sealed_checks(engine, list(keyring.keys))
    for key_id, sealed in found.items():
        try:
            opened = codec.open(Payload.FromString(sealed))
        except UnknownKey:
            opened = None
        if opened is None or opened.data != CHECK:
            raise ConfigError(
                f"{SETTING}: key {key_id!r} is not the key this deployment first used under "
                "that id; restore it, or add the new key under a new id"
            )
    await add_checks(
        engine,
        {
            key_id: EncryptionCodec(Keyring(keys={key_id: key}, current=key_id))
            .seal(Payload(data=CHECK))
            .SerializeToString()
            for key_id, key in keyring.keys.items()
            if key_id not in found
        },
    )


def new_key(key_id: str | None = None) -> str:
    """A fresh `<id>:<base64 key>` entry for `ENCRYPTION_KEYS`."""
    key_id = key_id or f"k{secrets.token_hex(3)}"
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"


class EncryptionCodec(PayloadCodec):
    """Compress (when that makes it smaller), then seal with the current key."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.seal(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.open(p) for p in payloads]

    def seal(self, payload: Payload) -> Payload:
        encoding = payload.metadata.get("encoding")
        if encoding == PUBLIC or (encoding == NULL and not payload.data):
            return payload  # nothing personal, or nothing: sealing would cost ~110 bytes
        plain = payload.SerializeToString()
        packed = zlib.compress(plain, 6)
        # One byte ahead of the sealed bytes says how they were packed: metadata is written
        # in the clear on every payload of every history, so it stays to the two keys needed.
        body = _ZLIB + packed if len(packed) + 1 < len(plain) else _RAW + plain
        key_id = self.keyring.current
        nonce = os.urandom(NONCE_BYTES)
        sealed = self.keyring.cipher(key_id).encrypt(nonce, body, key_id.encode())
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID: key_id.encode()}, data=nonce + sealed
        )

    def open(self, payload: Payload) -> Payload:
        encoding = payload.metadata.get("encoding")
        if encoding == PUBLIC:  # plain JSON to every reader (the converters, the Web UI)
            opened = Payload()
            opened.CopyFrom(payload)
            opened.metadata["encoding"] = PLAIN
            opened.metadata[WAS_PUBLIC] = b"1"
            return opened
        if encoding != ENCODING:
            return payload  # written before encryption was on
        key_id = payload.metadata.get(KEY_ID, b"").decode()
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plain = self.keyring.cipher(key_id).decrypt(nonce, sealed, key_id.encode())
        except InvalidTag:
            raise Forged(
                f"payload sealed with key {key_id!r} does not open with the key {SETTING} "
                "gives that id: the key is wrong"
            ) from None
        if "encryption-cipher" in payload.metadata:  # the first format: packing in metadata
            if payload.metadata.get(COMPRESSED) == b"zlib":
                plain = zlib.decompress(plain)
        else:
            flag, plain = plain[:1], plain[1:]
            if flag == _ZLIB:
                plain = zlib.decompress(plain)
        return Payload.FromString(plain)


PlaybookLoader = Callable[[str], Awaitable[Playbook | None]]
"""Finds the playbook with a digest (PostgreSQL, a folder of playbook files), or None."""


class LeadflowCodec(PayloadCodec):
    """Seal on the way out; on the way in, open, then shelve the playbook a payload names
    (see `leadflow.playbook.shelf`) so the workflow finds it without I/O."""

    def __init__(
        self,
        keyring: Keyring,
        loaders: Sequence[PlaybookLoader] = (),
        *,
        require_sealed: bool = False,
    ) -> None:
        self.encryption = EncryptionCodec(keyring)
        self.loaders = list(loaders)
        self.require_sealed = require_sealed

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encryption.seal(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        opened = [self._open(p) for p in payloads]
        for payload in opened:
            if key := payload.metadata.get(PLAYBOOK):
                await self._shelve(key.decode())
        return opened

    def _open(self, payload: Payload) -> Payload:
        if not self.require_sealed:
            return self.encryption.open(payload)
        encoding = payload.metadata.get("encoding")
        if encoding == NULL and not payload.data:
            return payload
        if encoding in (ENCODING, PUBLIC):
            try:
                return self.encryption.open(payload)
            except Forged:
                pass
        return Payload(metadata={"encoding": UNSEALED})

    async def _shelve(self, key: str) -> None:
        if SHELF.get(key) is not None:
            return
        for load in self.loaders:
            book = await load(key)
            if book is not None and digest(book) == key:
                SHELF.put(book, key)
                return
        # Not found: the workflow says so when it takes the playbook (a failed task that
        # retries, so storing the playbook lets the lead go on).
