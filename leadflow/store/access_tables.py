"""The tables of access: who may act for an account (its keys, its users and their sessions,
failed sign-ins) and the sending numbers it holds. Beside `tables`, on the same metadata."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, ForeignKeyConstraint, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from leadflow.store.tables import Base, _now


class ApiKey(Base):
    """Keys are stored as SHA-256 digests; the key itself is shown once, when made. A key
    acts with its role's scopes, until it expires or is revoked."""

    __tablename__ = "api_keys"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The key's public name in lists and commands (never enough to use it).
    id: Mapped[str] = mapped_column(String(32), unique=True)
    account_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20), server_default="admin")
    created_at: Mapped[datetime] = _now()
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class User(Base):
    """A team member, with the designations they can fill on leads."""

    __tablename__ = "users"

    account_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(320))
    designations: Mapped[list[str]] = mapped_column(JSONB, default=list)
    role: Mapped[str] = mapped_column(String(20), server_default="agent")
    # argon2id; NULL: the user cannot sign in to the workspace until one is set.
    password_hash: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()


class WorkspaceSession(Base):
    """A signed-in agent: the cookie holds a random token, this row its digest."""

    __tablename__ = "sessions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["account_id", "user_id"], ["users.account_id", "users.id"], ondelete="CASCADE"
        ),
        Index("ix_sessions_user", "account_id", "user_id"),
    )

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(128))
    csrf: Mapped[str] = mapped_column(String(64))
    time_zone: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SignInFailure(Base):
    """Failed sign-ins per subject (a user, an address) in the current window."""

    __tablename__ = "sign_in_failures"

    subject: Mapped[str] = mapped_column(String(400), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Sender(Base):
    """A sending number or email address, and the one account the operator lets use it."""

    __tablename__ = "senders"

    channel: Mapped[str] = mapped_column(String(10), primary_key=True)
    address: Mapped[str] = mapped_column(String(320), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = _now()
