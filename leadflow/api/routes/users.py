"""The account's team: users and the designations they can fill on leads (M8)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from leadflow.api.auth import Authenticated
from leadflow.api.routes.leads import Book, _known
from leadflow.api.schemas import Page, UserIn, UserOut
from leadflow.store.users import list_users, save_user
from leadflow.workflows.messages import Identifier

router = APIRouter(prefix="/v1/users", tags=["team"])


@router.put("/{user_id}", response_model=UserOut)
async def put_user(
    user_id: Identifier, body: UserIn, request: Request, caller: Authenticated, book: Book
) -> UserOut:
    _known(body.designations, book.designations, "designation")
    await save_user(
        request.app.state.services.engine,
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
    request: Request,
    caller: Authenticated,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> Page[UserOut]:
    users = await list_users(
        request.app.state.services.engine, caller.account_id, after=cursor, limit=limit + 1
    )
    items = [
        UserOut(id=u.id, name=u.name, phone=u.phone, email=u.email, designations=u.designations)
        for u in users[:limit]
    ]
    more = len(users) > limit
    return Page(items=items, next_cursor=items[-1].id if more and items else None)
