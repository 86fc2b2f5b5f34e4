"""What the lead's loop does with an event its decision cannot take: it drops the event,
says so in the audit, and goes on. A lead never waits on a workflow task that fails each
time it is tried.

Which exceptions a decision may end in, and so which the loop refuses (`undecidable`):
`decide` is pure and synchronous, so nothing of Temporal's runs inside it, and whatever it
raises comes from the engine, the playbook or the libraries they call on the lead's facts
(an `OverflowError` at the calendar's end, an `IndexError` on an empty name, a template's
error). Such an error is a function of the playbook, the state, the event and the instant,
so a replay raises it again at the same decision and refuses it the same way. Left out,
and so still failing the workflow task as before:

- `BaseException`s that are not `Exception`s: cancellation, the SDK evicting a run from its
  cache, continue-as-new, an interpreter shutting down.
- Temporal's own errors (`TemporalError`): a non-deterministic replay, or what a sandbox
  refuses a workflow to touch. They say the code is wrong, not the lead's facts, and must
  stop the task where an operator sees it.
- `MemoryError` and `RecursionError`: they depend on the worker (its memory, the depth of
  the stack the decision runs on), not on the lead; a refusal for them could come out
  otherwise on replay. Another attempt, on another worker, may decide.

Refusing changed what LeadWorkflow does, so the refusal of an undecidable decision is taken
behind `PATCH`: a run that refused writes its marker, and replays refuse where it did.
Histories from before could not hold such a decision (its task failed, every time), so a
stuck lead replays up to it and refuses it live, once workers have this code.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta

from temporalio.exceptions import ApplicationError, TemporalError

import leadflow.workflows.answers as answers
from leadflow.engine.commands import Audit, Decision, InvalidChange
from leadflow.engine.state import EngineState

PATCH = "refuse-undecidable"
# A timer whose decision raised: what came due stays due, so the loop waits this long (or
# for the next event, which may bring the fact it lacks) before it tries again.
RETRY_DUE = timedelta(days=1)


def undecidable(exc: Exception) -> bool:
    """Whether a decision that raised `exc` is refused (see the module's docstring)."""
    return not isinstance(exc, TemporalError | MemoryError | RecursionError)


def refused(state: EngineState, event_type: str, why: str) -> Decision:
    """The decision that takes nothing from the event but the audit line saying why not."""
    line = Audit(key=f"refused:{event_type}", outcome="skipped", reason=f"{event_type} {why}")
    return Decision(state=state, commands=[line])


def why_undecidable(exc: Exception, *, retry: bool) -> str:
    """The audit's reason: the error's type alone, as its message may quote the lead's
    facts (names, numbers, texts), which the audit and the logs must not carry."""
    then = f"; tried again in {RETRY_DUE.days} day or at the next event" if retry else ""
    return f"refused: it could not be decided ({type(exc).__name__}){then}"


def undecidable_update(event_type: str, exc: Exception) -> ApplicationError:
    return ApplicationError(
        f"the lead could not decide this {event_type} ({type(exc).__name__}) and changed "
        "nothing; check its dates and names",
        type="Undecidable",
        non_retryable=True,
    )


@contextlib.contextmanager
def rejecting(event_type: str) -> Iterator[None]:
    """An update's validator: what the engine refuses, or cannot decide, rejects the update
    with a reason its caller can read (a raw error would reach it as its bare type)."""
    try:
        yield
    except InvalidChange as exc:
        raise answers.refused(exc) from None
    except Exception as exc:
        if not undecidable(exc):
            raise
        raise undecidable_update(event_type, exc) from None
