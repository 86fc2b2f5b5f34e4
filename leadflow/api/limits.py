"""Refuse oversized request bodies at the door (413), before anything reads them whole.

A declared Content-Length over the limit is refused before the app runs. A body without one
(chunked) is counted as it arrives: past the limit, the app is told the client went away,
and whatever it would have answered (FastAPI says 400, "error parsing the body") becomes
the same 413.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leadflow.api.errors import MEDIA_TYPE, Problem, title
from leadflow.client import MAX_REQUEST_BYTES

MAX_BODY = MAX_REQUEST_BYTES  # what a lead takes at once, so the two agree


class BodyLimit:
    def __init__(
        self, app: ASGIApp, limit: int = MAX_BODY, larger: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.limit = limit
        self.larger = dict(larger or {})  # path prefix -> its own limit (file uploads)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        limit = next((n for p, n in self.larger.items() if path.startswith(p)), self.limit)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(send, limit)
            return
        seen = 0
        over = False
        refused = False

        async def counted() -> Message:
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def watched(message: Message) -> None:
            nonlocal refused
            if not over:
                await send(message)
            elif not refused:  # the app's answer to a body it never got whole
                refused = True
                await self._refuse(send, limit)

        try:
            await self.app(scope, counted, watched)
        except Exception:
            if not over:
                raise
        if over and not refused:
            await self._refuse(send, limit)

    async def _refuse(self, send: Send, limit: int) -> None:
        problem = Problem(
            title=title(413),
            status=413,
            detail=f"request body larger than {limit // 1024} KiB; send less",
        )
        body = json.dumps(problem.model_dump(exclude_none=True)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
