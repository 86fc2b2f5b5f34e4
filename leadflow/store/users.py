"""Team members and the designations they can fill on leads."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.engine.state import Member
from leadflow.store.tables import Account, ApiKey, User


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
) -> None:
    values = {"name": name, "phone": phone, "email": email, "designations": designations}
    async with engine.begin() as conn:
        await conn.execute(
            insert(User)
            .values(account_id=account_id, id=user_id, **values)
            .on_conflict_do_update(index_elements=[User.account_id, User.id], set_=values)
        )


async def list_users(
    engine: AsyncEngine, account_id: str, *, after: str | None = None, limit: int = 100
) -> list[User]:
    query = select(User.__table__).where(User.account_id == account_id)
    if after is not None:
        query = query.where(User.id > after)
    async with engine.connect() as conn:
        rows = (await conn.execute(query.order_by(User.id).limit(limit))).all()
    return [User(**row._mapping) for row in rows]


async def agent_of_key(
    engine: AsyncEngine, key_digest: str, user_id: str
) -> tuple[Account, User] | None:
    """The account of a live (unrevoked) key and its user with this id, in one query; None
    if the key is revoked or unknown, or the account has no such user."""
    query = (
        select(
            User.__table__,
            Account.name.label("account_name"),
            Account.playbook.label("account_playbook"),
        )
        .join(ApiKey, ApiKey.account_id == Account.id)
        .join(User, User.account_id == Account.id)
        .where(ApiKey.digest == key_digest, ApiKey.revoked_at.is_(None), User.id == user_id)
    )
    async with engine.connect() as conn:
        row = (await conn.execute(query)).one_or_none()
    if row is None:
        return None
    account = Account(id=row.account_id, name=row.account_name, playbook=row.account_playbook)
    user = User(**{c.name: row._mapping[c] for c in User.__table__.columns})
    return account, user


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
