"""The headers that keep what the API answers where it belongs.

- `/v1` and `/codec` answers hold leads' details: no cache keeps them (`no-store`), and a
  shared cache that did would tell one caller's answer from another's by the credential
  (`Vary: Authorization, X-API-Key`).
- The workspace (`/app/`) runs only the scripts and styles it serves itself (no inline
  script, no eval: `CONTENT_SECURITY_POLICY`), in no other site's frame, and names no page
  of its own to the sites it links to.
- Every answer: HTTPS only once a browser has seen it over HTTPS (`Strict-Transport-Security`,
  which browsers ignore over plain HTTP, so local HTTP keeps working), and no content-type
  sniffing.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)
EVERY_ANSWER = {
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
WORKSPACE = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
}
PRIVATE_PREFIXES = ("/v1/", "/codec/")
CREDENTIALS = "Authorization, X-API-Key"


class SecurityHeaders:
    """Adds the headers to each HTTP answer as it starts (a pure ASGI middleware: the body
    streams through untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in EVERY_ANSWER.items():
                    headers.setdefault(name, value)
                if path == "/app" or path.startswith("/app/"):
                    headers.update(WORKSPACE)
                if path.startswith(PRIVATE_PREFIXES):
                    headers["Cache-Control"] = "no-store"
                    headers.add_vary_header(CREDENTIALS)
            await send(message)

        await self.app(scope, receive, with_headers)
