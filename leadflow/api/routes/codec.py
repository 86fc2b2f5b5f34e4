"""The codec endpoint for ops: Temporal's remote codec protocol, so the Web UI and the
`temporal` CLI show a lead's sealed payloads in the clear to whoever holds the ops
credential. A decode is a read of every lead's PII: nothing else opens it.

The credential travels in the `Authorization` header only, never in a URL, which access
logs, proxies and tracing spans record.

- CLI: `temporal workflow show -w lead:acme:L-1 --codec-endpoint http://HOST/codec
  --codec-auth "Bearer $OPS_TOKEN"`.
- Web UI in production: behind single sign-on, on one origin with the codec (README,
  "Production"): the sign-on proxy lets signed-in ops through and adds the header.
- Web UI of `leadflow dev`: a codec of its own on loopback (`ui_codec_app`), for the UI's
  origin alone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException, Request, status
from fastapi.middleware.cors import CORSMiddleware
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from leadflow.api import errors
from leadflow.api.deps import AppSettings, Codec
from leadflow.api.errors import error_responses
from leadflow.api.routes.ops import require_bearer
from leadflow.codec import EncryptionCodec, UnknownKey
from leadflow.tracing import redact_path

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


class RedactToken(logging.Filter):
    """A Web UI still set up with the retired `/codec/ops/<token>` endpoint gets a 404; its
    token stays out of the access log all the same."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_path(a) if isinstance(a, str) else a for a in record.args)
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


def _by_header(
    settings: AppSettings,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    given = bearer.credentials if bearer is not None else None
    require_bearer(settings.ops_token, given, "OPS_TOKEN", "the codec endpoint")


def _payloads(body: dict[str, Any]) -> Payloads:
    try:
        return json_format.ParseDict(body, Payloads())
    except json_format.ParseError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f'expected {{"payloads": [{{"metadata": {{...}}, "data": "<base64>"}}]}}: {exc}',
        ) from None


async def _code(codec: EncryptionCodec, body: dict[str, Any], decode: bool) -> dict[str, Any]:
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


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def ui_codec_app(codec: EncryptionCodec, ui_origins: Sequence[str]) -> FastAPI:
    """The codec for the Web UI of `leadflow dev`, which can send no credential: served on
    a loopback address only, it opens payloads for a browser page of the UI's own origin
    (`ui_origins`) and for nothing else. Whoever reaches the dev UI on this machine reads
    leads through it anyway; other sites open in the same browser (a request with their
    Origin, or a DNS name rebound to 127.0.0.1) are refused."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    errors.install(app)
    origins = frozenset(ui_origins)

    def from_the_ui(request: Request) -> None:
        host = (request.headers.get("host") or "").rpartition(":")[0]
        if request.headers.get("origin") not in origins or host not in LOOPBACK_HOSTS:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                "this codec answers the dev Web UI alone; elsewhere use /codec on the API "
                "with 'Authorization: Bearer <OPS_TOKEN>'",
            )

    async def decode_for_ui(body: PayloadsJSON) -> dict[str, Any]:
        return await _code(codec, body, decode=True)

    async def encode_for_ui(body: PayloadsJSON) -> dict[str, Any]:
        return await _code(codec, body, decode=False)

    for path, endpoint in (("/decode", decode_for_ui), ("/encode", encode_for_ui)):
        app.add_api_route(path, endpoint, methods=["POST"], dependencies=[Depends(from_the_ui)])
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(origins),
        allow_methods=["POST"],
        allow_headers=["Content-Type", "X-Namespace"],
    )
    return app
