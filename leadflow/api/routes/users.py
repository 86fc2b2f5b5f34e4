"""The account's team: users and the designations they can fill on leads."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from leadflow.api.deps import Authenticated, Book, Database, known
from leadflow.api.errors import error_responses
from leadflow.api.schemas import Page, UserIn, UserOut
from leadflow.engine.refs import IDENTIFIER, Identifier
from leadflow.store.users import list_users, save_user

router = APIRouter(
    prefix="/v1/users", tags=["team"], responses=error_responses(400, 401, 413, 422, 503)
)


@router.put("/{user_id}", response_model=UserOut)
async def put_user(
    user_id: Identifier, body: UserIn, caller: Authenticated, database: Database, book: Book
) -> UserOut:
    known(body.designations, book.designations, "designation")
    await save_user(
        database,
        caller.account_id,
        user_id,
        body.name,
        body.phone,
        body.email,
        body.designations,
    )
    return UserOut(id=user_id, **body.model_dump())


@router.get("", response_model=Page[UserOut])
async def get_users(
    caller: Authenticated,
    database: Database,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[
        str | None, Query(pattern=IDENTIFIER, description="next_cursor of the page before")
    ] = None,
) -> Page[UserOut]:
    users = await list_users(database, caller.account_id, after=cursor, limit=limit + 1)
    items = [
        UserOut(id=u.id, name=u.name, phone=u.phone, email=u.email, designations=u.designations)
        for u in users[:limit]
    ]
    more = len(users) > limit
    return Page(items=items, next_cursor=items[-1].id if more and items else None)
