"""History events per lead, and wall time under time skipping, for two long-lived leads:
the 60-day ISA cadence, and five years of low-touch drip (continue-as-new included)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from leadflow.activities.memory import MemoryStoreActivities
from leadflow.client import LeadflowClient
from leadflow.codec import Keyring, new_key
from leadflow.engine.preview import written_consents
from leadflow.engine.refs import LeadRef
from leadflow.engine.state import Member, Party
from leadflow.paths import binary, shipped
from leadflow.playbook.load import default_playbook
from leadflow.playbook.schema import Step
from leadflow.playbook.sources import PlaybookFolder
from leadflow.temporal import data_converter, ensure_search_attributes
from leadflow.worker import build_worker
from leadflow.workflows.messages import EnsureLead, MilestoneChange

BORROWER = Party(name="Bench Lead", phone="+13125550199", email="b@example.com", sms_consent=True)


class _Books(PlaybookFolder):
    """The shipped playbooks, plus `mortgage-5y`: low touch every three weeks for 5 years."""

    def __init__(self) -> None:
        super().__init__(shipped("playbooks"))
        mortgage = default_playbook("mortgage")
        low = mortgage.campaigns["low_touch"]
        steps = [
            Step(
                after=timedelta(weeks=3 * i),
                do="sms" if i % 2 else "email",
                template=low.steps[i % 2].template if low.steps[i % 2].template else "",
                share_with=["borrower"],
            )
            for i in range(1, 5 * 52 // 3 + 1)
        ]
        five_years = low.model_copy(update={"steps": steps})
        self._loaded["mortgage-5y"] = mortgage.model_copy(
            update={
                "name": "mortgage-5y",
                "campaigns": {**mortgage.campaigns, "low_touch": five_years},
            }
        )


async def _events(client: Client, workflow_id: str) -> tuple[int, int, int]:
    """Total events over every run, the number of runs, the largest run."""
    total, runs, largest = 0, 0, 0
    run_id: str | None = None
    while True:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        runs += 1
        total += len(history.events)
        largest = max(largest, len(history.events))
        started = history.events[0].workflow_execution_started_event_attributes
        if not started.continued_execution_run_id:
            return total, runs, largest
        run_id = started.continued_execution_run_id


async def _one(
    env: WorkflowEnvironment,
    client: LeadflowClient,
    name: str,
    playbook: str,
    days: int,
    milestone: str | None = None,
) -> None:
    lead = LeadRef(account_id="bench", lead_id=uuid.uuid4().hex[:8])
    designations = {
        "isa": Member(id="isa", name="Ivy Isa"),
        "loan_assignee": Member(id="lo", name="Lena Officer"),
    }
    book = client.playbooks.get(playbook)
    started = time.perf_counter()
    await client.ensure_lead(
        EnsureLead(
            lead=lead,
            playbook=playbook,
            parties={"borrower": BORROWER},
            designations={k: v for k, v in designations.items() if k in book.designations},
            consents=written_consents({"borrower": BORROWER}),
        )
    )
    if milestone is not None:
        await client.change_milestone(
            lead, MilestoneChange(milestone=milestone, status="Nurture", request_id="bench")
        )
    await env.sleep(timedelta(days=days))
    state = await client.describe(lead)
    wall = time.perf_counter() - started
    total, runs, largest = await _events(env.client, lead.workflow_id)
    print(
        f"{name:<28} {days:>5} days  {total:>6} events in {runs} run(s), largest run "
        f"{largest:>5}  {state.changes} changes  wall {wall:6.2f} s"
    )


async def main() -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server"),
        data_converter=data_converter(Keyring.parse(new_key())),
    )
    try:
        await ensure_search_attributes(env.client)
        queue = "bench-history"
        async with build_worker(env.client, None, queue, activities=MemoryStoreActivities()):
            client = LeadflowClient(env.client, queue, playbooks=_Books(), sends_task_queue=queue)
            print("history per lead, time-skipping server, in-memory store")
            await _one(env, client, "ISA cadence (isa)", "isa", 61)
            await _one(
                env,
                client,
                "low touch, 5 years",
                "mortgage-5y",
                5 * 365 + 5,
                milestone="No reply to outreach",
            )
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
