"""Signing in and out of the workspace: each agent as themselves, with their own password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, status
from fastapi.responses import HTMLResponse, Response

from leadflow.api.deps import Database
from leadflow.api.passwords import verify_password
from leadflow.api.web.pages import _back, _flash, _page
from leadflow.api.web.session import (
    FAILURE_WINDOW,
    CsrfChecked,
    sign_in,
    sign_out,
    subjects,
)
from leadflow.models import check_time_zone
from leadflow.store.sessions import recent_failures, sign_in_failed, sign_in_succeeded
from leadflow.store.users import user_of

router = APIRouter(prefix="/app", include_in_schema=False)


def _inside(path: str) -> str:
    """Where to go after signing in: a workspace page, never another site."""
    return path if path.startswith("/app/") and "//" not in path else "/app/"


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_page(
    request: Request, next: Annotated[str, Query(max_length=300)] = "/app/"
) -> HTMLResponse:
    return _page(request, "sign_in.html", None, next=_inside(next))


@router.post("/sign-in", dependencies=[CsrfChecked])
async def sign_in_post(
    request: Request,
    database: Database,
    account: Annotated[str, Form(max_length=128)],
    agent: Annotated[str, Form(max_length=128)],
    password: Annotated[str, Form(max_length=1024)],
    zone: Annotated[str, Form(max_length=64)] = "UTC",
    next: Annotated[str, Form(max_length=300)] = "/app/",
) -> Response:
    account, agent = account.strip(), agent.strip()
    counted = subjects(request, account, agent)
    if await recent_failures(database, counted, FAILURE_WINDOW):
        minutes = int(FAILURE_WINDOW.total_seconds() // 60)
        _flash(request, "error", f"Too many failed sign-ins: try again in {minutes} minutes.")
        page = _page(request, "sign_in.html", None, next=_inside(next))
        page.status_code = status.HTTP_429_TOO_MANY_REQUESTS
        page.headers["Retry-After"] = str(int(FAILURE_WINDOW.total_seconds()))
        return page
    user = await user_of(database, account, agent)
    if not await verify_password(user.password_hash if user else None, password):
        await sign_in_failed(database, list(counted), FAILURE_WINDOW)
        _flash(request, "error", "That account, user id and password do not match.")
        return _back("/app/sign-in")
    user_count = f"user:{account}:{agent}"
    await sign_in_succeeded(database, user_count)  # the address's count stays
    try:
        zone = check_time_zone(zone)
    except ValueError:
        zone = "UTC"
    await sign_in(request, database, account, agent, zone)
    return _back(_inside(next))


@router.post("/sign-out", dependencies=[CsrfChecked])
async def sign_out_post(request: Request, database: Database) -> Response:
    """Ends the session on the server: its cookie, copied or not, no longer signs anyone in."""
    await sign_out(request, database)
    return _back("/app/sign-in")
