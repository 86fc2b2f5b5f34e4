"""A new lead's routing in the engine: ask who takes it, and apply the answer.

The engine cannot read the team (it changes under a running lead): it asks (`RouteLead`,
one attempt at a time) and the routing activity answers under the account's lock
(`leadflow.store.routing`). A user given the lead fills the rule's designation, which
releases every touch held for it; a lead nobody may take yet asks again after
`RETRY`, until someone may. Each answer is an audit line with its reason.
"""

from __future__ import annotations

from datetime import timedelta

from leadflow.engine import gate
from leadflow.engine.commands import RouteLead
from leadflow.engine.events import DesignationsChanged, LeadRouted
from leadflow.engine.routing import Facts, first_rule
from leadflow.engine.run import Run
from leadflow.engine.state import AgendaItem

RETRY = timedelta(minutes=5)  # a lead nobody may take asks again this often


def new_lead(run: Run) -> None:
    """Route a new lead whose first rule's designation nobody fills yet."""
    routing = run.book.routing
    if routing is None:
        return
    if first_rule(routing, Facts.of(run.s)).designation in run.s.designations:
        return  # the lead came assigned
    ask(run)


def ask(run: Run) -> None:
    s = run.s
    s.routing_attempt += 1
    run.emit(RouteLead(attempt=s.routing_attempt, **Facts.of(s).fields()))


def routed(run: Run, event: LeadRouted) -> None:
    """The routing's answer: an answer to an attempt since superseded changes nothing."""
    s = run.s
    if event.attempt != s.routing_attempt:
        return
    key = f"routing:{event.attempt}"
    run.audit(key, "note", event.why)
    if event.agent is not None and event.designation is not None:
        s.routed = "agent"
        gate.designations_changed(
            run, DesignationsChanged(assignments={event.designation: event.agent})
        )
        return
    s.routed = "waiting"
    s.agenda.append(AgendaItem(key=key, due=run.now + RETRY, kind="route"))
