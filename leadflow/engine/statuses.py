"""Milestones and statuses: which combinations the playbook links, what a change does (the
history note, contact made, calls blocked, the milestone's actions), and logged calls."""

from __future__ import annotations

from datetime import timedelta

from leadflow.engine import actions, calls, campaigns, revocation
from leadflow.engine.commands import CallFacts, InvalidChange, SetStatus
from leadflow.engine.events import CallLogged, StatusChanged
from leadflow.engine.run import (
    Run,
    dequeue,
    history,
    primary_party,
)
from leadflow.engine.state import FollowUp, TouchLog
from leadflow.playbook.schema import Playbook


def check_combination(book: Playbook, milestone: str, status: str) -> None:
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


def check_follow_up_required(run: Run, status: str, given: FollowUp | None) -> None:
    if (
        run.book.status(status).requires_follow_up
        and given is None
        and not calls.open_follow_ups(run)
    ):
        raise InvalidChange(
            f"status {status!r} requires a future follow-up: schedule one with this change",
            "FollowUpRequired",
        )


def apply_change(
    run: Run,
    milestone: str,
    status: str,
    action: str,
    note: str,
    actor: str,
    call: CallFacts | None = None,
) -> None:
    s, book = run.s, run.book
    milestone_moved, status_moved = milestone != s.milestone, status != s.status
    s.milestone, s.status = milestone, status
    s.changes += 1
    run.emit(SetStatus(milestone=milestone, status=status))
    history(run, action, note, actor, call)
    new_status = book.status(status)
    if status_moved and new_status.contacted:
        contact_made(run)
    if status_moved and "call" in new_status.blocks:
        dequeue(run, f"status {status} blocks calls")
    if milestone_moved:
        _milestone_actions(run, milestone)
    if status_moved and new_status.queue is not None:
        calls.queue(
            run, new_status.queue, run.now, key=f"status:{s.changes}", notes=f"Now {status}"
        )


def _milestone_actions(run: Run, milestone: str) -> None:
    flow = run.book.milestone_actions.get(milestone)
    if flow is None:
        return
    purpose = run.s.loan_purpose
    chosen = flow.actions
    cause = f"milestone:{run.s.changes}"
    if flow.variants:
        if purpose is not None and purpose in flow.variants:
            chosen = flow.variants[purpose]
            run.audit(cause, "note", f"loan purpose {purpose!r}: using its workflow")
        else:
            said = "no loan purpose" if purpose is None else f"loan purpose {purpose!r}"
            run.audit(cause, "note", f"{said} matches no workflow: the default one used")
    for i, action in enumerate(chosen):
        actions.run_action(run, action, cause=f"{cause}:{i}")


def contact_made(run: Run) -> None:
    s = run.s
    if s.contacted:
        return
    s.contacted = True
    for name in sorted(s.campaigns):
        if run.book.campaigns[name].stop_on_contact:
            campaigns.stop_campaign(run, name, "contact made")
    if s.queue is not None and s.queue.label in ("CallASAP", "Redial"):
        dequeue(run, "contact made")


def status_changed(run: Run, event: StatusChanged) -> None:
    s = run.s
    milestone = event.milestone or s.milestone
    status = event.status or s.status
    check_combination(run.book, milestone, status)
    if event.follow_up is not None:
        calls.check_follow_up(run, event.follow_up)
    check_follow_up_required(run, status, event.follow_up)
    contacted_before = s.contacted
    apply_change(run, milestone, status, event.action, event.note, event.actor)
    revocation.noted(run, event.note, event.actor)
    if event.follow_up is not None:
        calls.add_follow_up(run, event.follow_up, calls.open_prompt(run))
    if run.book.contact_prompt is not None and s.contacted and not contacted_before:
        calls.prompt_next_call(run, f"set-callback:{s.changes}")


def call_logged(run: Run, event: CallLogged) -> None:
    s, book = run.s, run.book
    if event.disposition is None:
        text_logged(run, event)
        return
    disposition = book.dispositions.get(event.disposition)
    if disposition is None:
        raise InvalidChange(
            f"unknown disposition {event.disposition!r}; "
            f"use one of {', '.join(book.dispositions) or '(none configured)'}",
            "UnknownDisposition",
        )
    check_combination(book, s.milestone, disposition.status)
    if event.follow_up is not None:
        calls.check_follow_up(run, event.follow_up)
    check_follow_up_required(run, disposition.status, event.follow_up)
    if event.channel == "call" and event.direction == "outbound":
        s.call_attempts += 1
        party = primary_party(s)
        phone = party.phone if party is not None else None
        if s.law >= 1 and phone is not None:  # a call made counts towards the caps
            s.touches.append(TouchLog(at=run.now, address=phone, channel="call"))
    if disposition.contact and s.law >= 1:
        s.reached_at = run.now
    note = f"{event.channel} {event.direction}: {event.disposition}"
    if event.comments:
        note += f". {event.comments}"
    prompt = calls.open_prompt(run)
    contacted_before = s.contacted
    if disposition.contact:
        contact_made(run)
    dequeue(run, f"call logged: {event.disposition}", ends_claim=True)
    outbound_call = event.channel == "call" and event.direction == "outbound"
    facts = CallFacts(
        channel=event.channel,
        direction=event.direction,
        disposition=event.disposition,
        contact=disposition.contact,
        attempt=s.call_attempts if outbound_call else None,
    )
    apply_change(run, s.milestone, disposition.status, "Call", note, event.actor, facts)
    revocation.call_logged(run, event, disposition.status)
    s.hold_until = run.now + disposition.hold
    if event.follow_up is not None:
        calls.add_follow_up(run, event.follow_up, prompt)  # a follow-up overrides the hold
        if s.queue is None:  # not a call: the lead is still back on the follow-up's date
            calls.queue_follow_up(run, event.follow_up)
        if s.queue is None and prompt is not None:
            calls.prompt_next_call(run, prompt)
        return
    made_contact = disposition.contact or (s.contacted and not contacted_before)
    if run.book.contact_prompt is not None and (made_contact or prompt is not None):
        calls.prompt_next_call(run, prompt or f"set-callback:{s.changes}")
    elif disposition.requeue:
        calls.return_to_queue(run, disposition.hold)


def text_logged(run: Run, event: CallLogged) -> None:
    """A text logged in the communication log with no disposition: a contact attempt. The
    playbook's `logged_text` moves the lead from the statuses it names (where its milestone
    links the new one); the agent's claim ends, and a lead that was queued for a call is
    back after the rule's hold, or on its follow-up."""
    s, book = run.s, run.book
    if event.channel != "sms":
        raise InvalidChange(
            f"a call is logged with its disposition; use one of "
            f"{', '.join(book.dispositions) or '(none configured)'}",
            "MissingDisposition",
        )
    rule = book.logged_text
    status = s.status
    if rule is not None and (not rule.moves_from or s.status in rule.moves_from):
        status = rule.status if rule.status in book.links.get(s.milestone, []) else s.status
    if event.follow_up is not None:
        calls.check_follow_up(run, event.follow_up)
    check_follow_up_required(run, status, event.follow_up)
    note = f"sms {event.direction}" + (f". {event.comments}" if event.comments else "")
    prompt = calls.open_prompt(run)
    queued = s.queue is not None
    dequeue(run, "text logged", ends_claim=True)
    apply_change(run, s.milestone, status, "Text", note, event.actor)
    revocation.noted(run, event.comments, event.actor)
    hold = rule.hold if rule is not None else timedelta(0)
    s.hold_until = run.now + hold
    if event.follow_up is not None:
        calls.add_follow_up(run, event.follow_up, prompt)
        if s.queue is None:
            calls.queue_follow_up(run, event.follow_up)
    elif queued and s.queue is None:
        calls.return_to_queue(run, hold)
