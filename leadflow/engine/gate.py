"""The compliance gate: a touch goes out only when the law and the lead allow it.

Calling hours in every zone the party may be in (the stricter wins), frequency caps, consent
to automated texts, opt-outs, unusable addresses and blocking statuses; a touch from a
designation nobody fills is held until someone does. Otherwise it is deferred or skipped, and
the audit says why."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from leadflow.engine import campaigns, consent, contact, limits, reassigned, spread
from leadflow.engine.channels import TEXTS, opt_out_covers
from leadflow.engine.commands import CapCheck, CompleteTask, RecordOptOut, SendMessage
from leadflow.engine.events import DesignationsChanged, OptedIn, OptedOut
from leadflow.engine.run import (
    Run,
    dequeue,
    member_for,
    merge,
    primary_party,
    task,
)
from leadflow.engine.state import AgendaItem, EngineState, Member, Party, PendingTouch, TouchLog
from leadflow.models import Channel
from leadflow.playbook.schema import Sender
from leadflow.playbook.templates import TemplateProblem, render, template_context, text_problem


def touch(run: Run, touch: PendingTouch) -> None:
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
    elif touch.channel != "email" and reassigned.reported(s, address):
        reason = f"{touch.party}'s number was reported reassigned: find their number"
    elif blocked_by is not None:
        reason = f"status {blocked_by.name} blocks {touch.channel}"
    elif (
        touch.channel in TEXTS
        and book.compliance.sms_requires_consent
        and not party.sms_consent
        and not consent.live(s, touch.party, touch.channel)
    ):
        reason = "no recorded consent for automated texts"
    elif touch.channel in TEXTS and (
        unwritten := consent.unwritten(run, touch.party, party, touch.channel, touch.template)
    ):
        reason = unwritten
    elif _reached_since_deferred(s, touch):
        reason = f"deferred at {touch.deferred_at:%Y-%m-%d %H:%M} UTC; the lead was reached since"
    if reason is not None:
        run.audit(touch.key, "skipped", reason)
        return
    assert party is not None and address is not None
    if s.law >= 1 and touch.channel in TEXTS and s.consent_doubt is not None:
        s.agenda.append(AgendaItem(key=touch.key, due=_far_future(run), kind="held", touch=touch))
        run.audit(touch.key, "held", f"texts wait for a person to read a reply: {s.consent_doubt}")
        return
    sender = Sender(designation=touch.sender_designation, user=touch.sender_user)
    member = member_for(run, sender)
    if member is None:
        _hold(run, touch, sender.designation or "?")
        return
    where = limits.reach(run, party, touch.channel, address)
    opens, why = limits.allowed(run, where, address, run.now, spread.offset(book, s.lead))
    if opens is None:
        run.audit(touch.key, "skipped", why)
        return
    if opens > run.now:
        _defer(run, touch, opens, why)
        return
    context = _context(run, touch.party, member)
    template = book.templates[touch.template]
    added: list[str] = []
    try:
        body = render(template.body, context)
        subject = render(template.subject, context) if template.subject else None
        if s.law >= 2:  # what the law says the message carries: who sends it, how to stop
            body, added = _disclosed(run, party, touch, address, body, member)
        if touch.channel in TEXTS and (too_long := text_problem(body)):
            raise TemplateProblem(too_long)
    except TemplateProblem as exc:
        run.audit(touch.key, "skipped", f"template {touch.template}: {exc}")
        return
    if added:
        run.audit(touch.key, "note", f"added {' and '.join(added)}, as the law asks")
    terms = at_contact(run, touch.party, party, touch.channel, where)
    if terms.send_by is not None:
        contact.fired(run, touch, terms.send_by)
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
            send_by=terms.send_by,
            caps=terms.caps,
            lists=terms.lists,
            exemption=terms.exemption,
            reassigned_since=terms.since,
        )
    )
    channel = touch.channel if s.law >= 1 else None
    s.touches.append(TouchLog(at=run.now, address=address, channel=channel))
    run.audit(touch.key, "fired", f"{touch.channel} to {touch.party} ({touch.cause})")


class Terms(NamedTuple):
    """What a message carries to the moment of contact (from the second state-law table;
    none before): its window's end, the caps the account counts, the do-not-call lists and
    why none holds it, and since when its number is known to be the party's."""

    send_by: datetime | None = None
    caps: list[CapCheck] = []
    lists: list[str] = []
    exemption: str | None = None
    since: date | None = None


def at_contact(run: Run, role: str, party: Party, channel: Channel, where: limits.Reach) -> Terms:
    """The terms a message to the party on this channel, sent now, is sent under."""
    if run.s.law < 2:
        return Terms()
    lists, exempt = consent.lists(run, role, party, channel)
    return Terms(
        send_by=contact.window_end(where, run.now),
        caps=contact.caps(where),
        lists=lists,
        exemption=exempt,
        since=reassigned.since(run, role, party, channel),
    )


def _disclosed(
    run: Run, party: Party, touch: PendingTouch, address: str, body: str, member: Member
) -> tuple[str, list[str]]:
    """The body with the sender's name and how to stop, where the law of the party's places
    asks for them (CASL in every message to a Canadian; Oregon's first text) and it lacks
    them; the business's name when the playbook names it (`compliance.identity`), and its
    postal address after every email (CAN-SPAM)."""
    needs, why = contact.disclosures(run, party, touch.channel, address)
    identity = run.book.compliance.identity
    added: list[str] = []
    if needs:
        body, done = contact.disclosed(
            body, touch.channel, needs, identity.name if identity is not None else member.name
        )
        added = [f"{what} ({', '.join(sorted(set(why)))})" for what in done]
    if touch.channel == "email":
        body, postal = contact.postal(body, identity)
        added += postal
    return body, added


def _reached_since_deferred(s: EngineState, touch: PendingTouch) -> bool:
    """A text deferred past a window is dropped if a reply or a call reached the lead since:
    it was written for a lead not yet reached."""
    return (
        s.law >= 1
        and touch.channel in TEXTS
        and touch.deferred_at is not None
        and s.reached_at is not None
        and s.reached_at >= touch.deferred_at
    )


def _defer(run: Run, touch: PendingTouch, until: datetime, why: str) -> None:
    if run.s.law >= 1:
        if touch.deferred_at is None:
            touch = touch.model_copy(update={"deferred_at": run.now})
        campaigns.shift_after_deferral(run, touch.campaign, touch.step, touch.key, until)
    run.s.agenda.append(AgendaItem(key=touch.key, due=until, kind="touch", touch=touch))
    run.audit(touch.key, "deferred", why, until=until)


def _hold(run: Run, touch: PendingTouch, designation: str) -> None:
    """Nothing is sent from the wrong person. Hold it and ask for the assignment."""
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
    task(
        run,
        _assign_key(designation, touch.key),
        f"Assign this lead's {designation.replace('_', ' ')}",
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


def _far_future(run: Run) -> datetime:
    return run.now + timedelta(days=3650)


def _context(run: Run, role: str, sender: Member) -> dict[str, Any]:
    s = run.s
    return template_context(
        first_name=s.first_name,
        last_name=s.last_name,
        loan_purpose=s.loan_purpose,
        milestone=s.milestone,
        status=s.status,
        role=role,
        party_name=s.parties[role].name,
        sender_name=sender.name,
        sender_phone=sender.phone,
        sender_email=sender.email,
        key_dates=s.key_dates,
    )


def _addresses(s: EngineState, channels: frozenset[Channel]) -> list[str]:
    """The lead's own phone and email, as far as the channels go."""
    borrower = primary_party(s)
    if borrower is None:
        return []
    found = {borrower.phone} if channels - {"email"} else set()
    if "email" in channels:
        found.add(borrower.email)
    return sorted(a for a in found if a)


CONSENT_TASK = "consent-check"


def consent_in_doubt(run: Run, quoted: str) -> None:
    """A reply that may revoke consent to texts: hold every text and ask a person."""
    s = run.s
    s.consent_doubt, s.consent_task = quoted, f"{CONSENT_TASK}:{run.now:%Y%m%dT%H%M%S.%f}"
    task(
        run,
        s.consent_task,
        "Read the lead's reply: does it revoke consent to texts? Record the opt-out if it does; "
        "opt the lead back in to texts if not",
        run.book.defaults.sender,
        run.now,
        notes=quoted,
    )
    run.audit(s.consent_task, "note", f"texts held: {quoted} may revoke consent")


def _consent_settled(run: Run, how: str) -> None:
    s = run.s
    if s.consent_doubt is None:
        return
    if s.consent_task is not None:
        run.emit(CompleteTask(key=s.consent_task))
        run.audit(s.consent_task, "note", f"consent question settled: {how}")
    s.consent_doubt, s.consent_task = None, None
    s.agenda = [
        item.model_copy(update={"due": run.now, "kind": "touch"})
        if item.kind == "held" and item.designation is None
        else item
        for item in s.agenda
    ]


def opted_out(run: Run, event: OptedOut) -> None:
    s = run.s
    channels = opt_out_covers(event.channel)
    s.opted_out = sorted(set(s.opted_out) | channels)
    s.agenda = [a for a in s.agenda if not (a.touch and a.touch.channel in channels)]
    if "call" in channels:
        dequeue(run, "opted out of calls")
    run.emit(
        RecordOptOut(
            channels=sorted(channels),
            addresses=_addresses(s, channels),
            source=event.source,
            at=event.at,
        )
    )
    said = f"opted out of {event.channel} ({event.source})"
    run.audit(f"opt-out:{event.channel}", "note", said)
    consent.revoked(run, channels, said)  # the consents it covers end, recorded beside them
    if "sms" in channels:
        _consent_settled(run, "opted out of texts")


def opted_in(run: Run, event: OptedIn) -> None:
    channels = opt_out_covers(event.channel)
    run.s.opted_out = [c for c in run.s.opted_out if c not in channels]
    run.emit(
        RecordOptOut(
            channels=sorted(channels),
            addresses=_addresses(run.s, channels),
            source=event.source,
            opted_in=True,
            at=event.at,
        )
    )
    why = "" if event.source == "lead" else f" ({event.source})"
    run.audit(f"opt-in:{event.channel}", "note", f"opted back in to {event.channel}{why}")
    if "sms" in channels:
        _consent_settled(run, "texts may go on")


def designations_changed(run: Run, event: DesignationsChanged) -> None:
    s = run.s
    merge(s.designations, event.assignments, run.book.designations, "designation")
    # Held actions waiting for a designation become due now; so is the task asking for it.
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
