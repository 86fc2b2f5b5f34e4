"""Running the fake provider server: in a test's event loop, or as `leadflow dev`'s child."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn

from leadflow.providers.fake import FakeState, build_app


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def running_fake(
    port: int | None = None, state: FakeState | None = None
) -> AsyncIterator[tuple[str, FakeState]]:
    """Serve the fake on 127.0.0.1 for the duration; yields its base URL and state."""
    state = state or FakeState()
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            build_app(state), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", state
    finally:
        server.should_exit = True
        await task
