"""Recorded histories still replay against today's LeadWorkflow.

A change that breaks one of these is a change that would break running leads: guard the
new behaviour with `workflow.patched` (docs/ARCHITECTURE.md) and record a new history.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from leadflow.playbook.schema import Playbook
from leadflow.worker import SANDBOX, WORKFLOWS
from tests.keys import converter

HERE = Path(__file__).resolve().parents[1] / "histories"
HISTORIES = sorted(HERE.glob("*.json"))


async def _recorded_playbook(key: str) -> Playbook | None:
    """Histories recorded by reference name their playbook by digest; it is kept beside them."""
    file = HERE / "playbooks" / f"{key}.json"
    return Playbook.model_validate_json(file.read_text()) if file.exists() else None


def _read(file: Path) -> str:
    return file.read_text()


def test_histories_were_recorded() -> None:
    assert len(HISTORIES) >= 5


@pytest.mark.parametrize("file", HISTORIES, ids=[f.stem for f in HISTORIES])
async def test_history_replays(file: Path) -> None:
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=converter(_recorded_playbook),
        workflow_runner=SANDBOX,
    )
    history = WorkflowHistory.from_json(f"lead:{file.stem}", _read(file))
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
