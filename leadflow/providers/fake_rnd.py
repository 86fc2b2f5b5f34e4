"""The fake provider server's Reassigned Numbers Database: the query API the adapter
(`leadflow.providers.reassigned`) speaks, over the numbers a test says were disconnected.

`POST /_control/reassigned` {number, disconnected_on} records a permanent disconnection;
{unavailable: n} makes the next n queries answer 503. Every query is recorded
(`state.rnd_queries`: number, date)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

RECORDS_BEGIN = date(2021, 1, 27)  # carriers keep disconnections from this day


class RndState(Protocol):
    rnd_key: str
    disconnected: dict[str, str]  # ten digits -> ISO date of the permanent disconnection
    rnd_queries: list[dict[str, Any]]
    rnd_unavailable: int


def routes(state: RndState) -> list[Route]:
    async def query(request: Request) -> Response:
        if request.headers.get("loginId") != state.rnd_key:
            return JSONResponse({"Message": "Invalid loginId"}, status_code=401)
        if state.rnd_unavailable > 0:
            state.rnd_unavailable -= 1
            return JSONResponse({"Message": "Service Unavailable"}, status_code=503)
        number, raw = request.query_params.get("phoneNumber", ""), request.query_params.get("date")
        try:
            asked = datetime.strptime(raw or "", "%Y%m%d").date()
        except ValueError:
            return JSONResponse({"Message": "Invalid date"}, status_code=400)
        if len(number) != 10 or not number.isdigit():
            return JSONResponse({"Message": "Invalid phone number"}, status_code=400)
        state.rnd_queries.append({"number": number, "date": asked.isoformat()})
        gone = state.disconnected.get(number)
        reassigned: bool | None
        if asked < RECORDS_BEGIN:
            reassigned = None
        else:
            reassigned = gone is not None and asked <= date.fromisoformat(gone)
        return JSONResponse(
            {
                "PhoneNumber": number,
                "IsReassigned": reassigned,
                "HasSafeHarbor": reassigned is False,
            }
        )

    async def control(request: Request) -> Response:
        body = await request.json()
        if "unavailable" in body:
            state.rnd_unavailable = int(body["unavailable"])
        if "number" in body:
            digits = str(body["number"]).removeprefix("+1")
            state.disconnected[digits] = str(body["disconnected_on"])
        return JSONResponse({"ok": True})

    return [
        Route("/v1.5/Data/RNDBasic", query, methods=["GET"]),
        Route("/_control/reassigned", control, methods=["POST"]),
    ]
