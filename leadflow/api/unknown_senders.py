"""An inbound text from a number none of the account's leads has, to a number the account
holds: what the account's playbook says it becomes (`unknown_senders`). A new lead, run like
any; or a lead held for a person (`EnsureLead.review`: a task asks who wrote, and nothing
else runs until a person acts). Either way the text joins its thread and reaches it as a
reply. One lead per number (its id is the number's digits), so a retried webhook, or the
sender's next text, finds the same lead. Without the setting, it reaches nobody."""

from __future__ import annotations

import logging

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.client import ChangeRejected, LeadflowClient
from leadflow.engine.refs import LeadRef
from leadflow.engine.state import Party
from leadflow.store import accounts, playbooks
from leadflow.workflows.messages import EnsureLead

log = logging.getLogger(__name__)
SOURCE = "inbound text"


async def lead_for(
    database: AsyncEngine, leads: LeadflowClient, account_id: str, sender: str, text: str
) -> list[tuple[str, str]]:
    """The (lead id, role) the text reaches once the account's rule has made its lead; none
    when the account has no such rule (or the sender is not a number a lead can have)."""
    book = await playbooks.current_version(database, account_id)
    if book is None and (preset := await accounts.preset_of(database, account_id)):
        book = leads.playbook(preset)
    rule = book.unknown_senders if book is not None else None
    if book is None or rule is None:
        return []
    role = rule.party or book.parties[0]
    lead = LeadRef(account_id=account_id, lead_id=f"text-{sender.lstrip('+')}")
    try:
        request = EnsureLead(
            lead=lead,
            playbook=book.name,
            parties={role: Party(phone=sender)},
            source=SOURCE,
            review=(text or "(no words)")[:1600] if rule.become == "task" else None,
        )
    except ValidationError:
        log.info("inbound text from %s: not a number a lead can have; reaches nobody", sender)
        return []
    await playbooks.keep(database, book)  # where every worker can load it by digest
    try:
        await leads.ensure_lead(request, playbook=book)
    except ChangeRejected as exc:  # the lead is there with other facts: it is still theirs
        log.info("inbound text from an unknown number: lead %s is there (%s)", lead.lead_id, exc)
    return [(lead.lead_id, role)]
