"""How the client's typed errors read over HTTP: a status and a message saying what to fix."""

from __future__ import annotations

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from leadflow.starter.client import ChangeRejected, LeadflowError, LeadNotFound, LeadUnavailable

STATUS_FOR: dict[type[LeadflowError], int] = {
    LeadNotFound: status.HTTP_404_NOT_FOUND,
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


def install(app: FastAPI) -> None:
    app.add_exception_handler(LeadflowError, _leadflow_error)
