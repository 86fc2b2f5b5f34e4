"""The codec endpoint for ops: Temporal's remote codec protocol, so the Web UI and the
`temporal` CLI show a lead's sealed payloads in the clear to whoever holds the ops
credential. A decode is a read of every lead's PII: nothing else opens it.

- CLI: `temporal workflow show -w lead:acme:L-1 --codec-endpoint http://HOST/codec
  --codec-auth "Bearer $OPS_TOKEN"`.
- Web UI (which cannot send a header of its own): the endpoint
  `http://HOST/codec/ops/$OPS_TOKEN`, with the UI's origin in `CODEC_ORIGINS`.
"""

from __future__ import annotations

import logging
import re
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from leadflow.api.deps import AppSettings, Codec
from leadflow.api.errors import error_responses
from leadflow.codec import UnknownKey

router = APIRouter(
    prefix="/codec",
    tags=["ops"],
    responses=error_responses(
        400,
        401,
        404,
        413,
        422,
        e401="no ops credential, or another",
        e404="the codec endpoint is off: OPS_TOKEN is not set",
    ),
)
_TOKEN_IN_PATH = re.compile(r"(/codec/ops/)[^/\s]+")


class RedactToken(logging.Filter):
    """Access logs name the path; the Web UI's path holds the ops credential: hide it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN_IN_PATH.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args
            )
        return True


def redact_access_log() -> None:
    """Install the filter on uvicorn's access log (once)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactToken) for f in access.filters):
        access.addFilter(RedactToken())


_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <OPS_TOKEN>")

PayloadsJSON = Annotated[
    dict[str, Any],
    Body(
        description="Temporal's Payloads as proto JSON: "
        '{"payloads": [{"metadata": {"encoding": "<base64>"}, "data": "<base64>"}]}'
    ),
]


def _allowed(settings: AppSettings, given: str | None) -> None:
    if settings.ops_token is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "the codec endpoint is off: set OPS_TOKEN to turn it on"
        )
    expected = settings.ops_token.get_secret_value().encode()
    if not given or not secrets.compare_digest(given.encode(), expected):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "the codec endpoint needs the ops credential: 'Authorization: Bearer <OPS_TOKEN>'",
            headers={"WWW-Authenticate": "Bearer"},
        )


def _by_header(
    settings: AppSettings,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    _allowed(settings, bearer.credentials if bearer is not None else None)


def _by_path(settings: AppSettings, token: str) -> None:
    _allowed(settings, token)


def _payloads(body: dict[str, Any]) -> Payloads:
    try:
        return json_format.ParseDict(body, Payloads())
    except json_format.ParseError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f'expected {{"payloads": [{{"metadata": {{...}}, "data": "<base64>"}}]}}: {exc}',
        ) from None


async def _code(codec: Codec, body: dict[str, Any], decode: bool) -> dict[str, Any]:
    given = _payloads(body)
    try:
        coded = await (codec.decode if decode else codec.encode)(list(given.payloads))
    except UnknownKey as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    result: dict[str, Any] = json_format.MessageToDict(Payloads(payloads=coded))
    return result


@router.post("/decode", dependencies=[Depends(_by_header)])
async def decode(codec: Codec, body: PayloadsJSON) -> dict[str, Any]:
    """Sealed payloads in, the same payloads in the clear out."""
    return await _code(codec, body, decode=True)


@router.post("/encode", dependencies=[Depends(_by_header)])
async def encode(codec: Codec, body: PayloadsJSON) -> dict[str, Any]:
    """Payloads in the clear in, sealed with the current key out (the UI's signal/reset)."""
    return await _code(codec, body, decode=False)


@router.post("/ops/{token}/decode", dependencies=[Depends(_by_path)], include_in_schema=False)
async def decode_for_ui(codec: Codec, body: PayloadsJSON) -> dict[str, Any]:
    return await _code(codec, body, decode=True)


@router.post("/ops/{token}/encode", dependencies=[Depends(_by_path)], include_in_schema=False)
async def encode_for_ui(codec: Codec, body: PayloadsJSON) -> dict[str, Any]:
    return await _code(codec, body, decode=False)
