"""A new lead's routing in the engine: ask who takes it, and apply the answer.

The engine cannot read the team (it changes under a running lead): it asks (`RouteLead`,
one attempt at a time) and the routing activity answers under the account's lock
(`leadflow.store.routing`). A user given the lead fills the rule's designation, which
releases every touch held for it; a lead nobody may take yet asks again after `RETRY`,
until someone may. An offer (first to claim) waits for its claim window: a user who takes
it is a second answer to the same attempt; when the window runs out the lead asks again
past that rule, and the store answers with whoever took it in the meantime, if anyone did.
A user given the lead with a rule's `work_within` must take a human action on it by the
deadline the store computed in their working time, or the lead moves on along the chain.
Each answer is an audit line with its reason.

Speed to lead: the first human action on a lead (a call or text logged, a change made by
a person rather than the system, an integration or the lead) is recorded once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from leadflow.engine import gate
from leadflow.engine.commands import CloseRouting, FirstTouch, RouteLead
from leadflow.engine.events import (
    AgentWrote,
    CallLogged,
    DesignationsChanged,
    Event,
    FollowUpCompleted,
    FollowUpScheduled,
    HorizonStated,
    LeadReleased,
    LeadRouted,
    StatusChanged,
)
from leadflow.engine.routing import Facts, first_rule
from leadflow.engine.run import Run
from leadflow.engine.state import AgendaItem, EngineState
from leadflow.playbook.routing import Rule

RETRY = timedelta(minutes=5)  # a lead nobody may take asks again this often
HUMAN = (
    CallLogged,
    StatusChanged,
    FollowUpScheduled,
    FollowUpCompleted,
    HorizonStated,
    AgentWrote,  # an agent's own text or email
)
NOT_A_PERSON = frozenset({"system", "migration", "lead", "api"})


def new_lead(run: Run) -> None:
    """Route a new lead whose first rule's designation nobody fills yet."""
    routing = run.book.routing
    if routing is None:
        return
    if first_rule(routing, Facts.of(run.s)).designation in run.s.designations:
        return  # the lead came assigned
    ask(run, "new")


def ask(run: Run, reason: Literal["new", "retry", "claim_window", "unworked", "released"]) -> None:
    s = run.s
    s.routing_attempt += 1
    run.emit(
        RouteLead(
            attempt=s.routing_attempt,
            reason=reason,
            tried=list(s.routing_tried),
            **Facts.of(s).fields(),
        )
    )


def due(run: Run, item: AgendaItem) -> None:
    """A routing timer: an offer's window ran out, a retry, or the user's time to work it."""
    s = run.s
    if item.kind == "worked":
        if s.routed != "agent" or s.worked_at is not None or item.key != _worked_key(s):
            return
        run.audit(item.key, "note", f"{s.routed_to} took no action on the lead in time")
        s.routing_tried.append(s.routing_rule or "")
        ask(run, "unworked")
    elif s.routed == "offered":
        s.routing_tried.append(s.routing_rule or "")
        ask(run, "claim_window")
    else:
        s.routing_tried = []  # nobody could take it: the chain from its start
        ask(run, "retry")


def routed(run: Run, event: LeadRouted) -> None:
    """The routing's answer: an answer to an attempt since superseded changes nothing, nor
    the same taker heard twice."""
    s = run.s
    if event.attempt != s.routing_attempt or s.routed == "closed":
        return
    if s.routed == "agent" and event.agent is None:
        return
    key = f"routing:{event.attempt}"
    if event.agent is not None and event.designation is not None:
        if s.routed == "agent" and s.routed_to == event.agent.id:
            return
        run.audit(f"{key}:taken" if s.routed == "offered" else key, "note", event.why)
        s.agenda = [a for a in s.agenda if not a.key.startswith(("routing:", "worked:"))]
        s.routed, s.routing_rule, s.routed_to = "agent", event.rule, event.agent.id
        s.worked_at = None
        gate.designations_changed(
            run, DesignationsChanged(assignments={event.designation: event.agent})
        )
        if event.work_by is not None:
            s.agenda.append(AgendaItem(key=_worked_key(s), due=event.work_by, kind="worked"))
        return
    run.audit(key, "note", event.why)
    s.routing_rule = event.rule
    if event.offered:
        s.routed = "offered"
        if event.until is not None:
            s.agenda.append(AgendaItem(key=key, due=event.until, kind="route"))
        return
    s.routed = "waiting"
    s.agenda.append(AgendaItem(key=key, due=run.now + RETRY, kind="route"))


def released(run: Run, event: LeadReleased) -> None:
    """The user given the lead gives it back: it goes on along the chain, past their rule."""
    s = run.s
    if s.routed != "agent" or s.routed_to != event.user:
        run.audit(f"release:{event.user}", "skipped", f"{event.user} does not hold the lead")
        return
    said = f": {event.why}" if event.why else ""
    run.audit(
        f"routing:{s.routing_attempt}:released", "note", f"{event.user} gave the lead back{said}"
    )
    s.agenda = [a for a in s.agenda if not a.key.startswith(("routing:", "worked:"))]
    s.routing_tried.append(s.routing_rule or "")
    ask(run, "released")


def acted(run: Run, event: Event) -> None:
    """A person's action on the lead: the first is speed to lead's end; one by the user
    given the lead is the lead worked."""
    actor = getattr(event, "actor", "system")
    if not isinstance(event, HUMAN) or actor in NOT_A_PERSON or actor.startswith("api key"):
        return
    s = run.s
    if s.created_at is not None and s.first_touch_at is None:
        s.first_touch_at = run.now
        seconds = int((run.now - s.created_at).total_seconds())
        run.emit(FirstTouch(at=run.now, by=actor, seconds=seconds))
        run.audit("first-touch", "note", f"first human touch by {actor}, {_took(seconds)}")
    if s.routed == "agent" and s.worked_at is None and actor in (s.routed_to, "agent"):
        s.worked_at = run.now


def closes(run: Run, event: Event) -> None:
    """The lead's assignment closes when it reaches a closed status, or its designation is
    given to another user by hand; its time to be worked ends with it."""
    s, routing = run.s, run.book.routing
    if routing is None or s.routed not in ("agent", "offered"):
        return
    why = None
    if s.status in routing.closed_statuses:
        why = f"routing closed: the lead is {s.status}"
    elif isinstance(event, DesignationsChanged) and s.routing_rule is not None:
        rule = _rule(run, s.routing_rule)
        if rule is not None and rule.designation in event.assignments:
            holder = s.designations.get(rule.designation)
            if holder is None or holder.id != s.routed_to:
                who = holder.id if holder is not None else "nobody"
                why = f"routing closed: {rule.designation} given to {who} by hand"
    if why is None:
        return
    s.routed = "closed"
    s.agenda = [a for a in s.agenda if not a.key.startswith(("routing:", "worked:"))]
    run.emit(CloseRouting(why=why))
    run.audit(f"routing:{s.routing_attempt}:closed", "note", why)


def _rule(run: Run, name: str) -> Rule | None:
    routing = run.book.routing
    found = [r for r in routing.rules if r.name == name] if routing is not None else []
    return found[0] if found else None


def _worked_key(s: EngineState) -> str:
    return f"worked:{s.routing_attempt}"


def _took(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} s after it came in"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s after it came in"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min after it came in"
