"""A lead's own offset within the playbook's `spread`: its fixed-time steps and date rules
and the openings of its window move this much later, so the leads of a zone do not all
wake in the same second (at ten million leads, a step "at 10:00" would be hundreds of
thousands of workflow tasks at once). Never earlier: a later moment is still one the gate
checks, and the law's window only ever opens later.

The offset is a whole number of minutes from 0 to `spread` less a minute, from a hash of
the lead's account and id: the same lead always gets the same one, on every worker and on
replay, and the leads of an account spread evenly over it."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from leadflow.engine.refs import LeadRef
from leadflow.playbook.schema import Playbook


def offset(book: Playbook, lead: LeadRef) -> timedelta:
    """How much later this lead's fixed times and window openings come (0 without a spread)."""
    minutes = int(book.spread.total_seconds() // 60) if book.spread else 0
    if minutes <= 1:
        return timedelta(0)
    digest = hashlib.sha256(f"{lead.account_id}\x00{lead.lead_id}".encode()).digest()
    return timedelta(minutes=int.from_bytes(digest[:8], "big") % minutes)
