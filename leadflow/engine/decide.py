"""The cadence engine: `decide(playbook, state, event, now) -> Decision(state, commands)`.

Pure and deterministic: no Temporal, no database, no clock of its own. The workflow feeds it
events and runs the commands; tests and `leadflow playbook preview` call it directly.
Rules read like the playbooks they run: each one is a short function in the module of its
rule set.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, Protocol

from leadflow.engine import (
    actions,
    agent_messages,
    calls,
    campaigns,
    consent,
    contact,
    dates,
    due,
    gate,
    limits,
    migrate,
    reassigned,
    replies,
    routed,
    statuses,
)
from leadflow.engine.commands import CreateTask, Decision, InvalidChange, SaveParties
from leadflow.engine.events import (
    AgentWrote,
    CallLogged,
    CampaignChanged,
    ConsentRecorded,
    DeliveryFailed,
    DesignationsChanged,
    Event,
    FollowUpCompleted,
    FollowUpScheduled,
    HorizonStated,
    KeyDatesChanged,
    LeadCreated,
    LeadReleased,
    LeadRouted,
    NumberReassigned,
    OptedIn,
    OptedOut,
    PartiesChanged,
    PlaybookChanged,
    RelationshipDates,
    ReplyReceived,
    StatusChanged,
    TimerFired,
)
from leadflow.engine.refs import LeadRef
from leadflow.engine.run import (
    Run,
    merge,
)
from leadflow.engine.state import ConsentHeld, EngineState, Member, Party
from leadflow.playbook.law import LAW
from leadflow.playbook.schema import Playbook


class LeadFacts(Protocol):
    """What a new lead is created from (an ensure request): anything left out is the
    playbook's default."""

    @property
    def lead(self) -> LeadRef: ...
    @property
    def first_name(self) -> str | None: ...
    @property
    def last_name(self) -> str | None: ...
    @property
    def time_zone(self) -> str | None: ...
    @property
    def region(self) -> str | None: ...
    @property
    def loan_purpose(self) -> str | None: ...
    @property
    def milestone(self) -> str | None: ...
    @property
    def status(self) -> str | None: ...
    @property
    def horizon(self) -> date | None: ...
    @property
    def parties(self) -> Mapping[str, Party]: ...
    @property
    def designations(self) -> Mapping[str, Member]: ...
    @property
    def key_dates(self) -> Mapping[str, date]: ...
    @property
    def consents(self) -> Sequence[ConsentHeld]: ...
    @property
    def source(self) -> str | None: ...
    @property
    def tags(self) -> Sequence[str]: ...
    @property
    def language(self) -> str | None: ...
    @property
    def price(self) -> int | None: ...
    @property
    def review(self) -> str | None: ...


def decide(book: Playbook, state: EngineState, event: Event, now: datetime) -> Decision:
    """Apply one event at `now`, then everything that has come due; say what to do."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    run = Run(book, _working_copy(state), now.astimezone(UTC))
    _HANDLERS[type(event)](run, event)
    routed.acted(run, event)
    routed.closes(run, event)
    due.run_due(run)
    run.s.touches = [t for t in run.s.touches if t.at > run.now - limits.longest(book, run.s)]
    run.s.next_due = next_due(book, run.s)
    return Decision(state=run.s, commands=run.out)


def _working_copy(state: EngineState) -> EngineState:
    """A copy of the state that `decide` may change: its own dicts and lists, sharing the
    models they hold. Those are frozen, and the engine replaces them, never changes them,
    so a deep copy (a third of a decision's time) would copy what is never written."""
    own = {k: v.copy() for k, v in state.__dict__.items() if isinstance(v, dict | list)}
    return state.model_copy(update=own)


def new_state(book: Playbook, **facts: Any) -> EngineState:
    """The state of a lead before its LeadCreated event: the playbook's defaults plus facts."""
    facts.setdefault("milestone", book.defaults.milestone)
    facts.setdefault("status", book.defaults.status)
    facts.setdefault("time_zone", book.defaults.time_zone)
    facts.setdefault("law", LAW)
    return EngineState(playbook=book.name, playbook_version=book.version, **facts)


def next_due(book: Playbook, s: EngineState) -> datetime | None:
    """When the lead next needs the engine: the earliest agenda item or campaign step."""
    times = [item.due for item in s.agenda]
    if s.queue is not None and s.queue.callable_until is not None:
        times.append(s.queue.callable_until)  # queued again for the next window then
    times += [t for c in s.campaigns.values() if (t := campaigns.step_due(book, s, c)) is not None]
    return min(times, default=None)


def _lead_created(run: Run, event: LeadCreated) -> None:
    s = run.s
    if s.law >= 2 and s.inquired_at is None:  # the lead's own inquiry: a relationship begins
        s.inquired_at = run.now
    if s.parties:
        run.emit(SaveParties(parties=s.parties))
    if s.review is not None:  # an unknown sender's text: a person reads it first
        _held_for_review(run)
        return
    routed.new_lead(run)  # who takes it, when the playbook routes and it came unassigned
    for given in s.consents:  # those that came with the lead
        consent.noted(run, given)
    for i, action in enumerate(run.book.on_new_lead):
        actions.run_action(run, action, cause=f"new:{i}")
    status = run.book.status(s.status)
    if status.queue is not None:
        calls.queue(run, status.queue, run.now, key="new", notes="New lead")
    dates.schedule_date_rules(run, list(s.key_dates))
    if s.horizon is not None:  # stated on the lead as it came in
        horizon, s.horizon = s.horizon, None
        try:
            dates.horizon_stated(run, HorizonStated(horizon=horizon, actor="lead"))
        except InvalidChange as exc:
            run.audit("horizon", "skipped", f"no check-in set: {exc}")


def _held_for_review(run: Run) -> None:
    """A lead that came from a text no lead's number sent: a task asks a person who wrote;
    no routing, campaign or call runs until a person acts on the lead."""
    s, rule = run.s, run.book.unknown_senders
    for given in s.consents:
        consent.noted(run, given)
    run.emit(
        CreateTask(
            key="review",
            subject="A text from an unknown number: who wrote it?",
            assignee=rule.assignee if rule is not None else None,
            due_at=run.now,
            notes=s.review or "",
        )
    )
    run.audit("review", "note", "a text from an unknown number: nothing runs until a person acts")


def _parties_changed(run: Run, event: PartiesChanged) -> None:
    merge(run.s.parties, event.parties, run.book.parties, "party")
    run.emit(SaveParties(parties=run.s.parties))


def _timer_fired(run: Run, event: TimerFired) -> None:
    """Nothing to apply: `due.run_due` does the work every decision."""


def _delivery_failed(run: Run, event: DeliveryFailed) -> None:
    if event.reason == "not_sent":
        contact.not_sent(run, event)
    else:
        replies.delivery_failed(run, event)


_HANDLERS: dict[type, Callable[[Run, Any], None]] = {
    LeadCreated: _lead_created,
    StatusChanged: statuses.status_changed,
    CallLogged: statuses.call_logged,
    FollowUpScheduled: calls.follow_up_scheduled,
    FollowUpCompleted: calls.follow_up_completed,
    HorizonStated: dates.horizon_stated,
    ReplyReceived: replies.reply_received,
    OptedOut: gate.opted_out,
    OptedIn: gate.opted_in,
    KeyDatesChanged: dates.key_dates_changed,
    PartiesChanged: _parties_changed,
    DesignationsChanged: gate.designations_changed,
    CampaignChanged: campaigns.campaign_changed,
    TimerFired: _timer_fired,
    DeliveryFailed: _delivery_failed,
    AgentWrote: agent_messages.wrote,
    PlaybookChanged: migrate.playbook_changed,
    ConsentRecorded: consent.recorded,
    RelationshipDates: consent.relationship,
    NumberReassigned: reassigned.number_reassigned,
    LeadRouted: routed.routed,
    LeadReleased: routed.released,
}


def initial_state(book: Playbook, ensure: LeadFacts, *, law: int = LAW) -> EngineState:
    """The state of a new lead from an ensure request; refuses what the playbook lacks.
    `law`: the state-law table it follows (the workflow starts at 0 and moves it on)."""
    milestone = ensure.milestone or book.defaults.milestone
    status = ensure.status or book.defaults.status
    statuses.check_combination(book, milestone, status)
    if book.status(status).requires_follow_up:
        raise InvalidChange(
            f"a new lead cannot start as {status!r}: it requires a follow-up; create the lead, "
            "then change its status with one",
            "FollowUpRequired",
        )
    state = new_state(
        book,
        lead=ensure.lead,
        first_name=ensure.first_name,
        last_name=ensure.last_name,
        time_zone=ensure.time_zone or book.defaults.time_zone,
        region=ensure.region,
        loan_purpose=ensure.loan_purpose,
        milestone=milestone,
        status=status,
        horizon=ensure.horizon,
        law=law,
        source=ensure.source,
        tags=list(ensure.tags),
        language=ensure.language,
        price=ensure.price,
        review=ensure.review,
    )
    merge(state.parties, dict(ensure.parties), book.parties, "party")
    merge(state.designations, dict(ensure.designations), book.designations, "designation")
    merge(state.key_dates, dict(ensure.key_dates), book.key_dates, "key date")
    for given in ensure.consents:
        if given.party not in book.parties:
            raise InvalidChange(f"a consent names unknown party {given.party!r}", "UnknownParty")
        if all(c.id != given.id for c in state.consents):
            state.consents.append(given)
    return state


def describe_next(book: Playbook, s: EngineState) -> str | None:
    """'isa_call_campaign day 7 call': what the lead's next wake-up is for, in words."""
    if s.next_due is None:
        return None
    for item in s.agenda:
        if item.due == s.next_due:
            if item.kind == "date_rule":
                return f"date rule {item.rule}"
            if item.touch is not None:
                return f"{item.touch.channel} to {item.touch.party} (deferred)"
    for name in sorted(s.campaigns):
        campaign = s.campaigns[name]
        if campaigns.step_due(book, s, campaign) == s.next_due:
            steps = book.campaigns[name].steps
            if campaign.next_step >= len(steps):
                return f"{name} completes"
            step = steps[campaign.next_step]
            return f"{name} day {step.after.days} {step.do}"
    return "next step"
