"""The account's team: users, their roles, the designations they can fill on leads, and
their workspace passwords.

Nobody gives a role above their own, nor changes a user who holds one: a manager cannot
make an admin, or set an admin's password and sign in as them.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Annotated, Self

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field, model_validator

from leadflow.api.deps import Authenticated, Book, Caller, Database, known
from leadflow.api.errors import error_responses
from leadflow.api.passwords import WeakPassword, hash_password
from leadflow.api.schemas import Input, Page, PasswordIn, UserIn, UserOut
from leadflow.api.scopes import at_most
from leadflow.engine.refs import IDENTIFIER, Identifier
from leadflow.models import TimeZone
from leadflow.store.claims import held, offers
from leadflow.store.routing import set_availability
from leadflow.store.users import list_users, save_user, set_password, user_of

router = APIRouter(
    prefix="/v1/users", tags=["team"], responses=error_responses(400, 401, 403, 413, 422, 503)
)


async def _may_change(database: Database, caller: Caller, user_id: str, role: str | None) -> None:
    """403 unless the caller's role is at least the user's current and new roles."""
    current = await user_of(database, caller.account_id, user_id)
    for what in (role, current.role if current else None):
        if what is not None and not at_most(what, caller.role):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"a key with role {caller.role!r} cannot change a user with role {what!r}",
            )


@router.put("/{user_id}", response_model=UserOut)
async def put_user(
    user_id: Identifier, body: UserIn, caller: Authenticated, database: Database, book: Book
) -> UserOut:
    """Add or change a user. A change of role signs them out of the workspace."""
    known(body.designations, book.designations, "designation")
    await _may_change(database, caller, user_id, body.role)
    await save_user(
        database,
        caller.account_id,
        user_id,
        body.name,
        body.phone,
        body.email,
        body.designations,
        role=body.role,
    )
    saved = await user_of(database, caller.account_id, user_id)
    return UserOut(
        id=user_id, has_password=bool(saved and saved.password_hash), **body.model_dump()
    )


@router.put(
    "/{user_id}/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(404, e404="the account has no such user"),
)
async def put_password(
    user_id: Identifier, body: PasswordIn, caller: Authenticated, database: Database
) -> None:
    """Set the user's workspace password (hashed with argon2id; never shown again) and sign
    them out everywhere."""
    await _may_change(database, caller, user_id, None)
    try:
        hashed = await hash_password(body.password)
    except WeakPassword as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    if not await set_password(database, caller.account_id, user_id, hashed):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no user {user_id!r}; add them with PUT /v1/users/{user_id}"
        )


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
        UserOut(
            id=u.id,
            name=u.name,
            phone=u.phone,
            email=u.email,
            designations=u.designations,
            role=u.role,
            has_password=u.password_hash is not None,
        )
        for u in users[:limit]
    ]
    more = len(users) > limit
    return Page(items=items, next_cursor=items[-1].id if more and items else None)


class AvailabilityIn(Input):
    """When and where a user takes new leads: what routing reads of them."""

    time_zone: TimeZone = Field("UTC", description="the user's own zone (IANA name)")
    hours_start: time | None = Field(None, description="working hours' start, their time")
    hours_end: time | None = Field(None, description="working hours' end, their time")
    days: list[Annotated[int, Field(ge=0, le=6)]] = Field(
        default=list(range(7)), min_length=1, description="working weekdays, 0 is Monday"
    )
    away: bool = Field(False, description="paused or on vacation: no new leads")
    licensed: list[Annotated[str, Field(pattern=r"^[A-Z]{2}$")]] | None = Field(
        None, description="the states they may take leads of; absent: any"
    )

    @model_validator(mode="after")
    def _hours(self) -> Self:
        start, end = self.hours_start, self.hours_end
        if (start is None) != (end is None):
            raise ValueError("give hours_start and hours_end together, or neither")
        if start is not None and end is not None and start >= end:
            raise ValueError("hours_start is before hours_end, the same day")
        return self


@router.put(
    "/{user_id}/availability",
    response_model=AvailabilityIn,
    responses=error_responses(404, e404="the account has no such user"),
)
async def put_availability(
    user_id: Identifier, body: AvailabilityIn, caller: Authenticated, database: Database
) -> AvailabilityIn:
    """When and where the user works, whether they are away, and the states they hold a
    licence in: routing gives a new lead only to a user who may take it now."""
    await _may_change(database, caller, user_id, None)
    if await user_of(database, caller.account_id, user_id) is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no user {user_id!r}; add them with PUT /v1/users/{user_id}"
        )
    hours = (body.hours_start, body.hours_end) if body.hours_start and body.hours_end else None
    await set_availability(
        database,
        caller.account_id,
        user_id,
        time_zone=body.time_zone,
        hours=hours,
        days=body.days,
        away=body.away,
        licensed=body.licensed,
    )
    return body


class OfferOut(BaseModel):
    """A lead offered to the user (first to claim), or in the pond open to them."""

    lead_id: str = Field(description="the lead offered")
    rule: str | None = Field(description="the rule that offered it")
    why: str = Field(description="the offer, as the lead's audit says it")
    at: datetime = Field(description="when it was offered")
    until: datetime | None = Field(description="when the claim window ends; none: the pond")


class HeldOut(BaseModel):
    """A lead routing gave the user (or they took), not moved on since."""

    lead_id: str = Field(description="the lead")
    rule: str | None = Field(description="the rule that gave it; none: the owner's")
    at: datetime = Field(description="when it was given")


class UserRoutingOut(BaseModel):
    """What routing holds for the user now."""

    offers: list[OfferOut] = Field(description="offers to accept, oldest first")
    held: list[HeldOut] = Field(description="the user's leads, newest first")


@router.get(
    "/{user_id}/routing",
    responses=error_responses(404, e404="the account has no such user"),
)
async def user_routing(
    user_id: Identifier, caller: Authenticated, database: Database
) -> UserRoutingOut:
    """The offers standing for the user (accept with POST /v1/leads/{id}/routing/accept)
    and the leads they hold."""
    if await user_of(database, caller.account_id, user_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user {user_id!r}")
    now = datetime.now(UTC)
    return UserRoutingOut(
        offers=[OfferOut(**row) for row in await offers(database, caller.account_id, user_id, now)],
        held=[HeldOut(**row) for row in await held(database, caller.account_id, user_id)],
    )
