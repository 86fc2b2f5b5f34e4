"""The call queue and follow-ups: when a lead is queued, with which label and priority,
when it comes back after a call, and the prompt to set the next call after contact."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import leadflow.engine.localtime as localtime
from leadflow.engine import campaigns, consent, contact, limits, reassigned
from leadflow.engine.commands import (
    CapCheck,
    CompleteTask,
    CreateTask,
    InvalidChange,
    QueueCall,
)
from leadflow.engine.events import FollowUpCompleted, FollowUpScheduled
from leadflow.engine.run import (
    Run,
    dequeue,
    history,
    primary_party,
    task,
)
from leadflow.engine.state import EngineState, FollowUp, QueueEntry
from leadflow.playbook.schema import QueueLabel

APPOINTMENTS: tuple[QueueLabel, ...] = ("Callback", "Scheduled", "FollowUp")
MAX_OPEN_FOLLOW_UPS = 50  # a lead keeps this many; a decision adding more drops the oldest


def _call_reach(run: Run) -> tuple[limits.Reach, str | None]:
    party = primary_party(run.s)
    phone = party.phone if party is not None else None
    return limits.reach(run, party, "call", phone), phone


def _lists(run: Run) -> tuple[list[str], str | None, date | None]:
    """The do-not-call lists that reach a call to the lead's primary party, why none holds
    it (`consent.lists`), and since when the number is known to be theirs (`reassigned`)."""
    party = primary_party(run.s)
    role = next((r for r, p in run.s.parties.items() if p is party), "borrower")
    lists, exempt = consent.lists(run, role, party, "call")
    return lists, exempt, reassigned.since(run, role, party, "call")


def _call_caps(where: limits.Reach) -> list[CapCheck]:
    """The caps on the person that count calls, for the claim to count across the account."""
    return [cap for cap in contact.caps(where) if cap.counts and "call" in cap.counts]


def calling_hours(run: Run, moment: datetime) -> datetime:
    """The first moment at or after `moment` the lead may be called (the same gate as texts;
    `moment` itself when the rules leave no hour open: the queue says so)."""
    return _calling(run, moment)[0] or moment


def _calling(run: Run, moment: datetime) -> tuple[datetime | None, str]:
    where, phone = _call_reach(run)
    return limits.allowed(run, where, phone, moment)


def _cycle(run: Run, moment: datetime) -> tuple[float, int]:
    """The production-cycle band the lead is in on that day: (interval factor, boost)."""
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


def queue(
    run: Run,
    label: QueueLabel,
    at: datetime,
    key: str,
    notes: str,
    step: tuple[str, int] | None = None,
) -> None:
    """Queue a call from `at` (or the window after); `step`: the campaign step it is."""
    s, book = run.s, run.book
    status = book.status(s.status)
    blocked = (
        ("call" in status.blocks and f"status {status.name} blocks calls")
        or ("call" in s.opted_out and "opted out of calls")
        or ("call" in s.unreachable and "phone number unusable")
        or (reassigned.reported(s, _call_reach(run)[1]) and "the number was reported reassigned")
        or (s.consent_doubt_calls and s.consent_doubt and "a person is to read a reply first")
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
    held = label == "Redial" and s.hold_until is not None and s.hold_until > at
    if held and s.hold_until is not None:
        at = s.hold_until  # CallASAP and appointments are not held back
    why = []
    if at > run.now:
        if held or key.startswith("return:"):
            why.append(f"held after the last call ({s.status}) until {at.isoformat()}")
        elif key.startswith("follow-up"):
            why.append(f"follow-up set for {at.isoformat()}")
        else:
            why.append(f"scheduled for {at.isoformat()}")
    available, quiet = _calling(run, at)
    if available is None:
        run.audit(key, "skipped", f"call not queued: {quiet}")
        return
    if available > at:
        hours = quiet.removeprefix("quiet hours: ")
        why.append(f"outside calling hours ({hours})" if hours != quiet else quiet)
    _, boost = _cycle(run, available)
    priority = book.priorities.get(label, 0) + status.priority + boost
    until, phone, caps, exempt, since = None, None, [], None, None
    lists: list[str] = []
    if s.law >= 2:  # no agent is handed the call after its window closes, or over a cap
        where, phone = _call_reach(run)
        until, caps = contact.window_end(where, available), _call_caps(where)
        lists, exempt, since = _lists(run)
    s.queue = QueueEntry(
        key=key,
        label=label,
        priority=priority,
        available_at=available,
        notes=notes,
        callable_until=until,
    )
    run.emit(
        QueueCall(
            key=key,
            label=label,
            priority=priority,
            available_at=available,
            notes=notes,
            why="; then ".join(why),
            callable_until=until,
            phone=phone,
            caps=caps,
            lists=lists,
            exemption=exempt,
            reassigned_since=since,
        )
    )
    if quiet:
        run.audit(key, "deferred", quiet + ": queued for the next window", until=available)
        if step is not None and s.law >= 1:
            campaigns.shift_after_deferral(run, step[0], step[1], key, available)
    else:
        run.audit(key, "fired", f"queued as {label}")


def window_passed(run: Run) -> None:
    """A queued call no agent took before its window closed moves to the next window (the
    same call, `moved`: not a new one); with no window left, or calls now blocked, it goes."""
    s = run.s
    entry = s.queue
    if entry is None or entry.callable_until is None or entry.callable_until > run.now:
        return
    status = run.book.status(s.status)
    blocked = "call" in status.blocks or "call" in s.opted_out or "call" in s.unreachable
    blocked = blocked or reassigned.reported(s, _call_reach(run)[1])
    available, quiet = _calling(run, run.now)
    if available is None or blocked:
        dequeue(run, "its window closed before an agent took it, and calls may not go on")
        return
    where, phone = _call_reach(run)
    until = contact.window_end(where, available)
    lists, exempt, since = _lists(run)
    s.queue = entry.model_copy(update={"available_at": available, "callable_until": until})
    run.emit(
        QueueCall(
            key=entry.key,
            label=entry.label,
            priority=entry.priority,
            available_at=available,
            notes=entry.notes,
            why=f"its window closed before an agent took it; {quiet}".rstrip("; "),
            callable_until=until,
            phone=phone,
            moved=True,
            caps=_call_caps(where),
            lists=lists,
            exemption=exempt,
            reassigned_since=since,
        )
    )
    run.audit(entry.key, "note", "the call's window closed before an agent took it: moved on")


def return_to_queue(run: Run, hold: timedelta) -> None:
    """After a call: back after the hold, or after the status's callback period."""
    s = run.s
    wait = hold
    period = run.book.callback_periods.get(s.status)
    if period is not None:
        factor, _ = _cycle(run, run.now)
        wait = max(wait, period.min * factor)
    label: QueueLabel = "Callback" if s.contacted else "Redial"
    s.hold_until = run.now + wait
    queue(run, label, run.now + wait, key=f"return:{s.changes}", notes=f"Back after {s.status}")


def open_follow_ups(run: Run) -> list[FollowUp]:
    return [f for f in run.s.follow_ups if not f.completed and f.start_at > run.now]


def horizon_limit(run: Run) -> datetime | None:
    if run.s.horizon is None:
        return None
    horizon = localtime.at_local(run.s.horizon, time(10), run.s.time_zone).astimezone(UTC)
    return run.now + (horizon - run.now) * run.book.follow_ups.horizon_fraction


def check_follow_up(run: Run, follow_up: FollowUp) -> None:
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
    limit = horizon_limit(run)
    if limit is not None and follow_up.start_at > limit:
        raise InvalidChange(
            f"the lead means to move by {run.s.horizon}: follow up no later than "
            f"{limit:%Y-%m-%d} ({rules.horizon_fraction:.2g} of the time to it)",
            "FollowUpTooLate",
        )


def check_room(before: EngineState, after: EngineState) -> None:
    """Refuse a change that would drop an open follow-up to make room for a new one.

    Checked by the workflow's update validators on the decision they make, not by the
    decision itself: a lead that once dropped one replays as it ran."""
    kept = {f.id for f in after.follow_ups}
    if any(not f.completed and f.id not in kept for f in before.follow_ups):
        raise InvalidChange(
            f"this lead has {MAX_OPEN_FOLLOW_UPS} open follow-ups, the most it keeps: "
            "complete one it no longer needs, then schedule this one",
            "TooManyFollowUps",
        )


def add_follow_up(run: Run, follow_up: FollowUp, prompt: str | None = None) -> None:
    """Record a follow-up; a call follow-up puts the lead in the queue for its time and
    settles the contact prompt (`prompt`: its key, when one is open)."""
    s = run.s
    prompt = prompt or open_prompt(run)
    s.follow_ups = [f for f in s.follow_ups if f.id != follow_up.id] + [follow_up]
    s.follow_ups = [f for f in s.follow_ups if not f.completed][-MAX_OPEN_FOLLOW_UPS:]
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
            dequeue(run, f"replaced by {label}")
        s.hold_until = follow_up.start_at
        queue(run, label, follow_up.start_at, key=key, notes=follow_up.notes)


def queue_follow_up(run: Run, follow_up: FollowUp) -> None:
    """A follow-up date from the communication log brings the lead back then, whatever
    its subject (a call follow-up does so as a Callback or Scheduled call)."""
    queue(
        run,
        "FollowUp",
        follow_up.start_at,
        key=f"follow-up:{follow_up.id}",
        notes=follow_up.notes or f"{follow_up.subject} follow-up",
    )


def open_prompt(run: Run) -> str | None:
    """The key of the contact prompt waiting in the queue, if one is."""
    queue = run.s.queue
    return queue.key if queue is not None and queue.label == "SetCallback" else None


def prompt_next_call(run: Run, key: str) -> None:
    """After contact the agent sets the next call. Until a call follow-up is open,
    a task and a SetCallback queue entry say so; nothing is re-queued on a guess."""
    s, prompt = run.s, run.book.contact_prompt
    assert prompt is not None
    booked = [f for f in open_follow_ups(run) if f.subject == "Call"]
    if booked:
        follow_up = min(booked, key=lambda f: f.start_at)
        label: QueueLabel = "Scheduled" if follow_up.lead_requested else "Callback"
        s.hold_until = follow_up.start_at
        queue(run, label, follow_up.start_at, f"follow-up:{follow_up.id}", follow_up.notes)
        return
    when = localtime.describe(run.now, s.time_zone)
    notes = f"Contact made {when}: {prompt.subject[:1].lower()}{prompt.subject[1:]}"
    task(run, key, prompt.subject, prompt.assignee or run.book.defaults.sender, run.now, notes)
    queue(run, "SetCallback", run.now, key=key, notes=notes)


def follow_up_scheduled(run: Run, event: FollowUpScheduled) -> None:
    check_follow_up(run, event.follow_up)
    add_follow_up(run, event.follow_up)
    history(run, "Follow Up", f"Follow-up scheduled: {event.follow_up.subject}", event.actor)


def follow_up_completed(run: Run, event: FollowUpCompleted) -> None:
    s = run.s
    found = next((f for f in s.follow_ups if f.id == event.id and not f.completed), None)
    if found is None:
        raise InvalidChange(f"no open follow-up with id {event.id!r}", "UnknownFollowUp")
    s.follow_ups = [
        f.model_copy(update={"completed": True}) if f is found else f for f in s.follow_ups
    ]
    run.emit(CompleteTask(key=f"follow-up:{found.id}"))
    if s.queue is not None and s.queue.key == f"follow-up:{found.id}":
        dequeue(run, "follow-up completed")
    history(run, "Follow Up", f"Follow-up completed: {found.subject}", event.actor)
