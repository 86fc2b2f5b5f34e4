"""Record the histories the replay test checks: `python -m tests.histories.record`.

Run it after a deliberate change to LeadWorkflow's commands (with `workflow.patched` for
the old path), then commit the new files beside the old ones: old histories must keep
replaying, which is the point.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from leadflow.cli.scenario import load_scenario
from leadflow.cli.simulate import simulate
from leadflow.engine.refs import LeadRef
from leadflow.playbook.shelf import SHELF
from tests.keys import KEYRING

HERE = Path(__file__).resolve().parent
PLAYBOOKS = HERE / "playbooks"  # what leads recorded by reference ran on, by digest
SCENARIOS = HERE.parent.parent / "scenarios"
RECORDED = [
    "isa_contact_on_day_7",
    "referral_partner_chain",
    "missing_designation",
    "rejected_combinations",
    "dispositions_and_follow_up",
    "low_touch_two_years",
    "consent_and_reassigned_number",  # from generation 9
]


# Bump when recording after a change guarded by `workflow.patched` (or a change of what a
# history holds: generation 3 is sealed with the tests' key and names its playbook by
# reference; generation 4 writes each decision in the workflow task, a local activity;
# generation 5 runs at revision 1: no patch markers, search attributes set at the start;
# generation 6 at revision 2: a new lead's facts only in its ensure update, and the search
# attributes its first decision leaves it with set at the start; generation 7 keeps to the
# state-law table from the first decision, behind the `state-law-1` patch; generation 8 at
# revision 3: on the table from the start, with no patch marker, and a decision's text and
# email in one send activity; generation 9 at revision 4: on the table's second version from
# the start, each message with its window's end and caps, each call with its window's end;
# generation 10 at revision 5: on the third table from the start, the lead's consents in
# its ensure update; generation 11 at revision 6: a new lead keeps when it came in, and its
# first human action is recorded, speed to lead); older files stay.
GENERATION = 11


async def record(name: str) -> Path:
    target = HERE / (f"{name}.json" if GENERATION == 1 else f"{name}.v{GENERATION}.json")

    async def keep(env: WorkflowEnvironment, lead: LeadRef) -> None:
        history = await env.client.get_workflow_handle(lead.workflow_id).fetch_history()
        target.write_text(history.to_json())
        PLAYBOOKS.mkdir(exist_ok=True)
        for key, book in SHELF.held().items():
            (PLAYBOOKS / f"{key}.json").write_text(book.model_dump_json(indent=1) + "\n")

    file = SCENARIOS / f"{name}.yaml"
    await simulate(load_scenario(file), base=file.parent, on_finish=keep, keyring=KEYRING)
    return target


async def main() -> None:
    for name in RECORDED:
        print(await record(name))


if __name__ == "__main__":
    asyncio.run(main())
