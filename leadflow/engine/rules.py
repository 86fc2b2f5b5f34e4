"""The cadence engine: `decide(playbook, state, event, now) -> Decision(state, commands)`.

Pure and deterministic: no Temporal, no database, no clock of its own. The workflow feeds it
events and runs the commands; tests and `leadflow playbook preview` call it directly.
Rules read like the seeds: each one is a short function named after what it does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

import leadflow.engine.keywords as keywords
import leadflow.engine.localtime as localtime
import leadflow.engine.phones as phones
from leadflow.engine.vocabulary import (
    AgendaItem,
    Audit,
    CallLogged,
    CampaignChanged,
    CampaignRun,
    Channel,
    Command,
    CompleteTask,
    CreateTask,
    Decision,
    DeliveryFailed,
    DequeueCall,
    DesignationsChanged,
    EngineState,
    Event,
    FollowUp,
    FollowUpCompleted,
    FollowUpScheduled,
    HorizonStated,
    InvalidChange,
    KeyDatesChanged,
    LeadCreated,
    Member,
    OptedIn,
    OptedOut,
    PartiesChanged,
    Party,
    PendingTouch,
    QueueCall,
    QueueEntry,
    RecordHistory,
    RecordOptOut,
    ReplyReceived,
    SaveParties,
    SendMessage,
    SetStatus,
    StatusChanged,
    TimerFired,
    TouchLog,
)
from leadflow.playbook.schema import Action, Playbook, QueueLabel, Sender, Window
from leadflow.playbook.templates import TemplateProblem, render
from leadflow.workflows.messages import EnsureLead

APPOINTMENTS: tuple[QueueLabel, ...] = ("Callback", "Scheduled", "FollowUp")
MAX_STEPS_PER_DECISION = 500  # a guard, far above any real catch-up after downtime


@dataclass
class _Run:
    """One decision in progress: the playbook, the state being changed, the commands so far."""

    book: Playbook
    s: EngineState
    now: datetime
    out: list[Command] = field(default_factory=list)

    def emit(self, command: Command) -> None:
        self.out.append(command)

    def audit(self, key: str, outcome: Any, reason: str, until: datetime | None = None) -> None:
        self.out.append(Audit(key=key, outcome=outcome, reason=reason, until=until))


def decide(book: Playbook, state: EngineState, event: Event, now: datetime) -> Decision:
    """Apply one event at `now`, then everything that has come due; say what to do."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    run = _Run(book, state.model_copy(deep=True), now.astimezone(UTC))
    _HANDLERS[type(event)](run, event)
    _run_due(run)
    run.s.touches = [t for t in run.s.touches if t.at > run.now - _longest_cap(book)]
    run.s.next_due = next_due(book, run.s)
    return Decision(state=run.s, commands=run.out)


def new_state(book: Playbook, **facts: Any) -> EngineState:
    """The state of a lead before its LeadCreated event: the playbook's defaults plus facts."""
    facts.setdefault("milestone", book.defaults.milestone)
    facts.setdefault("status", book.defaults.status)
    facts.setdefault("time_zone", book.defaults.time_zone)
    return EngineState(playbook=book.name, playbook_version=book.version, **facts)


def next_due(book: Playbook, s: EngineState) -> datetime | None:
    """When the lead next needs the engine: the earliest agenda item or campaign step."""
    times = [item.due for item in s.agenda]
    times += [t for c in s.campaigns.values() if (t := _step_due(book, s, c)) is not None]
    return min(times, default=None)


# ---- events --------------------------------------------------------------------------------


def _lead_created(run: _Run, event: LeadCreated) -> None:
    s = run.s
    if s.parties:
        run.emit(SaveParties(parties=s.parties))
    for i, action in enumerate(run.book.on_new_lead):
        _action(run, action, cause=f"new:{i}")
    status = run.book.status(s.status)
    if status.queue is not None:
        _queue(run, status.queue, run.now, key="new", notes="New lead")
    _schedule_date_rules(run, list(s.key_dates))
    if s.horizon is not None:  # stated on the lead as it came in
        horizon, s.horizon = s.horizon, None
        try:
            _horizon_stated(run, HorizonStated(horizon=horizon, actor="lead"))
        except InvalidChange as exc:
            run.audit("horizon", "skipped", f"no check-in set: {exc}")


def _status_changed(run: _Run, event: StatusChanged) -> None:
    s = run.s
    milestone = event.milestone or s.milestone
    status = event.status or s.status
    _check_combination(run.book, milestone, status)
    if event.follow_up is not None:
        _check_follow_up(run, event.follow_up)
    _check_follow_up_required(run, status, event.follow_up)
    contacted_before = s.contacted
    _apply_change(run, milestone, status, event.action, event.note, event.actor)
    if event.follow_up is not None:
        _add_follow_up(run, event.follow_up, _open_prompt(run))
    if run.book.contact_prompt is not None and s.contacted and not contacted_before:
        _prompt_next_call(run, f"set-callback:{s.changes}")


def _call_logged(run: _Run, event: CallLogged) -> None:
    s, book = run.s, run.book
    disposition = book.dispositions.get(event.disposition)
    if disposition is None:
        raise InvalidChange(
            f"unknown disposition {event.disposition!r}; "
            f"use one of {', '.join(book.dispositions) or '(none configured)'}",
            "UnknownDisposition",
        )
    _check_combination(book, s.milestone, disposition.status)
    if event.follow_up is not None:
        _check_follow_up(run, event.follow_up)
    _check_follow_up_required(run, disposition.status, event.follow_up)
    if event.channel == "call" and event.direction == "outbound":
        s.call_attempts += 1
    note = f"{event.channel} {event.direction}: {event.disposition}"
    if event.comments:
        note += f". {event.comments}"
    prompt = _open_prompt(run)
    contacted_before = s.contacted
    if disposition.contact:
        _contact_made(run)
    _dequeue(run, f"call logged: {event.disposition}")
    _apply_change(run, s.milestone, disposition.status, "Call", note, event.actor)
    s.hold_until = run.now + disposition.hold
    if event.follow_up is not None:
        _add_follow_up(run, event.follow_up, prompt)  # a follow-up overrides the hold (M19)
        if s.queue is None:  # not a call: the lead is still back on the follow-up's date
            _queue_follow_up(run, event.follow_up)
        if s.queue is None and prompt is not None:
            _prompt_next_call(run, prompt)
        return
    made_contact = disposition.contact or (s.contacted and not contacted_before)
    if run.book.contact_prompt is not None and (made_contact or prompt is not None):
        _prompt_next_call(run, prompt or f"set-callback:{s.changes}")
    elif disposition.requeue:
        _return_to_queue(run, disposition.hold)


def _follow_up_scheduled(run: _Run, event: FollowUpScheduled) -> None:
    _check_follow_up(run, event.follow_up)
    _add_follow_up(run, event.follow_up)
    _history(run, "Follow Up", f"Follow-up scheduled: {event.follow_up.subject}", event.actor)


def _follow_up_completed(run: _Run, event: FollowUpCompleted) -> None:
    s = run.s
    found = next((f for f in s.follow_ups if f.id == event.id and not f.completed), None)
    if found is None:
        raise InvalidChange(f"no open follow-up with id {event.id!r}", "UnknownFollowUp")
    s.follow_ups = [
        f.model_copy(update={"completed": True}) if f is found else f for f in s.follow_ups
    ]
    run.emit(CompleteTask(key=f"follow-up:{found.id}"))
    if s.queue is not None and s.queue.key == f"follow-up:{found.id}":
        _dequeue(run, "follow-up completed")
    _history(run, "Follow Up", f"Follow-up completed: {found.subject}", event.actor)


def _horizon_stated(run: _Run, event: HorizonStated) -> None:
    """M21: check in at the latest after a third (configurable) of the time to the horizon."""
    s = run.s
    horizon = localtime.at_local(event.horizon, time(10), s.time_zone)
    if horizon <= run.now:
        raise InvalidChange(f"horizon {event.horizon} is not in the future", "InvalidHorizon")
    s.horizon = event.horizon
    limit = _horizon_limit(run)
    assert limit is not None
    if not any(f.start_at <= limit for f in _open_follow_ups(run)):
        start = _calling_hours(run, limit - timedelta(hours=12))
        follow_up = FollowUp(
            id=f"horizon:{event.horizon.isoformat()}",
            subject="Call",
            start_at=min(start, limit) if start > run.now else limit,
            notes=f"Wants to move around {event.horizon:%b %Y}: check in",
        )
        _add_follow_up(run, follow_up)
    _history(run, "Lead Update", f"Horizon stated: {event.horizon.isoformat()}", event.actor)


def _reply_received(run: _Run, event: ReplyReceived) -> None:
    s = run.s
    meaning = event.keyword or (keywords.keyword(event.body) if event.channel != "email" else None)
    said = f"{event.party} replied {event.body.strip()[:40]!r}"
    if meaning == "stop":
        _opted_out(run, OptedOut(channel="sms", source=f"reply {event.body.strip()[:40]}"))
        return
    if meaning == "start":
        _opted_in(run, OptedIn(channel="sms"))
        return
    if meaning == "help":
        run.audit("reply:help", "note", f"{said}: answered with the help text, nothing else")
        return
    s.replied = True
    for name in sorted(s.campaigns):
        if run.book.campaigns[name].stop_on_reply:
            _stop_campaign(run, name, f"reply received by {event.channel}")
    _history(run, "Reply", f"Reply by {event.channel} from {event.party}", event.party)


_OPT_OUT_COVERS: dict[str, set[Channel]] = {
    "all": {"sms", "mms", "email", "call"},
    "sms": {"sms", "mms"},  # texts cover MMS too
    "email": {"email"},
    "call": {"call"},
}


def _channels(named: str) -> set[Channel]:
    return _OPT_OUT_COVERS[named]


def _addresses(s: EngineState, channels: set[Channel]) -> list[str]:
    """The lead's own phone and email, as far as the channels go."""
    borrower = _primary_party(s)
    if borrower is None:
        return []
    found = {borrower.phone} if channels - {"email"} else set()
    if "email" in channels:
        found.add(borrower.email)
    return sorted(a for a in found if a)


def _opted_out(run: _Run, event: OptedOut) -> None:
    s = run.s
    channels = _channels(event.channel)
    s.opted_out = sorted(set(s.opted_out) | channels)
    s.agenda = [a for a in s.agenda if not (a.touch and a.touch.channel in channels)]
    if "call" in channels:
        _dequeue(run, "opted out of calls")
    run.emit(
        RecordOptOut(
            channels=sorted(channels), addresses=_addresses(s, channels), source=event.source
        )
    )
    run.audit(f"opt-out:{event.channel}", "note", f"opted out of {event.channel} ({event.source})")


def _opted_in(run: _Run, event: OptedIn) -> None:
    channels = _channels(event.channel)
    run.s.opted_out = [c for c in run.s.opted_out if c not in channels]
    run.emit(
        RecordOptOut(
            channels=sorted(channels),
            addresses=_addresses(run.s, channels),
            source="lead",
            opted_in=True,
        )
    )
    run.audit(f"opt-in:{event.channel}", "note", f"opted back in to {event.channel}")


def _merge(into: dict[str, Any], changes: dict[str, Any], known: list[str], what: str) -> None:
    """Set or (with None) remove named facts, refusing names the playbook does not define."""
    for name in changes:
        if name not in known:
            raise InvalidChange(
                f"unknown {what} {name!r}; the playbook has {', '.join(known) or '(none)'}",
                f"Unknown{what.title().replace(' ', '')}",
            )
    for name, value in changes.items():
        if value is None:
            into.pop(name, None)
        else:
            into[name] = value


def _key_dates_changed(run: _Run, event: KeyDatesChanged) -> None:
    _merge(run.s.key_dates, event.dates, run.book.key_dates, "key date")
    _schedule_date_rules(run, list(event.dates))


def _parties_changed(run: _Run, event: PartiesChanged) -> None:
    _merge(run.s.parties, event.parties, run.book.parties, "party")
    run.emit(SaveParties(parties=run.s.parties))


def _designations_changed(run: _Run, event: DesignationsChanged) -> None:
    s = run.s
    _merge(s.designations, event.assignments, run.book.designations, "designation")
    # Held actions waiting for a designation become due now (M8); so is the task asking for it.
    for designation in sorted(event.assignments):
        first = _first_held(s, designation)
        if first is not None and designation in s.designations:
            run.emit(CompleteTask(key=_assign_key(designation, first)))
            run.audit(_assign_key(designation, first), "note", f"{designation} assigned")
    s.agenda = [
        a.model_copy(update={"due": run.now, "kind": "touch"})
        if a.kind == "held" and a.designation in s.designations
        else a
        for a in s.agenda
    ]


def _campaign_changed(run: _Run, event: CampaignChanged) -> None:
    s, book = run.s, run.book
    if event.campaign not in book.campaigns:
        raise InvalidChange(
            f"unknown campaign {event.campaign!r}; the playbook has {', '.join(book.campaigns)}",
            "UnknownCampaign",
        )
    running = s.campaigns.get(event.campaign)
    if event.op == "start":
        _enroll(run, event.campaign, f"started by {event.actor}", asked=True)
    elif event.op == "switch":
        if event.switch_from is None or event.switch_from not in s.campaigns:
            raise InvalidChange(
                f"cannot switch from {event.switch_from!r}: it is not running on this lead",
                "CampaignNotRunning",
            )
        _stop_campaign(run, event.switch_from, f"switched to {event.campaign} by {event.actor}")
        _enroll(
            run, event.campaign, f"switched from {event.switch_from} by {event.actor}", asked=True
        )
    elif running is None:
        raise InvalidChange(
            f"campaign {event.campaign!r} is not running on this lead", "CampaignNotRunning"
        )
    elif event.op == "pause":
        if running.paused_at is None:
            s.campaigns[event.campaign] = running.model_copy(update={"paused_at": run.now})
            run.audit(_run_key(running), "note", f"paused by {event.actor}")
    elif event.op == "resume":
        if running.paused_at is not None:
            shift = running.shift + (run.now - running.paused_at)
            s.campaigns[event.campaign] = running.model_copy(
                update={"paused_at": None, "shift": shift}
            )
            run.audit(_run_key(running), "note", f"resumed by {event.actor}")
    else:
        _stop_campaign(run, event.campaign, f"cancelled by {event.actor}")


def _timer_fired(run: _Run, event: TimerFired) -> None:
    """Nothing to apply: `_run_due` does the work every decision."""


def _delivery_failed(run: _Run, event: DeliveryFailed) -> None:
    s = run.s
    if event.reason == "opted_out":
        _opted_out(run, OptedOut(channel="sms", source="carrier"))
        return
    if event.reason == "filtered":  # the carrier filters the content: a person should look
        owner = run.book.defaults.sender
        _task(
            run,
            f"filtered:{event.key}",
            "Messages are being filtered by the carrier: review the template and the sender number",
            owner,
            run.now,
        )
        run.audit(event.key, "note", "delivery failed: filtered by the carrier")
        return
    channels = ["sms", "mms", "call"] if event.reason == "bad_number" else [event.channel]
    s.unreachable = sorted(set(s.unreachable) | set(channels))  # type: ignore[arg-type]
    run.audit(event.key, "note", f"delivery failed: {event.reason}")
    if event.reason == "bad_number":
        _dequeue(run, "bad phone number")
        bad = next((st.name for st in run.book.statuses if st.name == "Bad Phone Number"), None)
        if bad is not None and bad in run.book.links.get(s.milestone, []):
            _apply_change(
                run, s.milestone, bad, "Lead Update", "Carrier: number unusable", "system"
            )


_HANDLERS: dict[type, Callable[[_Run, Any], None]] = {
    LeadCreated: _lead_created,
    StatusChanged: _status_changed,
    CallLogged: _call_logged,
    FollowUpScheduled: _follow_up_scheduled,
    FollowUpCompleted: _follow_up_completed,
    HorizonStated: _horizon_stated,
    ReplyReceived: _reply_received,
    OptedOut: _opted_out,
    OptedIn: _opted_in,
    KeyDatesChanged: _key_dates_changed,
    PartiesChanged: _parties_changed,
    DesignationsChanged: _designations_changed,
    CampaignChanged: _campaign_changed,
    TimerFired: _timer_fired,
    DeliveryFailed: _delivery_failed,
}


# ---- milestones and statuses (M2-M6, M9) --------------------------------------------------


def _check_combination(book: Playbook, milestone: str, status: str) -> None:
    if milestone not in book.milestones:
        raise InvalidChange(
            f"unknown milestone {milestone!r}; the playbook has {', '.join(book.milestones)}",
            "UnknownMilestone",
        )
    if not book.has_status(status):
        raise InvalidChange(
            f"unknown status {status!r}; the playbook has "
            f"{', '.join(s.name for s in book.statuses)}",
            "UnknownStatus",
        )
    allowed = book.links.get(milestone, [])
    if status not in allowed:
        raise InvalidChange(
            f"status {status!r} is not linked with milestone {milestone!r}; "
            f"allowed: {', '.join(allowed) or '(none)'}",
            "NotLinked",
        )


def _check_follow_up_required(run: _Run, status: str, given: FollowUp | None) -> None:
    if run.book.status(status).requires_follow_up and given is None and not _open_follow_ups(run):
        raise InvalidChange(
            f"status {status!r} requires a future follow-up: schedule one with this change",
            "FollowUpRequired",
        )


def _apply_change(
    run: _Run, milestone: str, status: str, action: str, note: str, actor: str
) -> None:
    s, book = run.s, run.book
    milestone_moved, status_moved = milestone != s.milestone, status != s.status
    s.milestone, s.status = milestone, status
    s.changes += 1
    run.emit(SetStatus(milestone=milestone, status=status))
    _history(run, action, note, actor)
    new_status = book.status(status)
    if status_moved and new_status.contacted:
        _contact_made(run)
    if status_moved and "call" in new_status.blocks:
        _dequeue(run, f"status {status} blocks calls")
    if milestone_moved:
        _milestone_actions(run, milestone)
    if status_moved and new_status.queue is not None:
        _queue(run, new_status.queue, run.now, key=f"status:{s.changes}", notes=f"Now {status}")


def _milestone_actions(run: _Run, milestone: str) -> None:
    flow = run.book.milestone_actions.get(milestone)
    if flow is None:
        return
    purpose = run.s.loan_purpose
    actions = flow.actions
    cause = f"milestone:{run.s.changes}"
    if flow.variants:
        if purpose is not None and purpose in flow.variants:
            actions = flow.variants[purpose]
            run.audit(cause, "note", f"loan purpose {purpose!r}: using its workflow")
        else:
            run.audit(cause, "note", f"loan purpose {purpose!r} matches no workflow: default used")
    for i, action in enumerate(actions):
        _action(run, action, cause=f"{cause}:{i}")


def _history(run: _Run, action: str, note: str, actor: str) -> None:
    s = run.s
    run.emit(
        RecordHistory(
            key=f"history:{s.changes}:{len(run.out)}",
            action=action,
            milestone=s.milestone,
            status=s.status,
            note=note,
            actor=actor,
        )
    )


def _contact_made(run: _Run) -> None:
    s = run.s
    if s.contacted:
        return
    s.contacted = True
    for name in sorted(s.campaigns):
        if run.book.campaigns[name].stop_on_contact:
            _stop_campaign(run, name, "contact made")
    if s.queue is not None and s.queue.label in ("CallASAP", "Redial"):
        _dequeue(run, "contact made")


# ---- actions (M6-M8, M10) -------------------------------------------------------------------


def _action(run: _Run, action: Action, cause: str, due: datetime | None = None) -> None:
    """Run an action that came due at `due` (now, unless a timer fired it a little late)."""
    due = due or run.now
    s = run.s
    window = action.stop_communication
    if window is not None and window.key_date in s.key_dates:
        key_day = s.key_dates[window.key_date]
        starts = localtime.at_local(key_day, time(0), s.time_zone) - window.within
        if run.now >= starts:
            run.audit(
                cause,
                "skipped",
                f"stop communication: within {window.within} of "
                f"{window.key_date} ({key_day.isoformat()})",
            )
            return
    if action.do in ("sms", "mms", "email"):
        assert action.template is not None
        for party in action.share_with:
            touch = PendingTouch(
                key=f"{cause}:{party}",
                channel=action.do,
                party=party,
                template=action.template,
                media=action.media,
                sender_designation=_sender(run, action.share_from).designation,
                sender_user=_sender(run, action.share_from).user,
                cause=cause,
            )
            _touch(run, touch)
    elif action.do == "task":
        assert action.subject is not None
        _task(run, cause, action.subject, action.assignee, due + action.due_in)
    elif action.do == "campaign":
        assert action.campaign is not None
        _enroll(run, action.campaign, f"started by {cause}")
    else:
        assert action.label is not None
        _queue(run, action.label, due, key=cause, notes="")


def _sender(run: _Run, given: Sender | None) -> Sender:
    return given or run.book.defaults.sender


def _member(run: _Run, sender: Sender) -> Member | None:
    if sender.user is not None:
        user = run.book.users[sender.user]
        return Member(id=sender.user, name=user.name, phone=user.phone, email=user.email)
    assert sender.designation is not None
    return run.s.designations.get(sender.designation)


def _task(
    run: _Run, key: str, subject: str, assignee: Sender | None, due: datetime, notes: str = ""
) -> None:
    who = None
    if assignee is not None:
        member = _member(run, assignee)
        if member is None:
            notes = f"No {assignee.designation} is assigned on this lead: assign one."
        else:
            who = member.id
    run.emit(CreateTask(key=key, subject=subject, assignee=who, due_at=due, notes=notes))
    run.audit(key, "fired", f"task: {subject}")


# ---- touches and the compliance gate (B2) --------------------------------------------------


def _touch(run: _Run, touch: PendingTouch) -> None:
    """Send now if the law and the lead allow it; otherwise defer, hold or skip, with why."""
    s, book = run.s, run.book
    party = s.parties.get(touch.party)
    address = None
    if party is not None:
        address = party.email if touch.channel == "email" else party.phone
    blocked_by = next((st for st in [book.status(s.status)] if touch.channel in st.blocks), None)
    reason = None
    if party is None:
        reason = f"the lead has no {touch.party}"
    elif address is None:
        reason = f"{touch.party} has no {'email' if touch.channel == 'email' else 'phone'}"
    elif touch.channel in s.opted_out:
        reason = f"{touch.party} opted out of {touch.channel}"
    elif touch.channel in s.unreachable:
        reason = f"{touch.channel} to this lead is undeliverable"
    elif blocked_by is not None:
        reason = f"status {blocked_by.name} blocks {touch.channel}"
    elif (
        touch.channel in ("sms", "mms")
        and book.compliance.sms_requires_consent
        and not party.sms_consent
    ):
        reason = "no recorded consent for automated texts"
    if reason is not None:
        run.audit(touch.key, "skipped", reason)
        return
    assert party is not None and address is not None
    sender = Sender(designation=touch.sender_designation, user=touch.sender_user)
    member = _member(run, sender)
    if member is None:
        _hold(run, touch, sender.designation or "?")
        return
    zones, window, region = _reach(run, party, touch.channel, address)
    earliest, why = run.now, ""
    cap = book.compliance.frequency_caps.get(region or "") or book.compliance.frequency_caps.get(
        "default"
    )
    if cap is not None:
        recent = sorted(t.at for t in s.touches if t.address == address)
        recent = [at for at in recent if at > run.now - cap.per]
        if len(recent) >= cap.max:
            earliest = recent[len(recent) - cap.max] + cap.per
            why = f"frequency cap: {cap.max} per {cap.per} ({region or 'default'})"
    opens = localtime.opening_in_all(earliest, zones, window.start, window.end)
    if opens > run.now:
        if not why or opens > earliest:
            quiet = _quiet_hours(book, region, zones)
            why = f"{why}; then {quiet}" if why else quiet
        _defer(run, touch, opens, why)
        return
    context = _context(run, touch.party, member)
    template = book.templates[touch.template]
    try:
        body = render(template.body, context)
        subject = render(template.subject, context) if template.subject else None
    except TemplateProblem as exc:
        run.audit(touch.key, "skipped", f"template {touch.template}: {exc}")
        return
    run.emit(
        SendMessage(
            key=touch.key,
            channel=touch.channel,
            party=touch.party,
            to=address,
            sender=member,
            template=touch.template,
            subject=subject,
            body=body,
            media=touch.media,
        )
    )
    s.touches.append(TouchLog(at=run.now, address=address))
    run.audit(touch.key, "fired", f"{touch.channel} to {touch.party} ({touch.cause})")


def _quiet_hours(book: Playbook, region: str | None, zones: list[str]) -> str:
    rules = book.compliance
    where = f"{region} " if region in rules.state_quiet_hours else ""
    window = rules.state_quiet_hours.get(region or "", rules.quiet_hours)
    return f"quiet hours: {where}window {window.start:%H:%M}-{window.end:%H:%M} {', '.join(zones)}"


def _reach(
    run: _Run, party: Party | None, channel: Channel, address: str | None
) -> tuple[list[str], Window, str | None]:
    """Where and when a party may be reached, one rule for calls, texts and emails: their own
    zone and, by phone, the zones of the number's area code (the stricter wins), in their
    state's window."""
    s, rules = run.s, run.book.compliance
    own = (party.time_zone if party is not None else None) or s.time_zone
    by_phone = channel in ("sms", "mms", "call") and address is not None
    zones = sorted({own, *(phones.zones_for(address) if by_phone and address else ())})
    region = (party.region if party is not None else None) or s.region
    return zones, rules.state_quiet_hours.get(region or "", rules.quiet_hours), region


def _primary_party(s: EngineState) -> Party | None:
    """Who the lead is: the borrower, or the first party on file."""
    return s.parties.get("borrower") or next(iter(s.parties.values()), None)


def _defer(run: _Run, touch: PendingTouch, until: datetime, why: str) -> None:
    run.s.agenda.append(AgendaItem(key=touch.key, due=until, kind="touch", touch=touch))
    run.audit(touch.key, "deferred", why, until=until)


def _hold(run: _Run, touch: PendingTouch, designation: str) -> None:
    """M8: nothing is sent from the wrong person. Hold it and ask for the assignment."""
    s = run.s
    first = _first_held(s, designation)
    s.agenda.append(
        AgendaItem(
            key=touch.key, due=_far_future(run), kind="held", touch=touch, designation=designation
        )
    )
    if first is not None:  # one open task per designation, whatever it holds
        run.audit(
            touch.key,
            "held",
            f"no {designation} assigned on the lead: held until one is "
            f"(the task to assign one is open since {first})",
        )
        return
    owner = run.book.defaults.sender
    _task(
        run,
        _assign_key(designation, touch.key),
        f"Assign a {designation} to this lead",
        owner if owner.designation != designation else None,
        run.now,
    )
    run.audit(
        touch.key,
        "held",
        f"no {designation} assigned on the lead: "
        "held until one is, and a task to assign one was created",
    )


def _first_held(s: EngineState, designation: str) -> str | None:
    """The held touch that opened the designation's assign task, while any is held."""
    return next(
        (a.key for a in s.agenda if a.kind == "held" and a.designation == designation), None
    )


def _assign_key(designation: str, first_held: str) -> str:
    return f"assign:{designation}:{first_held}"


def _far_future(run: _Run) -> datetime:
    return run.now + timedelta(days=3650)


def _context(run: _Run, role: str, sender: Member) -> dict[str, Any]:
    s = run.s
    party = s.parties[role]
    full = " ".join(p for p in (s.first_name, s.last_name) if p)
    return {
        "lead": {
            "first_name": s.first_name or "there",
            "last_name": s.last_name or "",
            "full_name": full or "there",
            "name": full or "there",
            "loan_purpose": s.loan_purpose or "",
            "milestone": s.milestone,
            "status": s.status,
        },
        "party": {
            "role": role,
            "name": party.name or "there",
            "first_name": party.first_name or "there",
            "last_name": (party.name or "").split()[-1] if party.name else "",
        },
        "sender": {
            "name": sender.name,
            "first_name": sender.name.split()[0],
            "phone": sender.phone or "",
            "email": sender.email or "",
        },
        "dates": {name: f"{day:%a %b} {day.day}" for name, day in s.key_dates.items()},
        "campaign": "",
    }


def _longest_cap(book: Playbook) -> timedelta:
    return max(
        (cap.per for cap in book.compliance.frequency_caps.values()), default=timedelta(days=1)
    )


# ---- campaigns (M12-M16) ---------------------------------------------------------------------


def _run_key(run: CampaignRun) -> str:
    return f"campaign:{run.name}:{run.run}"


def _enroll(run: _Run, name: str, why: str, *, asked: bool = False) -> None:
    """Start a campaign; `asked` when a person asked for it, who hears why it cannot run."""
    s = run.s
    if s.contacted and run.book.campaigns[name].stop_on_contact:
        message = f"campaign {name!r} runs until contact, and this lead was already contacted"
        if asked:
            raise InvalidChange(message, "CampaignNotApplicable")
        run.audit(f"campaign:{name}", "skipped", message)
        return
    if name in s.campaigns:
        run.audit(_run_key(s.campaigns[name]), "note", f"already running; {why} ignored")
        return
    number = s.campaign_runs.get(name, 0) + 1
    s.campaign_runs[name] = number
    s.campaigns[name] = CampaignRun(name=name, run=number, started_at=run.now)
    run.audit(f"campaign:{name}:{number}", "note", f"enrolled: {why}")


def _stop_campaign(run: _Run, name: str, why: str) -> None:
    campaign = run.s.campaigns.pop(name, None)
    if campaign is not None:
        run.audit(_run_key(campaign), "stopped", why)
        prefix = _run_key(campaign) + ":"
        run.s.agenda = [a for a in run.s.agenda if not a.key.startswith(prefix)]


def _step_due(book: Playbook, s: EngineState, campaign: CampaignRun) -> datetime | None:
    """When the campaign's next step is due (its completion, past the last step)."""
    if campaign.paused_at is not None:
        return None
    base = campaign.started_at + campaign.shift
    steps = book.campaigns[campaign.name].steps
    if campaign.next_step >= len(steps):
        return localtime.add_wall_clock(base, steps[-1].after, s.time_zone)
    step = steps[campaign.next_step]
    due = localtime.add_wall_clock(base, step.after, s.time_zone)
    if step.at is not None:
        due = localtime.at_local(localtime.local_date(due, s.time_zone), step.at, s.time_zone)
        due = max(due.astimezone(UTC), base)
    return due


def _run_campaign_step(run: _Run, name: str, due: datetime) -> None:
    s = run.s
    campaign = s.campaigns[name]
    spec = run.book.campaigns[name]
    if campaign.next_step >= len(spec.steps):
        s.campaigns.pop(name)
        run.audit(_run_key(campaign), "completed", "all steps done")
        outcome = spec.on_complete
        if outcome is not None:
            milestone = outcome.milestone or s.milestone
            status = outcome.status or s.status
            try:
                _check_combination(run.book, milestone, status)
                _check_follow_up_required(run, status, None)
            except InvalidChange as exc:
                run.audit(_run_key(campaign), "skipped", f"update upon completion: {exc}")
                return
            _apply_change(
                run,
                milestone,
                status,
                "Lead Update",
                f"Campaign {name} completed with no reply",
                f"campaign:{name}",
            )
        return
    step = spec.steps[campaign.next_step]
    key = f"{_run_key(campaign)}:{campaign.next_step}"
    s.campaigns[name] = campaign.model_copy(update={"next_step": campaign.next_step + 1})
    if step.do == "call":
        first = campaign.next_step == next(i for i, st in enumerate(spec.steps) if st.do == "call")
        label = step.label or ("CallASAP" if first and s.call_attempts == 0 else "Redial")
        _queue(run, label, due, key=key, notes=f"{name}: day {step.after.days} call")
    elif step.do == "task":
        assert step.subject is not None
        _task(run, key, step.subject, step.share_from, due)
    else:
        assert step.template is not None
        sender = _sender(run, step.share_from)
        for party in step.share_with:
            _touch(
                run,
                PendingTouch(
                    key=f"{key}:{party}",
                    channel=step.do,
                    party=party,
                    template=step.template,
                    media=step.media,
                    sender_designation=sender.designation,
                    sender_user=sender.user,
                    cause=f"{name} step {campaign.next_step + 1}",
                ),
            )


# ---- the call queue (M17-M20, M22-M23) ------------------------------------------------------


def _call_reach(run: _Run) -> tuple[list[str], Window, str | None]:
    party = _primary_party(run.s)
    return _reach(run, party, "call", party.phone if party is not None else None)


def _calling_hours(run: _Run, moment: datetime) -> datetime:
    """The first moment at or after `moment` the lead may be called (the same gate as texts)."""
    zones, window, _ = _call_reach(run)
    return localtime.opening_in_all(moment, zones, window.start, window.end)


def _cycle(run: _Run, moment: datetime) -> tuple[float, int]:
    """M23: the production-cycle band the lead is in on that day: (interval factor, boost)."""
    s = run.s
    day = localtime.local_date(moment, s.time_zone).day
    for band in run.book.production_cycle:
        if not band.first_day <= day <= band.last_day:
            continue
        if band.milestones and s.milestone not in band.milestones:
            continue
        if band.contacted is not None and band.contacted != s.contacted:
            continue
        return band.interval_factor, band.priority_boost
    return 1.0, 0


def _queue(run: _Run, label: QueueLabel, at: datetime, key: str, notes: str) -> None:
    s, book = run.s, run.book
    status = book.status(s.status)
    blocked = (
        ("call" in status.blocks and f"status {status.name} blocks calls")
        or ("call" in s.opted_out and "opted out of calls")
        or ("call" in s.unreachable and "phone number unusable")
    )
    if blocked:
        run.audit(key, "skipped", f"call not queued: {blocked}")
        return
    if label == "Redial" and s.contacted:
        run.audit(key, "skipped", "no redial: contact already made")
        return
    existing = s.queue
    if existing is not None and existing.label in APPOINTMENTS and label not in APPOINTMENTS:
        run.audit(
            key,
            "skipped",
            f"{existing.label} already queued for {existing.available_at.isoformat()}",
        )
        return
    if label == "Redial" and s.hold_until is not None:
        at = max(at, s.hold_until)  # CallASAP and appointments are not held back
    available = _calling_hours(run, at)
    _, boost = _cycle(run, available)
    priority = book.priorities.get(label, 0) + status.priority + boost
    entry = QueueEntry(key=key, label=label, priority=priority, available_at=available, notes=notes)
    s.queue = entry
    run.emit(
        QueueCall(key=key, label=label, priority=priority, available_at=available, notes=notes)
    )
    if available > at:
        zones, _, region = _call_reach(run)
        reason = _quiet_hours(book, region, zones) + ": queued for the next window"
        run.audit(key, "deferred", reason, until=available)
    else:
        run.audit(key, "fired", f"queued as {label}")


def _dequeue(run: _Run, reason: str) -> None:
    if run.s.queue is not None:
        run.s.queue = None
        run.emit(DequeueCall(reason=reason))


def _return_to_queue(run: _Run, hold: timedelta) -> None:
    """After a call: back after the hold, or after the status's callback period (M19, M22)."""
    s = run.s
    wait = hold
    period = run.book.callback_periods.get(s.status)
    if period is not None:
        factor, _ = _cycle(run, run.now)
        wait = max(wait, period.min * factor)
    label: QueueLabel = "Callback" if s.contacted else "Redial"
    s.hold_until = run.now + wait
    _queue(run, label, run.now + wait, key=f"return:{s.changes}", notes=f"Back after {s.status}")


def _open_follow_ups(run: _Run) -> list[FollowUp]:
    return [f for f in run.s.follow_ups if not f.completed and f.start_at > run.now]


def _horizon_limit(run: _Run) -> datetime | None:
    if run.s.horizon is None:
        return None
    horizon = localtime.at_local(run.s.horizon, time(10), run.s.time_zone).astimezone(UTC)
    return run.now + (horizon - run.now) * run.book.follow_ups.horizon_fraction


def _check_follow_up(run: _Run, follow_up: FollowUp) -> None:
    rules = run.book.follow_ups
    if follow_up.subject not in rules.subjects:
        raise InvalidChange(
            f"unknown follow-up subject {follow_up.subject!r}; use one of "
            f"{', '.join(rules.subjects)}",
            "InvalidFollowUp",
        )
    if follow_up.duration not in rules.durations:
        allowed = ", ".join(f"{int(d.total_seconds() // 60)}m" for d in rules.durations)
        raise InvalidChange(f"follow-up duration must be one of {allowed}", "InvalidFollowUp")
    if follow_up.start_at <= run.now:
        raise InvalidChange(
            f"follow-up start {follow_up.start_at.isoformat()} is in the past", "InvalidFollowUp"
        )
    limit = _horizon_limit(run)
    if limit is not None and follow_up.start_at > limit:
        raise InvalidChange(
            f"the lead means to move by {run.s.horizon}: follow up no later than "
            f"{limit:%Y-%m-%d} ({rules.horizon_fraction:.2g} of the time to it)",
            "FollowUpTooLate",
        )


def _add_follow_up(run: _Run, follow_up: FollowUp, prompt: str | None = None) -> None:
    """Record a follow-up; a call follow-up puts the lead in the queue for its time and
    settles the contact prompt (`prompt`: its key, when one is open)."""
    s = run.s
    prompt = prompt or _open_prompt(run)
    s.follow_ups = [f for f in s.follow_ups if f.id != follow_up.id] + [follow_up]
    s.follow_ups = [f for f in s.follow_ups if not f.completed][-50:]
    key = f"follow-up:{follow_up.id}"
    run.emit(
        CreateTask(
            key=key,
            subject=f"{follow_up.subject} follow-up",
            assignee=follow_up.assignee,
            due_at=follow_up.start_at,
            notes=follow_up.notes,
        )
    )
    if follow_up.subject == "Call":
        label: QueueLabel = "Scheduled" if follow_up.lead_requested else "Callback"
        if prompt is not None:
            run.emit(CompleteTask(key=prompt))
            run.audit(prompt, "note", f"{label} set for {follow_up.start_at.isoformat()}")
        if s.queue is not None:
            _dequeue(run, f"replaced by {label}")
        s.hold_until = follow_up.start_at
        _queue(run, label, follow_up.start_at, key=key, notes=follow_up.notes)


def _queue_follow_up(run: _Run, follow_up: FollowUp) -> None:
    """M19: a follow-up date from the communication log brings the lead back then, whatever
    its subject (a call follow-up does so as a Callback or Scheduled call)."""
    _queue(
        run,
        "FollowUp",
        follow_up.start_at,
        key=f"follow-up:{follow_up.id}",
        notes=follow_up.notes or f"{follow_up.subject} follow-up",
    )


def _open_prompt(run: _Run) -> str | None:
    """The key of the contact prompt waiting in the queue, if one is."""
    queue = run.s.queue
    return queue.key if queue is not None and queue.label == "SetCallback" else None


def _prompt_next_call(run: _Run, key: str) -> None:
    """Seed 002: after contact the agent sets the next call. Until a call follow-up is open,
    a task and a SetCallback queue entry say so; nothing is re-queued on a guess."""
    s, prompt = run.s, run.book.contact_prompt
    assert prompt is not None
    booked = [f for f in _open_follow_ups(run) if f.subject == "Call"]
    if booked:
        follow_up = min(booked, key=lambda f: f.start_at)
        label: QueueLabel = "Scheduled" if follow_up.lead_requested else "Callback"
        s.hold_until = follow_up.start_at
        _queue(run, label, follow_up.start_at, f"follow-up:{follow_up.id}", follow_up.notes)
        return
    when = localtime.describe(run.now, s.time_zone)
    notes = f"Contact made {when}: {prompt.subject[:1].lower()}{prompt.subject[1:]}"
    _task(run, key, prompt.subject, prompt.assignee or run.book.defaults.sender, run.now, notes)
    _queue(run, "SetCallback", run.now, key=key, notes=notes)


# ---- date rules (M11) ----------------------------------------------------------------------


def _schedule_date_rules(run: _Run, changed: list[str]) -> None:
    s = run.s
    for rule in run.book.date_rules:
        if rule.key_date not in changed:
            continue
        prefix = f"date:{rule.name}:"
        s.agenda = [a for a in s.agenda if not a.key.startswith(prefix)]
        day = s.key_dates.get(rule.key_date)
        if day is None:
            continue
        due = localtime.at_local(day, rule.at, s.time_zone).astimezone(UTC) + rule.offset
        key = f"{prefix}{day.isoformat()}"
        s.agenda.append(
            AgendaItem(key=key, due=max(due, run.now), kind="date_rule", rule=rule.name)
        )
        run.audit(key, "note", f"date rule {rule.name} set for {due.isoformat()}")


def _run_date_rule(run: _Run, item: AgendaItem) -> None:
    rule = next((r for r in run.book.date_rules if r.name == item.rule), None)
    if rule is not None:
        _action(run, rule.action, cause=item.key, due=item.due)


# ---- what is due ---------------------------------------------------------------------------


def _run_due(run: _Run) -> None:
    for _ in range(MAX_STEPS_PER_DECISION):
        s = run.s
        candidates: list[tuple[datetime, int, str]] = []
        for item in s.agenda:
            if item.due <= run.now:
                candidates.append((item.due, 0, item.key))
        for name in sorted(s.campaigns):
            due = _step_due(run.book, s, s.campaigns[name])
            if due is not None and due <= run.now:
                candidates.append((due, 1, name))
        if not candidates:
            return
        due, kind, key = min(candidates)
        if kind == 1:
            _run_campaign_step(run, key, due)
            continue
        item = next(a for a in s.agenda if a.key == key)
        s.agenda.remove(item)
        if item.kind == "date_rule":
            _run_date_rule(run, item)
        elif item.touch is not None:
            _touch(run, item.touch)
    raise RuntimeError("more than MAX_STEPS_PER_DECISION items came due at once")


# ---- new leads and what is next ------------------------------------------------------------


def initial_state(book: Playbook, ensure: EnsureLead) -> EngineState:
    """The state of a new lead from an ensure request; refuses what the playbook lacks."""
    milestone = ensure.milestone or book.defaults.milestone
    status = ensure.status or book.defaults.status
    _check_combination(book, milestone, status)
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
    )
    _merge(state.parties, dict(ensure.parties), book.parties, "party")
    _merge(state.designations, dict(ensure.designations), book.designations, "designation")
    _merge(state.key_dates, dict(ensure.key_dates), book.key_dates, "key date")
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
        if _step_due(book, s, campaign) == s.next_due:
            steps = book.campaigns[name].steps
            if campaign.next_step >= len(steps):
                return f"{name} completes"
            step = steps[campaign.next_step]
            return f"{name} day {step.after.days} {step.do}"
    return "next step"
