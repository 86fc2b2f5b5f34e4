"""Bulk imports over HTTP: a CSV file of leads as the body (`POST /v1/imports`), read and
checked line by line at once, its lines that pass started in the background at a steady
rate behind live leads; where it stands (`GET /v1/imports/{id}`) and what became of each
line (`GET /v1/imports/{id}/report.csv`). The same file posted again is the same import."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from pydantic import BaseModel, Field

from leadflow.api.deps import Authenticated, Book, Database, Imports, Leads
from leadflow.api.errors import error_responses
from leadflow.api.import_rows import FIELDS, ImportProblem
from leadflow.api.importer import PER_SECOND, prepare, run_import
from leadflow.api.web.report_pages import FORMULA
from leadflow.store import imports
from leadflow.store.accounts import account_name

MAX_FILE = 64 << 20  # about 400,000 lines of a CRM's export
TYPES = ("text/csv", "text/plain", "application/octet-stream")

router = APIRouter(
    prefix="/v1/imports",
    tags=["imports"],
    responses=error_responses(400, 401, 404, 422, 503, e404="no such import (in this account)"),
)
_FILE = {
    "requestBody": {
        "required": True,
        "description": "a CSV file of leads, its first line the header (UTF-8)",
        "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in TYPES},
    }
}
ImportId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="the import's id")]


class ImportOut(BaseModel):
    """An import and where it stands."""

    id: str = Field(description="the import's id")
    name: str = Field(description="the file's name, as given")
    new: bool = Field(description="false: the same file was posted before; this resumes it")
    total: int = Field(description="lines read (the header and empty lines aside)")
    counts: dict[str, int] = Field(
        description="lines by what became of them: pending, started, existing (its lead was "
        "there), invalid, duplicate (held for review), refused"
    )
    created_at: datetime = Field(description="when it was posted first")
    finished_at: datetime | None = Field(description="when its last line was done")
    report: str = Field(description="where each line's outcome is, as CSV")


def _out(found: imports.Progress, new: bool = False) -> ImportOut:
    return ImportOut(
        id=found.id, name=found.name, new=new, total=found.total, counts=found.counts,
        created_at=found.created_at, finished_at=found.finished_at,
        report=f"/v1/imports/{found.id}/report.csv",
    )  # fmt: skip


def _mapping(given: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in given:
        field, sep, column = pair.partition(":")
        if not sep or not field.strip() or not column.strip():
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"map {pair[:80]!r}: give field:Column, e.g. phone:Mobile Phone",
            )
        mapping[field.strip()] = column.strip()
    return mapping


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ImportOut,
    responses=error_responses(
        413,
        415,
        422,
        e415="the body is not a CSV file",
        e422="the file or the mapping cannot be read",
    ),
    openapi_extra=_FILE,
)
async def post_import(
    request: Request,
    caller: Authenticated,
    database: Database,
    leads: Leads,
    book: Book,
    running: Imports,
    name: Annotated[
        str,
        Query(
            min_length=1,
            max_length=200,
            pattern=r"^[^\x00-\x1f\x7f]+$",
            description="the file's name",
        ),
    ],
    mapping: Annotated[
        list[str],
        Query(
            alias="map",
            description=f"field:Column, for a column under another header; fields: "
            f"{', '.join(FIELDS)}",
        ),
    ] = [],  # noqa: B006  (FastAPI copies a query's default)
    per_second: Annotated[
        float, Query(gt=0, le=200, description="leads started a second")
    ] = PER_SECOND,
) -> ImportOut:
    """Read a CSV file of leads (the body; its first line the header) and start the lines
    that pass in the background; lines that repeat an earlier one or a lead the account has
    are held for review, not started. 202 with where it stands; the same file again: the
    same import (it resumes, nothing starts twice)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind not in TYPES:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, f"send the file as text/csv, not {kind!r}"
        )
    raw = await request.body()
    if len(raw) > MAX_FILE:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "a file is 64 MB at most")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "the file is not UTF-8 text"
        ) from None
    seller = await account_name(database, caller.account_id) or caller.account_id
    try:
        found, new = await prepare(
            database, caller.account_id, book, name, text, _mapping(mapping), caller.actor, seller
        )
    except ImportProblem as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    if found.finished_at is None:
        running.spawn(
            run_import(
                database, leads, book, found.id, caller.account_id, caller.actor,
                per_second=per_second,
            ),
            found.id,
        )  # fmt: skip
    return _out(found, new)


@router.get("/{import_id}", response_model=ImportOut)
async def get_import(import_id: ImportId, caller: Authenticated, database: Database) -> ImportOut:
    """Where an import stands."""
    found = await imports.progress(database, import_id, caller.account_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no import {import_id}")
    return _out(found)


@router.get(
    "/{import_id}/report.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "each line's outcome"}},
)
async def import_report(import_id: ImportId, caller: Authenticated, database: Database) -> Response:
    """Each line of the file: its lead id, what became of it, and why."""
    found = await imports.progress(database, import_id, caller.account_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no import {import_id}")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["line", "lead_id", "outcome", "detail"])
    for row in await imports.report(database, import_id):
        cells = [row.line, row.lead_id or "", row.state, row.detail or ""]
        writer.writerow(["'" + c if isinstance(c, str) and c[:1] in FORMULA else c for c in cells])
    filename = f"import-{import_id}.csv"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
