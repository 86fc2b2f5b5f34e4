"""Reports: leads whose milestone/status combination the playbook no longer links."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from leadflow.api.deps import Authenticated, Book, Database
from leadflow.api.errors import error_responses
from leadflow.engine.refs import IDENTIFIER
from leadflow.store import leads
from leadflow.store.leads import Unlinked

router = APIRouter(
    prefix="/v1/reports", tags=["reports"], responses=error_responses(400, 401, 413, 422, 503)
)


class UnlinkedPage(BaseModel):
    playbook: str
    items: list[Unlinked]
    next_cursor: str | None = None


@router.get("/unlinked", response_model=UnlinkedPage)
async def unlinked(
    caller: Authenticated,
    database: Database,
    book: Book,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    cursor: Annotated[
        str | None, Query(pattern=IDENTIFIER, description="next_cursor of the page before")
    ] = None,
) -> UnlinkedPage:
    """After the links change, the leads whose current combination became invalid."""
    linked = [(m, s) for m, statuses in book.links.items() for s in statuses]
    found = await leads.unlinked(database, caller.account_id, linked, after=cursor, limit=limit + 1)
    items = found[:limit]
    more = len(found) > limit
    return UnlinkedPage(
        playbook=f"{book.name} v{book.version}",
        items=items,
        next_cursor=items[-1].lead_id if more and items else None,
    )
