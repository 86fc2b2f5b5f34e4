"""Reports: leads whose milestone/status combination the playbook no longer links (M3)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy import and_, not_, or_, select, tuple_

from leadflow.api.auth import Authenticated
from leadflow.api.routes.leads import account_playbook
from leadflow.store.tables import Lead

router = APIRouter(prefix="/v1/reports", tags=["reports"])


class Unlinked(BaseModel):
    lead_id: str
    milestone: str
    status: str | None


class UnlinkedPage(BaseModel):
    playbook: str
    items: list[Unlinked]
    next_cursor: str | None = None


@router.get("/unlinked", response_model=UnlinkedPage)
async def unlinked(
    request: Request,
    caller: Authenticated,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    cursor: str | None = None,
) -> UnlinkedPage:
    """After the links change, the leads whose current combination became invalid."""
    book = await account_playbook(request, caller, request.app.state.services.leads)
    linked = [(m, s) for m, statuses in book.links.items() for s in statuses]
    query = select(Lead.lead_id, Lead.milestone, Lead.status).where(
        Lead.account_id == caller.account_id,
        or_(
            Lead.status.is_(None),
            not_(tuple_(Lead.milestone, Lead.status).in_(linked)) if linked else and_(True),
        ),
    )
    if cursor is not None:
        query = query.where(Lead.lead_id > cursor)
    rows = await _all(request, query.order_by(Lead.lead_id).limit(limit + 1))
    items = [
        Unlinked(lead_id=r.lead_id, milestone=r.milestone, status=r.status) for r in rows[:limit]
    ]
    more = len(rows) > limit
    return UnlinkedPage(
        playbook=f"{book.name} v{book.version}",
        items=items,
        next_cursor=items[-1].lead_id if more and items else None,
    )


async def _all(request: Request, query):  # type: ignore[no-untyped-def]
    async with request.app.state.services.engine.connect() as conn:
        return (await conn.execute(query)).all()
