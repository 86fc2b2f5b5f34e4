"""What comes back: a party's reply (STOP, START and HELP included) and a failed delivery.
From the state-law table's second version a reply is read for consent by `revocation`."""

from __future__ import annotations

import leadflow.engine.keywords as keywords
from leadflow.engine import campaigns, gate, reassigned, revocation, statuses
from leadflow.engine.channels import BY_PHONE
from leadflow.engine.events import (
    DeliveryFailed,
    NumberReassigned,
    OptedIn,
    OptedOut,
    ReplyReceived,
)
from leadflow.engine.run import (
    Run,
    dequeue,
    history,
    task,
)
from leadflow.models import Channel


def reply_received(run: Run, event: ReplyReceived) -> None:
    s = run.s
    if s.law >= 2:
        if revocation.reply_received(run, event):
            return
    elif _keyword(run, event) or (s.law >= 1 and event.channel != "email" and _revoked(run, event)):
        return
    s.replied = True
    if s.law >= 1:
        s.reached_at = run.now
    for name in sorted(s.campaigns):
        if run.book.campaigns[name].stop_on_reply:
            campaigns.stop_campaign(run, name, f"reply received by {event.channel}")
    history(run, "Reply", f"Reply by {event.channel} from {event.party}", event.party)


def _keyword(run: Run, event: ReplyReceived) -> bool:
    """STOP, START and HELP as leads on the first state-law table read them (texts only)."""
    meaning = event.keyword or (keywords.keyword(event.body) if event.channel != "email" else None)
    said = f"{event.party} replied {event.body.strip()[:40]!r}"
    if meaning == "stop":
        source = f"reply {event.body.strip()[:40]}"
        gate.opted_out(run, OptedOut(channel="sms", source=source, at=event.at))
    elif meaning == "start":
        gate.opted_in(run, OptedIn(channel="sms", at=event.at))
    elif meaning == "help":
        run.audit("reply:help", "note", f"{said}: answered with the help text, nothing else")
    return meaning is not None


def _revoked(run: Run, event: ReplyReceived) -> bool:
    """Consent revoked by any reasonable means: a plain request revokes at once (the
    channels it names; texts and calls when it names none); a reply that may mean it holds
    every text until a person
    reads it and records the opt-out, or opts the lead back in. Either is recorded with
    the reply's text and time; True when nothing else should come of the reply."""
    text = " ".join(event.body.split())
    found = keywords.revocation(text)
    if found is None:
        return False
    quoted = f"{event.party} replied {text[:60]!r} at {run.now:%Y-%m-%d %H:%M} UTC"
    if found == "revokes":
        history(run, "Opt-out", f"Consent revoked: {quoted}", event.party)
        source = f"reply {text}"[:100]
        for channel in keywords.revoked_channels(text):
            gate.opted_out(run, OptedOut(channel=channel, source=source, at=event.at))
        return True
    gate.consent_in_doubt(run, quoted)
    return False


def delivery_failed(run: Run, event: DeliveryFailed) -> None:
    s = run.s
    if event.reason == "listed":  # no consent and no relationship: not this time
        run.audit(event.key, "skipped", event.detail or "the number is on a do-not-call list")
        return
    if event.reason == "opted_out":
        gate.opted_out(run, OptedOut(channel="sms", source="carrier"))
        return
    if event.reason == "reassigned":
        run.audit(event.key, "skipped", event.detail or "the number was reported reassigned")
        if event.address is not None:
            found = NumberReassigned(phone=event.address, detail=event.detail)
            reassigned.number_reassigned(run, found)
        return
    if event.reason == "filtered":  # the carrier filters the content: a person should look
        owner = run.book.defaults.sender
        task(
            run,
            f"filtered:{event.key}",
            "Messages are being filtered by the carrier: review the template and the sender number",
            owner,
            run.now,
        )
        run.audit(event.key, "note", "delivery failed: filtered by the carrier")
        return
    channels: set[Channel] = set(BY_PHONE) if event.reason == "bad_number" else {event.channel}
    s.unreachable = sorted(set(s.unreachable) | channels)
    run.audit(event.key, "note", f"delivery failed: {event.reason}")
    if event.reason == "bad_number":
        dequeue(run, "bad phone number")
        bad = next((st.name for st in run.book.statuses if st.name == "Bad Phone Number"), None)
        if bad is not None and bad in run.book.links.get(s.milestone, []):
            statuses.apply_change(
                run, s.milestone, bad, "Lead Update", "Carrier: number unusable", "system"
            )
