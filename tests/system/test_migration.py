"""A thousand running leads move to a newer version of their playbook on the real dev
server: the plan shows them first, the move takes them all, and at the provider every
lead's texts are counted across the move: none twice, none lost, the changed step in its
new wording, the removed campaign's text never sent.

Each lead's first name is its id, and every template names it, so each text at the fake
provider says whose it is. The cadence is seconds long and open at every hour."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from asyncio.subprocess import PIPE
from collections import Counter
from datetime import time as dt_time
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.client import LeadflowClient
from leadflow.engine.preview import written_consents
from leadflow.engine.refs import LeadRef
from leadflow.engine.state import Party
from leadflow.migration import LeadFilter, MigrationError, plan, run
from leadflow.playbook.load import default_playbook
from leadflow.playbook.schema import Campaign, Playbook, Step, Template, Window
from leadflow.store.accounts import ensure_account
from leadflow.store.playbooks import keep, save_version
from leadflow.workflows.messages import EnsureLead
from tests.factories import eventually
from tests.places import Place
from tests.services import ProvidersUnderTest, worker_env

LEADS = 1000
SECOND_STEP = timedelta(seconds=75)  # past the leads' start and their move (~40 s here)
STARTING = 32  # leads started at once


def drip(name: str) -> tuple[Playbook, Playbook]:
    """Version 1: two texts in a `drip` campaign and one in an `extra` campaign. Version 2:
    the second text reworded, the `extra` campaign gone."""
    isa = default_playbook("isa")
    texts = {
        "first": "First text for {{ lead.first_name }}",
        "second": "Second text for {{ lead.first_name }}, old wording",
        "extra": "Extra text for {{ lead.first_name }}",
    }
    campaigns = {
        "drip": Campaign(
            steps=[
                Step(after=timedelta(0), do="sms", template="first"),
                Step(after=SECOND_STEP, do="sms", template="second"),
            ]
        ),
        "extra": Campaign(steps=[Step(after=SECOND_STEP, do="sms", template="extra")]),
    }
    on_new = [
        a.model_copy(update={"campaign": c})
        for a, c in zip(isa.on_new_lead, campaigns, strict=True)
    ]
    open_all_day = isa.compliance.model_copy(
        update={
            "quiet_hours": Window(start=dt_time(0), end=dt_time.max),
            "state_quiet_hours": {},
            "frequency_caps": {},
        }
    )
    one = isa.model_copy(
        update={
            "name": name,
            "version": 1,
            "campaigns": {**isa.campaigns, **campaigns},
            "on_new_lead": on_new,
            "templates": {**isa.templates, **{k: Template(body=v) for k, v in texts.items()}},
            "compliance": open_all_day,
        }
    )
    reworded = Template(body="Second text for {{ lead.first_name }}, new wording")
    two = one.model_copy(
        update={
            "version": 2,
            "campaigns": {k: v for k, v in one.campaigns.items() if k != "extra"},
            "on_new_lead": on_new[:1],
            "templates": {**one.templates, "second": reworded},
        }
    )
    return one, two


@pytest.mark.landing(15)  # a thousand leads in this process can starve the fake past 5 s
async def test_a_thousand_leads_move_and_no_text_is_sent_twice_or_lost(
    dev_leads: LeadflowClient,
    db: AsyncEngine,
    providers: ProvidersUnderTest,
    database_url: str,
    tmp_path: Path,
) -> None:
    account = f"mig-{uuid.uuid4().hex[:6]}"
    name = f"drip-{uuid.uuid4().hex[:6]}"
    one, two = drip(name)
    await ensure_account(db, account, "Migration", name)
    for book in (one, two):
        await save_version(db, account, book)
    await keep(db, one)
    place = Place.where_it_is(12)  # any place: the cadence is open at every hour
    phone = place.phone()
    gate = asyncio.Semaphore(STARTING)

    async def start(i: int) -> None:
        lead = LeadRef(account_id=account, lead_id=f"M{i}")
        request = EnsureLead(
            lead=lead,
            playbook=name,
            first_name=lead.lead_id,
            time_zone=place.zone,
            parties={"borrower": (pat := Party(name="Pat Lee", phone=phone, sms_consent=True))},
            designations={"isa": {"id": "isa-1", "name": "Ivy Isa"}},
            consents=written_consents({"borrower": pat}),
        )
        async with gate:
            await dev_leads.ensure_lead(request, playbook=one)

    began = time.monotonic()
    await asyncio.gather(*(start(i) for i in range(LEADS)))
    started = time.monotonic() - began

    def texts() -> Counter[str]:
        return Counter(str(m["body"]) for m in providers.state.messages if m["to"] == phone)

    async def firsts() -> bool:
        return sum(n for body, n in texts().items() if body.startswith("First")) >= LEADS

    assert await eventually(firsts, timeout=120), "the first texts did not all go out"

    # The plan as a person asks for it: `leadflow playbook migrate ACCOUNT --to 2 --dry-run`.
    target = dev_leads.temporal.service_client.config.target_host
    env = worker_env(target, database_url, providers, dev_leads.task_queue, tmp_path)
    command = ["playbook", "migrate", account, "--to", "2", "--dry-run"]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "leadflow", *command, env=env, stdout=PIPE, stderr=PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    shown = out.decode()
    assert f"{account}: playbook {name}: {LEADS} on version 1" in shown
    assert f"{LEADS} leads would move to version 2" in shown
    assert "campaigns that stop: extra" in shown
    assert "Second text" not in shown  # the plan names templates, never a text's words

    found = await plan(db, dev_leads, account, 2)
    assert found.versions == {"1": LEADS} and found.leads == LEADS
    chosen = await plan(db, dev_leads, account, 2, LeadFilter(statuses=["New"]), sample=0)
    assert chosen.leads == LEADS
    none = await plan(db, dev_leads, account, 2, LeadFilter(statuses=["Engaged"]), sample=0)
    assert none.leads == 0
    running = await plan(db, dev_leads, account, 2, LeadFilter(campaigns=["extra"]), sample=0)
    assert running.leads == LEADS
    nobody = await plan(db, dev_leads, account, 2, LeadFilter(campaigns=["nope"]), sample=0)
    assert nobody.leads == 0
    with pytest.raises(ValidationError):  # a name that could become query syntax
        LeadFilter(campaigns=['x") OR ("1" = "1'])
    with pytest.raises(MigrationError, match="has no playbook version 9"):
        await plan(db, dev_leads, account, 9)
    assert found.sample and all(s.stopped == ["extra"] for s in found.sample)
    assert all(s.going_on == ["drip"] for s in found.sample)
    assert all(any("(extra)" in line for line in s.before) for s in found.sample)
    assert not any("(extra)" in line for s in found.sample for line in s.after)

    outcome = await run(db, dev_leads, account, 2)
    moved = time.monotonic() - began
    assert (outcome.moved, outcome.refused, outcome.failed) == (LEADS, [], [])
    assert moved < SECOND_STEP.total_seconds(), f"started in {started:.0f}s, moved by {moved:.0f}s"
    again = await plan(db, dev_leads, account, 2)
    assert again.versions == {"2": LEADS} and again.leads == 0  # nobody moves twice

    async def seconds() -> bool:
        return sum(n for body, n in texts().items() if body.startswith("Second")) >= LEADS

    assert await eventually(seconds, timeout=SECOND_STEP.total_seconds() + 120)
    await asyncio.sleep(3)  # anything sent twice would arrive by now
    got = texts()
    for i in range(LEADS):
        lead = f"M{i}"
        assert got[f"First text for {lead}"] == 1, lead
        assert got[f"Second text for {lead}, new wording"] == 1, lead
        assert got[f"Second text for {lead}, old wording"] == 0, lead
        assert got[f"Extra text for {lead}"] == 0, lead
    assert sum(got.values()) == 2 * LEADS
