"""Small builders for test data."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from leadflow.models.lead import EnsureLead, LeadRef, MilestoneChange

T = TypeVar("T")


def new_lead(account_id: str = "acme", **profile: Any) -> EnsureLead:
    lead = LeadRef(account_id=account_id, lead_id=f"lead-{uuid.uuid4().hex[:10]}")
    return EnsureLead(lead=lead, **{"first_name": "Pat", "last_name": "Lee", **profile})


def change(milestone: str, status: str | None = None, **fields: Any) -> MilestoneChange:
    return MilestoneChange(
        milestone=milestone, status=status, request_id=uuid.uuid4().hex, **fields
    )


async def eventually(check: Callable[[], Awaitable[T]], *, timeout: float = 10.0) -> T:
    """Poll `check` until it returns a truthy value: for effects a worker applies asynchronously."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.05)
