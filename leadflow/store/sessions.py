"""Workspace sessions on the server, and the count of failed sign-ins that throttles them.

The browser's cookie holds a random token; only its SHA-256 digest is kept here, so the
table cannot be replayed as cookies. A session ends when it expires, when its agent signs
out, and when their password or role changes or they are removed (the row goes with them).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.store.access_tables import User, WorkspaceSession
from leadflow.store.accounts import digest
from leadflow.store.tables import Account


@dataclass(frozen=True)
class SessionAgent:
    account_id: str
    playbook: str  # the account's preset, when it has no stored version
    user_id: str
    name: str
    role: str
    time_zone: str
    csrf: str


async def open_session(
    engine: AsyncEngine, account_id: str, user_id: str, time_zone: str, lasts: timedelta
) -> str:
    """A new session for the user; returns the token for the cookie (the only copy)."""
    token = secrets.token_urlsafe(32)
    async with engine.begin() as conn:
        await conn.execute(
            insert(WorkspaceSession).values(
                digest=digest(token),
                account_id=account_id,
                user_id=user_id,
                csrf=secrets.token_urlsafe(32),
                time_zone=time_zone,
                expires_at=text(f"now() + interval '{int(lasts.total_seconds())} seconds'"),
            )
        )
    return token


async def session_agent(engine: AsyncEngine, token: str) -> SessionAgent | None:
    """The agent a live session belongs to, with their current name and role."""
    query = (
        select(
            WorkspaceSession.account_id,
            Account.playbook,
            WorkspaceSession.user_id,
            User.name,
            User.role,
            WorkspaceSession.time_zone,
            WorkspaceSession.csrf,
        )
        .join(User, (User.account_id == WorkspaceSession.account_id))
        .join(Account, Account.id == WorkspaceSession.account_id)
        .where(User.id == WorkspaceSession.user_id)
        .where(WorkspaceSession.digest == digest(token))
        .where(WorkspaceSession.expires_at > text("now()"))
    )
    async with engine.connect() as conn:
        row = (await conn.execute(query)).one_or_none()
    return None if row is None else SessionAgent(*row)


async def end_session(engine: AsyncEngine, token: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(delete(WorkspaceSession).where(WorkspaceSession.digest == digest(token)))


# ---- failed sign-ins ------------------------------------------------------------------------

_COUNT = text(
    """
    SELECT coalesce(max(failures), 0) FROM sign_in_failures
    WHERE subject = ANY(:subjects) AND window_start > now() - make_interval(secs => :window)
    """
)
_FAILED = text(
    """
    INSERT INTO sign_in_failures AS f (subject, failures, window_start)
    SELECT s, 1, now() FROM unnest(CAST(:subjects AS text[])) AS s
    ON CONFLICT (subject) DO UPDATE SET
        failures = CASE WHEN f.window_start > now() - make_interval(secs => :window)
                        THEN f.failures + 1 ELSE 1 END,
        window_start = CASE WHEN f.window_start > now() - make_interval(secs => :window)
                            THEN f.window_start ELSE now() END
    """
)


async def recent_failures(engine: AsyncEngine, limits: dict[str, int], window: timedelta) -> bool:
    """Whether any subject has reached its limit of failed sign-ins within the window."""
    async with engine.connect() as conn:
        for subject, limit in limits.items():
            found = (
                await conn.execute(
                    _COUNT, {"subjects": [subject], "window": window.total_seconds()}
                )
            ).scalar_one()
            if found >= limit:
                return True
    return False


async def sign_in_failed(engine: AsyncEngine, subjects: list[str], window: timedelta) -> None:
    async with engine.begin() as conn:
        await conn.execute(_FAILED, {"subjects": subjects, "window": window.total_seconds()})


async def sign_in_succeeded(engine: AsyncEngine, subject: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM sign_in_failures WHERE subject = :s"), {"s": subject})
