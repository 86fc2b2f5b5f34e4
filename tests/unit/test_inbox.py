"""The validator's decision is taken only for the very request it was made for."""

from __future__ import annotations

from datetime import UTC, datetime

from leadflow.engine.commands import Decision
from leadflow.engine.state import EngineState
from leadflow.workflows.inbox import Checked, Pending

NOW = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)


def _checked(state: EngineState) -> Checked:
    decision = Decision.model_construct()
    return Checked("req-1", "ask-a", state, state.law, NOW, decision)


def test_a_decision_fits_only_the_same_request_asking_the_same() -> None:
    state = EngineState.model_construct(law=3)
    checked = _checked(state)
    assert checked.fits(Pending(event=None, request_id="req-1", fingerprint="ask-a"), state, NOW)
    # The same id asking something else (a reused key, a retry with another body) is decided
    # afresh: it must not be answered with the other ask's decision.
    assert not checked.fits(
        Pending(event=None, request_id="req-1", fingerprint="ask-b"), state, NOW
    )
    assert not checked.fits(
        Pending(event=None, request_id="req-2", fingerprint="ask-a"), state, NOW
    )
    later = datetime(2026, 3, 2, 16, 0, 1, tzinfo=UTC)
    assert not checked.fits(
        Pending(event=None, request_id="req-1", fingerprint="ask-a"), state, later
    )
    other = EngineState.model_construct(law=3)
    assert not checked.fits(
        Pending(event=None, request_id="req-1", fingerprint="ask-a"), other, NOW
    )
