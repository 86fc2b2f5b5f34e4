"""A provider storm, a worker killed mid-send: every lead still gets each touch exactly once.

A real worker process (`leadflow worker`) on the Temporal dev server, real PostgreSQL, the
real Twilio and SendGrid SDKs against the fake. Fifty leads each get their intro text and
email at once; for most of them the provider fails twice in a row, in every way we know
of, each with the message recorded or not: 500, 429, a request recorded at once whose
answer hangs past the SDK's timeout, one that hangs and lands late, one that hangs and is
dropped. The suite prints what was lost and duplicated per fault, and a control run, whose
provider lookups find nothing, shows the count would catch a send that does not reconcile.
Then fifty leads start and send while their worker is SIGKILLed three times.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from leadflow.client import LeadflowClient
from leadflow.engine.refs import LeadRef
from leadflow.playbook.sources import PlaybookFolder
from leadflow.providers.fake import Failure
from leadflow.store.tables import OutboxMessage
from tests.factories import isa_lead
from tests.places import Place
from tests.services import ProvidersUnderTest, worker_env, worker_process

LEADS = 50
# (fault, code, recorded): each stormed lead's phone and email fail this way twice.
FAULTS = [
    ("500", 500, False),
    ("500, recorded", 500, True),
    ("429", 429, False),
    ("429, recorded", 429, True),
    ("hang, recorded", "timeout", True),
    ("hang, lands late", "timeout", False),
    ("hang, then dropped", "drop", False),
]
HANG = 12.0  # past the SDK's 10 s timeout
KILL_EVERY = 3.0  # seconds between a worker's restart and its next SIGKILL
LANDING = 15.0  # the fake lands a hung request after HANG


@dataclass
class Lead:
    ref: LeadRef
    phone: str
    email: str
    fault: str


async def _storm(
    dev_env: WorkflowEnvironment,
    dev_address: str,
    database_url: str,
    db: AsyncEngine,
    providers: ProvidersUnderTest,
    place: Place,
    tmp_path: Path,
    faults: list[str],
    failures: int,
    kills: int = 0,
) -> dict[str, tuple[int, int]]:
    """Start a lead per fault in `faults` under a worker process, each failing `failures`
    times per address, the worker SIGKILLed `kills` times meanwhile (and restarted 1.5 s
    later); wait until every message is settled; lost and duplicated per fault."""
    queue = f"storm-{uuid.uuid4().hex[:6]}"
    leads = _leads(place, faults, queue)
    playbooks = place.playbook_folder(tmp_path / queue, "isa")
    state = providers.state
    state.hang_seconds = HANG
    codes = {name: (code, recorded) for name, code, recorded in FAULTS}
    for lead in leads:
        if lead.fault in codes:
            code, recorded = codes[lead.fault]
            for to in (lead.phone, lead.email):
                state.failures.append(
                    Failure(to=to, code=code, times=failures, after_send=recorded)
                )
    env = worker_env(
        dev_address,
        database_url,
        providers,
        queue,
        playbooks,
        SENDS_PER_SECOND="200",
        PROVIDER_LANDING_SECONDS=str(LANDING),
    )
    workers = [worker_process(env)]

    async def chaos() -> None:
        for _ in range(kills):
            await asyncio.sleep(KILL_EVERY)
            workers[-1].kill()  # no shutdown, no acknowledgement
            workers[-1].wait()
            await asyncio.sleep(1.5)
            workers.append(worker_process(env))

    killing = asyncio.create_task(chaos())
    try:
        client = LeadflowClient(
            dev_env.client,
            queue,
            sends_task_queue=f"{queue}-sends",
            playbooks=PlaybookFolder(playbooks),
        )
        await asyncio.gather(
            *(
                client.ensure_lead(isa_lead(lead.ref, "isa", place.zone, lead.phone, lead.email))
                for lead in leads
            )
        )
        deadline = asyncio.get_running_loop().time() + 240
        while asyncio.get_running_loop().time() < deadline:
            async with db.connect() as conn:
                settled = await conn.scalar(
                    select(func.count()).where(
                        OutboxMessage.account_id == queue, OutboxMessage.status == "sent"
                    )
                )
            if settled == 2 * len(leads):
                break
            await asyncio.sleep(0.5)
        await killing
        await asyncio.sleep(HANG)  # anything still hanging at the fake lands meanwhile
    finally:
        killing.cancel()
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    texts = Counter(str(m["to"]) for m in state.messages)
    emails = Counter(str(e["to"]) for e in state.emails)
    found: dict[str, tuple[int, int]] = {}
    for lead in leads:
        lost, duplicated = found.get(lead.fault, (0, 0))
        for got in (texts[lead.phone], emails[lead.email]):
            lost += max(0, 1 - got)
            duplicated += max(0, got - 1)
        found[lead.fault] = (lost, duplicated)
    return found


def _leads(place: Place, faults: list[str], account: str) -> list[Lead]:
    leads = []
    for i, fault in enumerate(faults):
        phone = place.phone()
        leads.append(
            Lead(
                ref=LeadRef(account_id=account, lead_id=f"L-{i}"),
                phone=phone,
                email=f"{account}-{i}@example.com",
                fault=fault,
            )
        )
    return leads


@pytest.fixture
def daytime() -> Place:
    """A zone where it is late morning now: every text and email may go at once."""
    return Place.where_it_is(11)


Storm = Callable[..., Awaitable[dict[str, tuple[int, int]]]]


@pytest.fixture
def storm(
    dev_env: WorkflowEnvironment,
    dev_address: str,
    database_url: str,
    db: AsyncEngine,
    providers: ProvidersUnderTest,
    daytime: Place,
    tmp_path: Path,
) -> Storm:
    """Run a storm: `storm(faults, failures, kills=0)`, a lead per fault named, failing that
    many times per address."""
    return functools.partial(
        _storm, dev_env, dev_address, database_url, db, providers, daytime, tmp_path
    )


async def test_a_provider_storm_loses_and_duplicates_nothing(
    storm: Storm, report: Callable[[str], None]
) -> None:
    faults = [name for name, _, _ in FAULTS] + ["none"]
    found = await storm([faults[i % len(faults)] for i in range(LEADS)], 2)
    report(f"provider storm, {LEADS} leads, a text and an email each, 2 failures per address:")
    for fault in faults:
        lost, duplicated = found[fault]
        report(f"  {fault:<22} lost {lost}  duplicated {duplicated}")
    assert all(counts == (0, 0) for counts in found.values()), found


async def test_the_storm_count_catches_a_send_that_does_not_reconcile(
    storm: Storm, providers: ProvidersUnderTest
) -> None:
    """The control: a provider whose lookups find nothing makes every recorded failure a
    duplicate, and the count above sees it."""
    providers.state.lookups_find_nothing = True
    found = await storm(["500, recorded"] * 4, 1)
    assert found["500, recorded"] == (0, 8)


async def test_a_worker_killed_three_times_mid_send_loses_and_duplicates_nothing(
    storm: Storm, report: Callable[[str], None]
) -> None:
    """Fifty leads start and send while their worker is SIGKILLed three times, a hang at the
    provider holding some sends open across each kill."""
    faults = ["hang, lands late", "none", "none", "none", "none"]
    found = await storm([faults[i % len(faults)] for i in range(LEADS)], 1, kills=3)
    report(f"worker SIGKILLed 3 times, {LEADS} leads, a text and an email each:")
    for fault in dict.fromkeys(faults):
        lost, duplicated = found[fault]
        report(f"  {fault:<22} lost {lost}  duplicated {duplicated}")
    assert all(counts == (0, 0) for counts in found.values()), found
