"""What the API answers when PostgreSQL refuses a value or Temporal fails a call: a value
the database cannot hold is the request's fault (422, never retried); a database or a
Temporal that is away is a 503 with Retry-After; Temporal's other failures are never a 500."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.service import RPCError, RPCStatusCode

from leadflow.api import errors
from leadflow.store.db import create_engine


def _app(engine: AsyncEngine) -> FastAPI:
    """An app with the API's error handling and a route that runs `sql` as the store would
    (through the driver, with its parameter)."""
    app = FastAPI()
    errors.install(app)

    @app.post("/run")
    async def run(body: dict[str, str]) -> dict[str, str]:
        async with engine.connect() as conn:
            await conn.exec_driver_sql(body["sql"], (body["arg"],) if "arg" in body else ())
        return {}

    @app.post("/temporal/{status}")
    async def temporal(status: str) -> dict[str, str]:
        raise RPCError("what the server said", RPCStatusCode[status], b"")

    return app


async def _post(app: FastAPI, path: str, json: object = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://leadflow") as client:
        return await client.post(path, json=json)


@pytest.mark.parametrize(
    ("sql", "arg", "said"),
    [
        ("SELECT $1::text::int4", "99999999999", "out of range"),
        ("SELECT $1::text::int4", "twelve", "invalid input syntax"),
        ("SELECT $1::text::int4", "12", None),
        ("SELECT $1::text::numeric(3)", "12345", "numeric field overflow"),
        ("SELECT $1::text::date", "2026-13-45", "out of range"),
        ("SELECT $1::int4", "not a number", "invalid input for query argument"),
    ],
)
async def test_a_value_the_database_refuses_is_422_not_retried(
    db: AsyncEngine, sql: str, arg: str, said: str | None
) -> None:
    response = await _post(_app(db), "/run", {"sql": sql, "arg": arg})
    if said is None:  # a value it can hold
        assert response.status_code == 200, response.text
        return
    assert response.status_code == 422, response.text
    assert "retry-after" not in response.headers
    detail = response.json()["detail"]
    assert detail.startswith("the request holds a value the database cannot store: ")
    assert said in detail and "<class" not in detail, detail


async def test_a_database_that_does_not_answer_is_503_with_retry() -> None:
    unreachable = create_engine("postgresql://nobody@127.0.0.1:9/none")
    try:
        response = await _post(_app(unreachable), "/run", {"sql": "SELECT 1"})
    finally:
        await unreachable.dispose()
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"


@pytest.mark.parametrize(
    ("status", "code"),
    [
        ("UNAVAILABLE", 503),
        ("DEADLINE_EXCEEDED", 503),
        ("RESOURCE_EXHAUSTED", 503),
        ("INVALID_ARGUMENT", 422),
        ("PERMISSION_DENIED", 503),
        ("INTERNAL", 503),
    ],
)
async def test_temporal_failures_are_never_a_500(status: str, code: int) -> None:
    unused = create_engine("postgresql://nobody@127.0.0.1:9/none")
    response = await _post(_app(unused), f"/temporal/{status}")
    await unused.dispose()
    assert response.status_code == code, response.text
    assert response.headers["content-type"] == errors.MEDIA_TYPE
    assert ("retry-after" in response.headers) == (code == 503)
    if code == 422:
        assert response.json()["detail"] == "Temporal refused the request: what the server said"
