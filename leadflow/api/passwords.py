"""Workspace passwords, hashed with argon2id (argon2-cffi's defaults, RFC 9106's second
recommended profile), checked off the event loop: a hash costs tens of milliseconds of CPU
on purpose."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH, MAX_LENGTH = 12, 256
_HASHER = PasswordHasher()
# Checked when the user is unknown or has no password, so a wrong user id costs as long to
# refuse as a wrong password: the answer's time does not say which users exist.
_DECOY = _HASHER.hash("leadflow-decoy-password")


class WeakPassword(ValueError):
    pass


def check_strength(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"a password has at most {MAX_LENGTH} characters")
    if not password.strip():
        raise WeakPassword("a password cannot be only spaces")
    return password


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_HASHER.hash, check_strength(password))


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored or _DECOY, password[:MAX_LENGTH]) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(stored: str | None, password: str) -> bool:
    """Whether `password` matches the stored hash (False when there is none, after as
    long a check as a real one)."""
    return await asyncio.to_thread(_verify, stored, password)
