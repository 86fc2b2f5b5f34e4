"""The do-not-call lists over HTTP, for the platform's operator: upload a registry's download
(`PUT /v1/dnc-lists/{name}?as_of=...`, the file as the body), list them with their age.

The lists are national data that every account is checked against, not any account's, so
no account key opens them, an admin's included: only `Authorization: Bearer <OPS_TOKEN>`,
the operator's credential (the endpoint is off while OPS_TOKEN is unset). The body is read
as it arrives and never held whole: a national file is gigabytes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from leadflow.api.deps import AppSettings, Database
from leadflow.api.errors import Problem, error_responses
from leadflow.api.routes.ops import require_bearer
from leadflow.api.schemas import Page
from leadflow.store.dnc import NAMES, DncInputError, check_as_of, check_name, import_list, lists

MAX_UPLOAD = 8 << 30  # the national registry is about 3 GB as text
TYPES = ("text/plain", "text/csv", "application/octet-stream")

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <OPS_TOKEN>")


def _operator(
    settings: AppSettings,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    given = bearer.credentials if bearer is not None else None
    require_bearer(settings.ops_token, given, "OPS_TOKEN", "the do-not-call lists")


router = APIRouter(
    prefix="/v1/dnc-lists",
    tags=["ops"],
    dependencies=[Depends(_operator)],
    responses={
        **error_responses(
            401,
            404,
            503,
            e401="no operator credential, or another (an account's key opens no list)",
            e404="the lists' endpoints are off: OPS_TOKEN is not set",
        ),
    },
)


class DncImported(BaseModel):
    name: str = Field(description="the list replaced")
    as_of: date = Field(description="the day its download is current as of")
    numbers: int = Field(description="distinct numbers now on the list")
    lines: int = Field(description="lines read from the body")
    invalid: int = Field(description="lines that held no NANP number, skipped")
    examples: list[str] = Field(description="the first few skipped lines, quoted, and why")


class DncListOut(BaseModel):
    name: str = Field(description="national, state:XX (a US state's) or ca:national")
    as_of: date = Field(description="the day its download was current as of")
    imported_at: datetime = Field(description="when it was imported")
    numbers: int = Field(description="how many numbers it holds")
    source: str = Field(description="the file it came from")
    age_days: int = Field(description="days since `as_of`")
    stale: bool = Field(description="older than 31 days: import a newer download")


async def _lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    rest = b""
    async for chunk in chunks:
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        for line in lines:
            yield line
    if rest:
        yield rest


ListName = Annotated[
    str, Path(description=f"which list: {NAMES}", examples=["national", "state:FL"])
]
AsOf = Annotated[
    date,
    Query(
        description="the day the download is current as of (YYYY-MM-DD)", examples=["2026-12-01"]
    ),
]
_BODY = {
    "requestBody": {
        "required": True,
        "description": "the registry's file: one number a line (2015550123, +12015550123 or "
        "201,5550123)",
        "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in TYPES},
    }
}
_UPLOAD_ERRORS = {
    **error_responses(413, 422, e413="the body is larger than a national registry's file"),
    415: {"model": Problem, "description": "a body that is not text/plain or text/csv"},
}


@router.put("/{name}", response_model=DncImported, openapi_extra=_BODY, responses=_UPLOAD_ERRORS)
async def put_list(
    name: ListName, as_of: AsOf, request: Request, database: Database
) -> DncImported:
    """Replace a list with the numbers in the body, at once for every reader (they see the old
    list or the new one, never half). Lines that hold no number are skipped and counted; a
    body without one valid number is a 422 and the list stays as it was."""
    kind = request.headers.get("content-type", "text/plain").split(";")[0].strip().lower()
    if kind not in TYPES:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"content-type {kind[:60]!r}: send the file as text/plain or text/csv",
        )
    try:
        check_name(name)
        check_as_of(as_of, datetime.now(UTC).date() + timedelta(days=1))  # any zone's today
        done = await import_list(
            database, name, as_of, _lines(request.stream()), source="HTTP upload"
        )
    except DncInputError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    return DncImported(
        name=done.name,
        as_of=done.as_of,
        numbers=done.numbers,
        lines=done.lines,
        invalid=done.invalid,
        examples=done.examples,
    )


@router.get("", response_model=Page[DncListOut])
async def get_lists(database: Database) -> Page[DncListOut]:
    """Every list with its age; one older than 31 days is `stale`."""
    found = await lists(database)
    items = [
        DncListOut(
            name=s.name,
            as_of=s.as_of,
            imported_at=s.imported_at,
            numbers=s.numbers,
            source=s.source,
            age_days=s.age_days,
            stale=s.stale,
        )
        for s in found
    ]
    return Page(items=items, next_cursor=None)
