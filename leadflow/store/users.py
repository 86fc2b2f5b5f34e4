"""Team members and the designations they can fill on leads."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from leadflow.engine.state import Member
from leadflow.store.access_tables import User, WorkspaceSession


class NotAMember(ValueError):
    """The user cannot fill the designation: unknown, or not designated for it."""


async def save_user(
    engine: AsyncEngine,
    account_id: str,
    user_id: str,
    name: str,
    phone: str | None,
    email: str | None,
    designations: list[str],
    role: str = "agent",
) -> None:
    """Add or change the user; a change of role signs them out everywhere."""
    values = {
        "name": name,
        "phone": phone,
        "email": email,
        "designations": designations,
        "role": role,
    }
    async with engine.begin() as conn:
        before = await role_of(conn, account_id, user_id)
        await conn.execute(
            insert(User)
            .values(account_id=account_id, id=user_id, **values)
            .on_conflict_do_update(index_elements=[User.account_id, User.id], set_=values)
        )
        if before is not None and before != role:
            await _end_sessions(conn, account_id, user_id)


async def role_of(conn: AsyncConnection, account_id: str, user_id: str) -> str | None:
    """The user's role; None if the account has no such user."""
    query = select(User.role).where(User.account_id == account_id, User.id == user_id)
    found: str | None = (await conn.execute(query)).scalar_one_or_none()
    return found


async def set_password(engine: AsyncEngine, account_id: str, user_id: str, hashed: str) -> bool:
    """Keep the user's new password hash and sign them out everywhere; False if no such
    user."""
    async with engine.begin() as conn:
        changed = await conn.execute(
            update(User)
            .where(User.account_id == account_id, User.id == user_id)
            .values(password_hash=hashed)
        )
        await _end_sessions(conn, account_id, user_id)
    return bool(changed.rowcount)


async def _end_sessions(conn: AsyncConnection, account_id: str, user_id: str) -> None:
    await conn.execute(
        delete(WorkspaceSession).where(
            WorkspaceSession.account_id == account_id, WorkspaceSession.user_id == user_id
        )
    )


async def user_of(engine: AsyncEngine, account_id: str, user_id: str) -> User | None:
    query = select(User.__table__).where(User.account_id == account_id, User.id == user_id)
    async with engine.connect() as conn:
        row = (await conn.execute(query)).one_or_none()
    return None if row is None else User(**row._mapping)


async def list_users(
    engine: AsyncEngine, account_id: str, *, after: str | None = None, limit: int = 100
) -> list[User]:
    query = select(User.__table__).where(User.account_id == account_id)
    if after is not None:
        query = query.where(User.id > after)
    async with engine.connect() as conn:
        rows = (await conn.execute(query.order_by(User.id).limit(limit))).all()
    return [User(**row._mapping) for row in rows]


async def member_for(
    engine: AsyncEngine, account_id: str, user_id: str, designation: str
) -> Member:
    """The user as a lead's member for `designation`; NotAMember if they cannot fill it."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(User.__table__).where(User.account_id == account_id, User.id == user_id)
            )
        ).one_or_none()
    if row is None:
        raise NotAMember(f"unknown user {user_id!r}; add them with PUT /v1/users/{user_id}")
    if designation not in row.designations:
        raise NotAMember(
            f"user {user_id!r} is not designated {designation!r} "
            f"(has {', '.join(row.designations) or 'none'})",
        )
    return Member(id=row.id, name=row.name, phone=row.phone, email=row.email)
