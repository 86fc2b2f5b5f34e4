"""End to end through the HTTP API on the real Temporal dev server and PostgreSQL:
a lead comes in, an agent calls it, nobody answers, it is back an hour later (the leads-queue
preset)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.api.app import create_app
from leadflow.client import LeadflowClient
from leadflow.playbook.sources import PlaybookFolder
from leadflow.store.accounts import ensure_account, new_api_key
from leadflow.store.queue import claim_next
from tests.factories import api_settings
from tests.integration.test_api import Served
from tests.places import Place


async def test_new_lead_is_called_and_comes_back_after_an_hour(
    dev_leads: LeadflowClient, db: AsyncEngine, tmp_path: Path, place: Place
) -> None:
    # The leads-queue preset's communication log, for a lead that lives where it is calling
    # hours now.
    place.playbook_folder(tmp_path, "leads-queue")
    fields = place.lead_fields(name="Wren Ito")
    account = f"e2e-{uuid.uuid4().hex[:8]}"  # the dev server lives for the whole session
    phone = fields["parties"]["borrower"]["phone"]
    await ensure_account(db, account, "End to end", "leads-queue")
    app = create_app(
        api_settings(dev_leads),
        client=dev_leads.temporal,
        engine=db,
        playbooks=PlaybookFolder(tmp_path),
    )

    async with Served(app, await new_api_key(db, account)) as api:
        created = await api.put(
            "/v1/leads/W-1",
            json={
                "first_name": "Wren",
                "designations": {"isa": {"id": "isa-1", "name": "Ivy Isa"}},
                **fields,
            },
        )
        assert created.status_code == 201, created.text

        claimed = await api.post("/v1/queue/next", json={"agent": "ana"})
        assert claimed.status_code == 200, (place.describe(), claimed.text)
        call = claimed.json()
        assert (call["lead_id"], call["label"]) == ("W-1", "CallASAP")
        assert call["contacts"] == [
            {"role": "borrower", "name": "Wren Ito", "phone": phone, "email": None}
        ]

        logged = await api.post(
            "/v1/leads/W-1/calls",
            json={"disposition": "No Answer", "comments": "rang out", "request_id": "call-1"},
        )
        assert logged.status_code == 200, logged.text
        result = logged.json()
        assert (result["status"], result["queue_label"]) == ("Contact Attempted", "Redial")
        back = datetime.fromisoformat(result["back_in_queue_at"])
        assert abs(back - datetime.now(back.tzinfo) - timedelta(hours=1)) < timedelta(seconds=30)

        assert (await api.post("/v1/queue/next", json={"agent": "ana"})).status_code == 204
        later = await claim_next(db, account, "ana", now=back + timedelta(minutes=1))
        assert later is not None and (later.lead_id, later.label) == ("W-1", "Redial")
        assert later.recent_notes[0].note == "call outbound: No Answer. rang out"
