"""An agent's own text or email to a party of the lead: it goes now, through the same gate
as a campaign's touch (the party's consent and opt-outs, unusable or reassigned numbers, a
status that blocks the channel, calling hours in every zone the party may be in, the caps),
or it is refused with why, and nothing is sent or kept. A person waits for the answer, so
an agent's message is never deferred: "not now" is said, with when it may go.

What it does to the lead's running campaigns is each campaign's `on_agent_message`: they
go on, pause until a person resumes them, or stop."""

from __future__ import annotations

from leadflow.engine import campaigns, consent, gate, limits, localtime, reassigned
from leadflow.engine.channels import TEXTS
from leadflow.engine.commands import InvalidChange, SendMessage
from leadflow.engine.events import AgentWrote
from leadflow.engine.run import Run
from leadflow.engine.state import Member, Party, TouchLog
from leadflow.playbook.templates import text_problem

TEMPLATE = "agent"  # the outbox's template for a message an agent wrote


def wrote(run: Run, event: AgentWrote) -> None:
    s = run.s
    party = s.parties.get(event.party)
    if party is None:
        raise InvalidChange(f"not sent: the lead has no {event.party}", "NotSent")
    address = party.email if event.channel == "email" else party.phone
    if address is None:
        kind = "email address" if event.channel == "email" else "phone"
        raise InvalidChange(f"not sent: {event.party} has no {kind} on record", "NotSent")
    if (why := _refused(run, event, party, address)) is not None:
        raise InvalidChange(f"not sent: {why}", "NotSent")
    where = limits.reach(run, party, event.channel, address)
    opens, waits = limits.allowed(run, where, address, run.now)
    if opens is None:
        raise InvalidChange(f"not sent: {waits}", "NotSent")
    if opens > run.now:
        local = localtime.to_local(opens, s.time_zone)
        raise InvalidChange(
            f"not sent now: {waits}; it may go from {local:%a %H:%M} ({s.time_zone})", "NotSent"
        )
    if event.channel in TEXTS and (too_long := text_problem(event.body)):
        raise InvalidChange(f"not sent: {too_long}", "NotSent")
    terms = gate.at_contact(run, event.party, party, event.channel, where)
    run.emit(
        SendMessage(
            key=event.key,
            channel=event.channel,
            party=event.party,
            to=address,
            sender=_sender(run, event.actor),
            template=TEMPLATE,
            subject=event.subject if event.channel == "email" else None,
            body=event.body,
            send_by=terms.send_by,
            caps=terms.caps,
            lists=terms.lists,
            exemption=terms.exemption,
            reassigned_since=terms.since,
        )
    )
    s.touches.append(TouchLog(at=run.now, address=address, channel=event.channel))
    run.audit(event.key, "fired", f"{event.channel} to {event.party}, written by {event.actor}")
    for name in sorted(s.campaigns):
        effect = run.book.campaigns[name].on_agent_message
        running = s.campaigns[name]
        if effect == "stop":
            campaigns.stop_campaign(run, name, f"{event.actor} wrote to the lead")
        elif effect == "pause" and running.paused_at is None:
            s.campaigns[name] = running.model_copy(update={"paused_at": run.now})
            why = f"paused: {event.actor} wrote to the lead; a person resumes it"
            run.audit(campaigns.run_key(running), "note", why)


def _refused(run: Run, event: AgentWrote, party: Party, address: str) -> str | None:
    """Why the lead may not be written to on this channel at all, or None."""
    s, book = run.s, run.book
    blocked_by = book.status(s.status)
    if event.channel in s.opted_out:
        return f"{event.party} opted out of {event.channel}"
    if event.channel in s.unreachable:
        return f"{event.channel} to this lead is undeliverable"
    if event.channel != "email" and reassigned.reported(s, address):
        return f"{event.party}'s number was reported reassigned: find their number"
    if event.channel in blocked_by.blocks:
        return f"status {blocked_by.name} blocks {event.channel}"
    if (
        event.channel in TEXTS
        and book.compliance.sms_requires_consent
        and not party.sms_consent
        and not consent.live(s, event.party, event.channel)
    ):
        return "no recorded consent for texts"
    if s.law >= 1 and event.channel in TEXTS and s.consent_doubt is not None:
        return f"a reply may have revoked consent, for a person to read: {s.consent_doubt}"
    return None


def _sender(run: Run, actor: str) -> Member:
    """Whom the message comes from: the agent as the lead knows them (a designation they
    fill on it, with its number), else the agent by name from the lead's usual number."""
    held = run.s.designations
    mine = next((m for m in held.values() if m.id == actor), None)
    if mine is not None:
        return mine
    usual = next((m.sms_from for m in held.values() if m.sms_from), None)
    return Member(id=actor, name=actor, sms_from=usual)
