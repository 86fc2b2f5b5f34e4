"""The law at the moment of contact on the real dev server, whatever the hour: a text decided
a minute or so before its window closes, whose provider fails until after that, is never
delivered late (the real Twilio SDK against the fake) but goes again in the next window;
and the call queued with it is handed to no agent once its window has closed."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import yaml
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from leadflow.activities.window import CLOSING
from leadflow.client import LeadflowClient
from leadflow.engine import localtime
from leadflow.engine.refs import LeadRef
from leadflow.playbook.load import default_playbook
from leadflow.playbook.schema import Window
from leadflow.playbook.sources import PlaybookFolder
from leadflow.providers.fake import Failure
from leadflow.store.queue import claim_next
from leadflow.worker import build_send_worker, build_worker
from tests.factories import eventually, isa_lead
from tests.places import Place
from tests.scenario_support import outbox, queue
from tests.services import ProvidersUnderTest

TEXT = "campaign:isa_touches:1:0:borrower"


def _closing_soon(place: Place, folder: Path) -> tuple[Path, datetime]:
    """The ISA playbook whose window closes at the first whole minute at least 75 s from
    now where the lead is (so the intro goes at once, with under two minutes left)."""
    local = place.now()
    ends = (local + timedelta(seconds=75 + 59)).replace(second=0, microsecond=0)
    assert ends.date() == local.date() and time(9) <= local.time(), place.describe()
    book = default_playbook("isa")
    window = Window(start=time(8), end=ends.time())
    compliance = book.compliance.model_copy(
        update={"quiet_hours": window, "state_quiet_hours": {}, "frequency_caps": {}}
    )
    folder.mkdir(parents=True, exist_ok=True)
    data = book.model_copy(update={"compliance": compliance}).model_dump(mode="json")
    (folder / "isa.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder, ends.astimezone(UTC)


async def test_a_text_whose_provider_fails_until_its_window_closes_is_not_sent_late(
    dev_env: WorkflowEnvironment,
    db: AsyncEngine,
    providers: ProvidersUnderTest,
    tmp_path: Path,
) -> None:
    place = Place.where_it_is(12)  # midday: the window is open, and closes when we say
    folder, closes = _closing_soon(place, tmp_path / "playbooks")
    phone = place.phone()
    providers.state.failures.append(Failure(to=phone, code=500, times=10_000))
    account = f"late-{uuid.uuid4().hex[:6]}"
    lead = LeadRef(account_id=account, lead_id="L1")
    worker = build_worker(dev_env.client, db, account)
    sends = build_send_worker(dev_env.client, db, providers.config, f"{account}-sends", 100)
    async with worker, sends:
        client = LeadflowClient(
            dev_env.client,
            account,
            sends_task_queue=f"{account}-sends",
            playbooks=PlaybookFolder(folder),
        )
        await client.ensure_lead(isa_lead(lead, "isa", place.zone, phone, "pat@example.com"))
        entry = await eventually(lambda: queue(db, lead))
        assert entry.callable_until == closes and entry.phone == phone

        async def expired() -> object | None:
            rows = [r for r in await outbox(db, lead) if r.key.endswith(TEXT)]
            return rows[0] if rows and rows[0].status == "expired" else None

        row = await eventually(expired, timeout=300)
        assert row.send_by == closes
        # Twilio was asked while the window was open, and never once it had closed.
        asked = [at for to, at in providers.state.requests if to == phone]
        assert asked and max(asked) < closes - CLOSING + timedelta(seconds=2)
        assert not [m for m in providers.state.messages if m["to"] == phone]

        # The lead heard it was not sent: it goes again, under a key of its own, at the
        # next opening (08:00 tomorrow, its time), not at 21:xx nor before 08:00.
        tomorrow = localtime.at_local(
            place.now().date() + timedelta(days=1), time(8), place.zone
        ).astimezone(UTC)

        async def deferred_to_the_morning() -> object | None:
            audit = await client.audit(lead)
            return next(
                (
                    a
                    for a in audit
                    if a.key == f"{TEXT}:again2" and a.outcome == "deferred" and a.until == tomorrow
                ),
                None,
            )

        seconds = max(0.0, (closes - datetime.now(UTC)).total_seconds())
        await asyncio.sleep(seconds)
        assert await eventually(deferred_to_the_morning, timeout=60)

        # The call queued with it is handed to no agent after its window, and waits for the
        # next one.
        assert await claim_next(db, account, "ana") is None
        moved = await eventually(lambda: _moved(db, lead, closes), timeout=60)
        assert moved.available_at == tomorrow
    assert not [m for m in providers.state.messages if m["to"] == phone]


async def _moved(db: AsyncEngine, lead: LeadRef, closes: datetime) -> object | None:
    entry = await queue(db, lead)
    return entry if entry is not None and entry.available_at > closes else None
