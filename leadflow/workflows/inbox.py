"""What the lead's loop takes in: each event waiting for a decision, and the decision an
update's validator already made."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from temporalio.exceptions import ApplicationError

from leadflow.engine.commands import Decision
from leadflow.engine.state import EngineState
from leadflow.playbook.schema import Playbook
from leadflow.playbook.shelf import PlaybookRef
from leadflow.workflows.messages import LeadSnapshot


@dataclass
class Pending:
    event: Any
    request_id: str | None = None
    fingerprint: str | None = None  # of the request: a reused request_id must match it
    result: LeadSnapshot | None = None
    error: ApplicationError | None = None
    done: bool = False
    answered: bool = False  # an update waits for the snapshot (a signal or timer does not)
    moving_to: tuple[Playbook, PlaybookRef] | None = None  # a migration: the newer version


@dataclass(frozen=True)
class Checked:
    """An update's decision as its validator made it, to decide it once: the loop takes it
    as it is when it decides that request next, on the same state at the same instant (the
    engine is pure: deciding again gives the same). Validators do not run on replay, where
    the loop decides afresh, to the same decision."""

    request_id: str
    fingerprint: str  # what that request asked: one id may come with two different asks
    state: EngineState  # the very object: any decision in between replaces it
    law: int  # the state-law table, which the loop may move the state to in place
    now: datetime
    decision: Decision

    def fits(self, pending: Pending, state: EngineState, now: datetime) -> bool:
        return (
            pending.request_id == self.request_id
            and pending.fingerprint == self.fingerprint
            and pending.moving_to is None
            and state is self.state
            and state.law == self.law
            and now == self.now
        )
