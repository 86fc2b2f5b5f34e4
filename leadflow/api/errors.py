"""Every error the API answers is one shape: RFC 9457 problem details
(`application/problem+json`), whose `detail` says what was wrong and what to do.

The client's and the store's typed errors, FastAPI's validation errors, HTTP errors raised
by the endpoints and the router's own (404 for an unknown path, 405 for a method) all go
through here, and the OpenAPI document declares the same schema for each error status.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.exc import DataError, DBAPIError
from starlette.exceptions import HTTPException
from temporalio.service import RPCError, RPCStatusCode

from leadflow.api import glossary
from leadflow.client import (
    ChangeRejected,
    Conflict,
    LeadflowError,
    LeadNotFound,
    LeadUnavailable,
)
from leadflow.migration import MigrationError
from leadflow.store.users import NotAMember

MEDIA_TYPE = "application/problem+json"
RFC_9110_TITLES = {413: "Content Too Large", 422: "Unprocessable Content"}  # renamed there
RETRY_AFTER = "1"  # seconds: a 503 is a dependency restarting or a worker catching up


class FieldProblem(BaseModel):
    """One invalid field of the request."""

    loc: list[str | int] = Field(
        description="where: 'body', 'query', 'path' or 'header', then the field's path",
        examples=[["body", "parties", "borrower", "phone"]],
    )
    msg: str = Field(
        description="what is wrong with it", examples=["'555' is not a valid phone number"]
    )


class Problem(BaseModel):
    """RFC 9457 problem details: the answer to every request that failed."""

    type: str = Field(
        default="about:blank", description="'about:blank': the status says what kind of problem"
    )
    title: str = Field(description="the status's phrase", examples=["Unprocessable Content"])
    status: int = Field(description="the HTTP status code", examples=[422])
    detail: str = Field(
        description="what was wrong and what to do about it",
        examples=["status 'Hot' is not linked with milestone 'Sold'"],
    )
    reason: str | None = Field(
        default=None,
        description="why a lead refused a change, as a code to branch on",
        examples=["NotLinked"],
    )
    errors: list[FieldProblem] | None = Field(
        default=None, description="each invalid field, when the request did not validate"
    )


def problem(
    code: int,
    detail: str,
    *,
    reason: str | None = None,
    errors: list[FieldProblem] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = Problem(title=title(code), status=code, detail=detail, reason=reason, errors=errors)
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=code,
        headers=dict(headers) if headers else None,
        media_type=MEDIA_TYPE,
    )


def title(code: int) -> str:
    return RFC_9110_TITLES.get(code) or HTTPStatus(code).phrase


STATUS_FOR: dict[type[LeadflowError], int] = {  # the first that matches
    LeadNotFound: status.HTTP_404_NOT_FOUND,
    Conflict: status.HTTP_409_CONFLICT,
    ChangeRejected: status.HTTP_422_UNPROCESSABLE_CONTENT,
    MigrationError: status.HTTP_422_UNPROCESSABLE_CONTENT,
    LeadUnavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
}


async def _leadflow_error(request: Request, exc: Exception) -> JSONResponse:
    code = next(
        (code for kind, code in STATUS_FOR.items() if isinstance(exc, kind)),
        status.HTTP_400_BAD_REQUEST,
    )
    reason = exc.kind if isinstance(exc, ChangeRejected) else None
    headers = {"Retry-After": RETRY_AFTER} if code == 503 else None
    return problem(code, str(exc), reason=reason, headers=headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    """An endpoint's HTTPException, or the router's own 404 and 405 (with its Allow)."""
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else title(exc.status_code)
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no endpoint at {request.url.path}; see /docs for the API"
    elif exc.status_code == 405:
        # The router names the methods of the first route it matched; a path has as many
        # routes as methods, so ask the API document for all of them.
        allowed = _allowed(request) or (exc.headers or {}).get("Allow", "")
        detail = f"{request.method} is not allowed on {request.url.path}; use {allowed}"
        return problem(405, detail, headers={**(exc.headers or {}), "Allow": allowed})
    return problem(exc.status_code, detail, headers=exc.headers)


def _allowed(request: Request) -> str:
    """The methods the API document lists for `request`'s path, as an Allow header."""
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, request.url.path):
            methods.update(method.upper() for method in operations)
    return ", ".join(sorted(methods))


def _field_problems(errors: list[Any]) -> list[FieldProblem]:
    return [
        FieldProblem(
            loc=[part for part in error["loc"] if isinstance(part, str | int)],
            msg=str(error["msg"]).removeprefix("Value error, "),
        )
        for error in errors
    ]


def _invalid_detail(problems: list[FieldProblem]) -> str:
    shown = "; ".join(f"{'.'.join(map(str, p.loc)) or 'request'}: {p.msg}" for p in problems[:3])
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return f"invalid request: {shown}{more}"


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """The request did not match its schema (FastAPI's check at the door)."""
    assert isinstance(exc, RequestValidationError)
    problems = _field_problems(list(exc.errors()))
    return problem(422, _invalid_detail(problems), errors=problems)


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    """Input that passed the request schema but not a model built from it: still a 422."""
    assert isinstance(exc, ValidationError)
    problems = _field_problems(list(exc.errors()))
    return problem(422, _invalid_detail(problems), errors=problems)


async def _not_a_member(request: Request, exc: Exception) -> JSONResponse:
    """A user named for a designation they cannot fill."""
    return problem(422, str(exc))


async def _unstorable(request: Request, exc: Exception) -> JSONResponse:
    """PostgreSQL refused a value as data (text it cannot hold, a number out of range): the
    request's fault, and nothing was written. Not to be retried: it would be refused again."""
    assert isinstance(exc, DBAPIError)
    return problem(422, f"the request holds a value the database cannot store: {_said(exc)}")


def _said(exc: DBAPIError) -> str:
    """The driver's own words, without the class names the adapter puts before them."""
    cause = exc.orig.__cause__ if exc.orig is not None else None
    text = str(cause or exc.orig or "invalid value").strip()
    return text.splitlines()[0] if text else "invalid value"


def _refused_value(exc: DBAPIError) -> bool:
    """SQLSTATE class 22 (data exception: out of range, too long, invalid text) from the
    server, or a parameter the driver could not encode (asyncpg's DataError is a
    ValueError); asyncpg's errors reach SQLAlchemy as plain DBAPIErrors, not DataError."""
    if isinstance(exc, DataError):
        return True
    state = str(getattr(exc.orig, "sqlstate", "") or "")
    cause = exc.orig.__cause__ if exc.orig is not None else None
    return state.startswith("22") or isinstance(cause, ValueError)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    if _refused_value(exc):
        return await _unstorable(request, exc)
    return await _database_down(request, exc)


async def _database_down(request: Request, exc: Exception) -> JSONResponse:
    """PostgreSQL did not answer (down, restarting, a dropped connection): nothing was
    written, and the same request can be sent again."""
    return problem(
        503,
        "the database is unavailable; nothing was changed, retry shortly",
        headers={"Retry-After": RETRY_AFTER},
    )


# Temporal's answers that pass: the server is away, slow or busy (the request may be sent
# again); every other answer but a refused argument is taken the same way, not as a 500.
RETRYABLE_RPC = {
    RPCStatusCode.UNAVAILABLE: "Temporal is unavailable",
    RPCStatusCode.DEADLINE_EXCEEDED: "Temporal did not answer in time",
    RPCStatusCode.RESOURCE_EXHAUSTED: "Temporal is busy",
}


async def _temporal_error(request: Request, exc: Exception) -> JSONResponse:
    """A Temporal call failed with a status (NOT_FOUND is the client's LeadNotFound)."""
    assert isinstance(exc, RPCError)
    if exc.status == RPCStatusCode.INVALID_ARGUMENT:
        return problem(422, f"Temporal refused the request: {exc.message}")
    said = RETRYABLE_RPC.get(exc.status, f"Temporal could not take the request ({exc.status.name})")
    return problem(
        503,
        f"{said}; retry shortly",
        headers={"Retry-After": RETRY_AFTER},
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(LeadflowError, _leadflow_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(RPCError, _temporal_error)
    app.add_exception_handler(ConnectionError, _database_down)
    app.add_exception_handler(ValidationError, _invalid)
    app.add_exception_handler(NotAMember, _not_a_member)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]


# ---- the OpenAPI document ------------------------------------------------------------------

DESCRIBED = {
    400: "a malformed request: a cursor this API did not hand out, a body that is not JSON",
    401: "no API key, or one that is unknown or revoked",
    403: "a webhook whose signature is missing, forged or stale",
    404: "no such lead (in this account)",
    409: "the request contradicts what exists: a reused request id, another lead's facts, "
    "a claim held by someone else",
    413: "the body is larger than the API takes",
    415: "the body is not of a type the endpoint takes",
    422: "invalid input, or a change the lead refused: `detail` says why",
    503: "a dependency is restarting or no worker is answering: nothing changed, retry "
    "after `Retry-After` seconds",
}


def error_responses(*codes: int, **described: str) -> dict[int | str, dict[str, Any]]:
    """The `responses` of operations that may answer these errors, each a Problem; a
    keyword `e404="..."` describes one in other words."""
    return {
        code: {"model": Problem, "description": described.get(f"e{code}", DESCRIBED[code])}
        for code in codes
    }


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with each error answer served as `application/problem+json`
    (FastAPI files every model under `application/json`)."""
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            description=app.description,
            routes=app.routes,
        )
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                for code, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    schema = content.get("application/json", {}).get("schema")
                    if code[0] in "45" and schema == {"$ref": "#/components/schemas/Problem"}:
                        content[MEDIA_TYPE] = content.pop("application/json")
        glossary.describe(document)
        schemas = document.get("components", {}).get("schemas", {})
        if "#/components/schemas/HTTPValidationError" not in json.dumps(document["paths"]):
            schemas.pop("HTTPValidationError", None)  # every operation names Problem instead
            schemas.pop("ValidationError", None)
        app.openapi_schema = document
    return app.openapi_schema
