"""The migrate update on LeadWorkflow, under time skipping: a lead moves to a newer version
between two decisions, says so in its audit, keeps what it sent, is refused when the version
cannot hold it or no worker has it, and a repeat of the same request moves nothing twice."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from leadflow.activities.memory import MemoryStoreActivities
from leadflow.client import ChangeRejected, LeadflowClient
from leadflow.playbook.load import default_playbook
from leadflow.playbook.schema import Playbook
from leadflow.playbook.shelf import SHELF, PlaybookRef
from leadflow.workflows.messages import MigratePlaybook
from tests.factories import new_lead
from tests.scenario_support import skip_to_next

MONDAY = 0
NEW_WORDING = "Hi {{ lead.first_name }}, version two: is now a better time?"


def version_two() -> Playbook:
    book = default_playbook("isa")
    templates = dict(book.templates)
    templates["missed_you_sms"] = templates["missed_you_sms"].model_copy(
        update={"body": NEW_WORDING}
    )
    return book.model_copy(update={"version": 2, "templates": templates})


def sent(store: MemoryStoreActivities, workflow_id: str) -> list[tuple[str, str]]:
    return [
        (c.key, c.body)
        for d in store.decisions
        if d.lead.workflow_id == workflow_id
        for c in d.commands
        if c.kind == "send_message"
    ]


async def test_a_lead_moves_between_decisions_and_sends_nothing_twice(
    leads: LeadflowClient, time_env: WorkflowEnvironment, store: MemoryStoreActivities
) -> None:
    await skip_to_next(time_env, MONDAY, time(10))
    request = new_lead(playbook="isa", time_zone="America/Chicago")
    await leads.ensure_lead(request)
    lead = request.lead
    before = sent(store, lead.workflow_id)
    assert [k.rsplit(":", 2)[-2] for k, _ in before if "isa_touches" in k] == ["0", "1"]

    migrate = MigratePlaybook(playbook_ref=SHELF.put(version_two()), request_id="to-v2")
    snapshot = await leads.migrate(lead, migrate)
    assert (await leads.describe(lead)).playbook_version == 2
    again = await leads.migrate(lead, migrate)  # the same request: answered, not applied
    assert again == snapshot
    moves = [a for a in await leads.audit(lead) if a.key == "playbook:2"]
    assert len(moves) == 1 and "moved from version 1 to 2" in moves[0].reason

    await time_env.sleep(timedelta(days=2))
    after = sent(store, lead.workflow_id)
    keys = [k for k, _ in after]
    assert len(keys) == len(set(keys))  # nothing sent twice across the move
    assert after[: len(before)] == before
    missed = [body for k, body in after if k.startswith("campaign:isa_touches:1:2:")]
    assert len(missed) == 1 and "version two" in missed[0]


async def test_a_lead_the_version_cannot_hold_or_no_worker_has_is_refused(
    leads: LeadflowClient, time_env: WorkflowEnvironment
) -> None:
    await skip_to_next(time_env, MONDAY, time(10))
    request = new_lead(playbook="isa", time_zone="America/Chicago")
    await leads.ensure_lead(request)
    book = version_two()
    unlinked = {m: [s for s in ss if s != "New"] for m, ss in book.links.items()}
    ref = SHELF.put(book.model_copy(update={"links": unlinked}))
    with pytest.raises(ChangeRejected, match="version 2 cannot hold this lead") as refused:
        await leads.migrate(request.lead, MigratePlaybook(playbook_ref=ref, request_id="bad"))
    assert refused.value.kind == "MigrationRefused"
    nowhere = PlaybookRef(name="isa", version=3, digest="0" * 64)
    with pytest.raises(ChangeRejected, match="is on no shelf") as missing:
        await leads.migrate(
            request.lead, MigratePlaybook(playbook_ref=nowhere, request_id="missing")
        )
    assert missing.value.kind == "PlaybookMissing"
    assert (await leads.describe(request.lead)).playbook_version == 1
