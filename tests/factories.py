"""Small builders for test data."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from leadflow.client import LeadflowClient
from leadflow.config import Settings
from leadflow.engine.preview import written_consents
from leadflow.engine.refs import LeadRef
from leadflow.engine.state import Member, Party
from leadflow.paths import shipped
from leadflow.playbook.sources import PlaybookFolder
from leadflow.workflows.messages import (
    CallLog,
    EnsureLead,
    FollowUpRequest,
    MilestoneChange,
)
from tests.keys import TEST_KEYS

T = TypeVar("T")

# The shipped playbooks, by name: the source test clients find a lead's playbook in.
PLAYBOOKS = PlaybookFolder(shipped("playbooks"))

PARTIES = {
    "borrower": Party(
        name="Pat Lee", phone="+13125550111", email="pat@example.com", sms_consent=True
    ),
    "co_borrower": Party(
        name="Sam Lee", phone="+13125550112", email="sam@example.com", sms_consent=True
    ),
    "referral_partner": Party(
        name="Rita Realtor", phone="+13125550113", email="rita@example.com", sms_consent=True
    ),
    "buying_agent": Party(name="Ben Buyer", phone="+13125550114", sms_consent=True),
    "listing_agent": Party(name="Lou Lister", phone="+13125550115", sms_consent=True),
    "lead": Party(name="Pat Lee", phone="+13125550111", email="pat@example.com", sms_consent=True),
}
TEAM = {
    "loan_assignee": Member(id="lo-1", name="Lena Officer", phone="+13125550100"),
    "loan_officer_assistant": Member(id="loa-1", name="Ali Assistant", phone="+13125550101"),
    "processor": Member(id="pr-1", name="Pat Processor", phone="+13125550102"),
    "marketing_manager": Member(id="mm-1", name="Mo Marketing"),
    "isa": Member(id="isa-1", name="Ivy Isa", phone="+13125550103", email="ivy@team.example"),
    "loan_officer": Member(id="lo-2", name="Leo Officer"),
    "agent": Member(id="ag-1", name="Ada Agent", phone="+13125550104", email="ada@x.example"),
    "csr": Member(id="csr-1", name="Cy Service"),
}


def form_consent(party: str = "borrower", channels: tuple[str, ...] = ("sms",)) -> dict[str, Any]:
    """A consent as a lead's web form sends it with the lead (`PUT /v1/leads/{id}`): in
    writing, to marketing texts, what a marketing text to a US number needs on record."""
    return {
        "party": party,
        "channels": list(channels),
        "given_at": "2026-01-05T15:00:00+00:00",
        "means": "web_form",
        "form_url": "https://acme.example/quote",
        "ip": "203.0.113.7",
        "disclosure": "By submitting, I agree to texts from Acme Mortgage (v3)",
        "seller": "Acme Mortgage",
        "actor": "lead form",
    }


def new_lead(account_id: str = "acme", playbook: str = "insurance", **profile: Any) -> EnsureLead:
    """A lead with every party and designation its playbook knows, unless told otherwise."""
    from leadflow.playbook.load import default_playbook

    book = default_playbook(playbook)
    lead = LeadRef(account_id=account_id, lead_id=f"lead-{uuid.uuid4().hex[:10]}")
    fields: dict[str, Any] = {
        "playbook": playbook,
        "first_name": "Pat",
        "last_name": "Lee",
        "parties": {role: p for role, p in PARTIES.items() if role in book.parties},
        "designations": {name: m for name, m in TEAM.items() if name in book.designations},
    }
    fields |= profile
    if "consents" not in fields:
        parties = {role: Party.model_validate(p) for role, p in fields["parties"].items()}
        fields["consents"] = written_consents(parties)
    return EnsureLead(lead=lead, **fields)


def isa_lead(lead: LeadRef, playbook: str, zone: str, phone: str, email: str) -> EnsureLead:
    """A lead on an ISA cadence whose borrower Pat may be texted at `phone` and mailed."""
    return EnsureLead(
        lead=lead,
        playbook=playbook,
        time_zone=zone,
        parties=(
            parties := {"borrower": Party(name="Pat", phone=phone, email=email, sms_consent=True)}
        ),
        designations={"isa": Member(id="isa-1", name="Ivy Isa")},
        consents=written_consents(parties),
    )


def request_id() -> str:
    return uuid.uuid4().hex


def change(
    milestone: str | None,
    status: str | None = None,
    *,
    follow_up_at: datetime | None = None,
    **fields: Any,
) -> MilestoneChange:
    follow_up = FollowUpRequest(subject="Call", start_at=follow_up_at) if follow_up_at else None
    return MilestoneChange(
        milestone=milestone, status=status, follow_up=follow_up, request_id=request_id(), **fields
    )


def call(disposition: str, *, follow_up_at: datetime | None = None, **fields: Any) -> CallLog:
    follow_up = FollowUpRequest(subject="Call", start_at=follow_up_at) if follow_up_at else None
    return CallLog(disposition=disposition, follow_up=follow_up, request_id=request_id(), **fields)


async def eventually(check: Callable[[], Awaitable[T]], *, timeout: float = 10.0) -> T:
    """Poll `check` until it returns a truthy value: for effects a worker applies asynchronously."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.05)


def api_settings(leads: LeadflowClient, **overrides: Any) -> Settings:
    """Settings for an app served in a test on the test's own client and database."""
    values: dict[str, Any] = {
        "temporal_address": "unused:7233",
        "database_url": "postgresql://unused@127.0.0.1/unused",
        "temporal_task_queue": leads.task_queue,
        "sends_task_queue": leads.sends_task_queue,
        "encryption_keys": TEST_KEYS,
    }
    return Settings(**(values | overrides))
