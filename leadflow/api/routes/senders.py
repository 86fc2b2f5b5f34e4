"""The numbers and email addresses the account may send from (the operator records them)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from leadflow.api.deps import Authenticated, Database
from leadflow.api.errors import error_responses
from leadflow.api.schemas import Page
from leadflow.store.senders import list_senders

router = APIRouter(prefix="/v1/senders", tags=["team"], responses=error_responses(401, 403, 503))


class SenderOut(BaseModel):
    channel: str
    address: str = Field(description="a sending number (E.164) or an email address")
    created_at: datetime = Field(description="when the operator recorded it")


@router.get("", response_model=Page[SenderOut])
async def get_senders(caller: Authenticated, database: Database) -> Page[SenderOut]:
    """The account's own sending numbers (`sms`) and email addresses (`email`). A member's
    `sms_from` must be one of them; `leadflow sender add` records more."""
    found = await list_senders(database, caller.account_id)
    items = [
        SenderOut(channel=s.channel, address=s.address, created_at=s.created_at) for s in found
    ]
    return Page(items=items, next_cursor=None)
