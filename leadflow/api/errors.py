"""How the client's and the store's typed errors read over HTTP: a status and a message
saying what to fix."""

from __future__ import annotations

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

from leadflow.client import (
    ChangeRejected,
    Conflict,
    LeadflowError,
    LeadNotFound,
    LeadUnavailable,
)
from leadflow.store.users import NotAMember

STATUS_FOR: dict[type[LeadflowError], int] = {  # the first that matches
    LeadNotFound: status.HTTP_404_NOT_FOUND,
    Conflict: status.HTTP_409_CONFLICT,
    ChangeRejected: status.HTTP_422_UNPROCESSABLE_CONTENT,
    LeadUnavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
}


async def _leadflow_error(request: Request, exc: Exception) -> JSONResponse:
    code = next(
        (code for kind, code in STATUS_FOR.items() if isinstance(exc, kind)),
        status.HTTP_400_BAD_REQUEST,
    )
    body: dict[str, object] = {"detail": str(exc)}
    if isinstance(exc, ChangeRejected) and exc.kind:
        body["reason"] = exc.kind
    return JSONResponse(body, status_code=code)


async def _not_a_member(request: Request, exc: Exception) -> JSONResponse:
    """A user named for a designation they cannot fill."""
    return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    """Input that passed the request schema but not a model built from it: still a 422."""
    assert isinstance(exc, ValidationError)
    problems = [
        {"loc": list(error["loc"]), "msg": str(error["msg"]).removeprefix("Value error, ")}
        for error in exc.errors()
    ]
    return JSONResponse({"detail": problems}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _database_down(request: Request, exc: Exception) -> JSONResponse:
    """PostgreSQL did not answer (down, restarting, a dropped connection): nothing was
    written, and the same request can be sent again."""
    return JSONResponse(
        {"detail": "the database is unavailable; nothing was changed, retry shortly"},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": "1"},
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(LeadflowError, _leadflow_error)
    app.add_exception_handler(DBAPIError, _database_down)
    app.add_exception_handler(ConnectionError, _database_down)
    app.add_exception_handler(ValidationError, _invalid)
    app.add_exception_handler(NotAMember, _not_a_member)
