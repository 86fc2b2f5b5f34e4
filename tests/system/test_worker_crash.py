"""A worker process killed mid-send: every touch still ends with exactly one message.

Real worker processes (`leadflow worker`) on the Temporal dev server, real PostgreSQL, the
real Twilio SDK against the fake, which holds two sends open while the worker is killed:
one the provider never took, one it took but never answered.
"""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from leadflow.client import LeadflowClient
from leadflow.engine.preview import written_consents
from leadflow.engine.refs import LeadRef
from leadflow.engine.state import Member, Party
from leadflow.playbook.sources import PlaybookFolder
from leadflow.providers.fake import Failure
from leadflow.store.tables import OutboxMessage
from leadflow.workflows.messages import EnsureLead
from tests.places import Place
from tests.services import ProvidersUnderTest, worker_env, worker_process


async def _until(check, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.1)
    return False


async def test_killed_worker_mid_send_still_sends_each_touch_once(
    dev_env: WorkflowEnvironment,
    dev_address: str,
    database_url: str,
    db: AsyncEngine,
    providers: ProvidersUnderTest,
    place: Place,
    tmp_path: Path,
) -> None:
    queue = f"crash-{uuid.uuid4().hex[:8]}"
    state = providers.state
    playbooks = place.playbook_folder(tmp_path, "isa")
    # The fake lands a hung request after 6 s: a retry looks it up 10 s after it began.
    env = worker_env(
        dev_address,
        database_url,
        providers,
        queue,
        playbooks,
        SENDS_PER_SECOND="100",
        PROVIDER_LANDING_SECONDS="10",
    )
    never_taken, taken = place.phone(), place.phone()  # where it is calling hours now
    state.hang_seconds = 6
    state.failures += [
        Failure(to=never_taken, code="drop"),
        Failure(to=taken, code="timeout", after_send=True),
    ]
    first = worker_process(env)
    second: subprocess.Popen[bytes] | None = None
    try:
        client = LeadflowClient(
            dev_env.client,
            queue,
            sends_task_queue=f"{queue}-sends",
            playbooks=PlaybookFolder(playbooks),
        )
        for phone in (never_taken, taken):
            await client.ensure_lead(
                EnsureLead(
                    lead=LeadRef(account_id=queue, lead_id=phone[-4:]),
                    playbook="isa",
                    time_zone=place.zone,
                    parties={"borrower": Party(name="Pat", phone=phone, sms_consent=True)},
                    designations={"isa": Member(id="isa-1", name="Ivy Isa")},
                    consents=written_consents(
                        {"borrower": Party(name="Pat", phone=phone, sms_consent=True)}
                    ),
                )
            )

        async def both_held() -> bool:
            return state.in_flight == 2

        assert await _until(both_held, 30), f"the sends never reached the fake ({place.describe()})"
        first.kill()  # SIGKILL: no shutdown, no acknowledgement
        first.wait()
        second = worker_process(env)

        async def all_sent() -> bool:
            async with db.connect() as conn:
                rows = (
                    await conn.execute(
                        select(OutboxMessage.status).where(
                            OutboxMessage.account_id == queue, OutboxMessage.channel == "sms"
                        )
                    )
                ).all()
            return len(rows) == 2 and all(r.status == "sent" for r in rows)

        assert await _until(all_sent, 60), "the new worker did not finish the sends"
        to = [m["to"] for m in state.messages]
        assert (to.count(never_taken), to.count(taken)) == (1, 1)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
