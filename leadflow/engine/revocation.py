"""Consent revoked by any reasonable means, one rule for every channel (the FCC's 2024 rule,
47 CFR 64.1200(a)(10)-(12)): a reply by text or email, a call's Do Not Call disposition, an
agent's note. It applies from the state-law table's second version (`EngineState.law >= 2`);
leads recorded under the first decide as they did (`replies`)."""

from __future__ import annotations

import re

import leadflow.engine.keywords as keywords
from leadflow.engine import gate
from leadflow.engine.events import CallLogged, OptedIn, OptedOut, ReplyReceived
from leadflow.engine.run import Run, dequeue, history, primary_party, task

_DO_NOT_CALL = re.compile(r"do\s*not\s*call(?:\s+(?:number|list|request))?|dnc", re.IGNORECASE)


def reply_received(run: Run, event: ReplyReceived) -> bool:
    """Read a reply for consent; True when nothing else should come of it (a keyword, a
    plain revocation). STOP ALL ends every channel; a STOP by email ends texts and emails;
    a reply that may revoke holds texts (and calls, if it says wrong number) for a person."""
    body = keywords.own_words(event.body) if event.channel == "email" else event.body
    text = " ".join(body.split())
    when = f"{run.now:%Y-%m-%d %H:%M} UTC"
    quoted = f"{event.party} replied {text[:60]!r} by {event.channel} at {when}"
    stop = keywords.stop_keyword(text) or ("stop" if event.keyword == "stop" else None)
    if stop == "stop_all":
        history(run, "Opt-out", f"Consent revoked for every channel: {quoted}", event.party)
        gate.opted_out(run, OptedOut(channel="all", source=f"reply {text[:40]}", at=event.at))
        return True
    if stop == "stop":
        if event.channel == "email":
            history(run, "Opt-out", f"Consent revoked: {quoted}", event.party)
            gate.opted_out(run, OptedOut(channel="email", source=f"reply {text[:40]}", at=event.at))
        source = f"reply {event.body.strip()[:40]}"
        gate.opted_out(run, OptedOut(channel="sms", source=source, at=event.at))
        return True
    meaning = event.keyword or (keywords.keyword(event.body) if event.channel != "email" else None)
    if meaning == "start":
        gate.opted_in(run, OptedIn(channel="sms", at=event.at))
        return True
    if meaning == "help":
        said = f"{event.party} replied {event.body.strip()[:40]!r}"
        run.audit("reply:help", "note", f"{said}: answered with the help text, nothing else")
        return True
    found = keywords.reading(text, event.channel)
    if found is None:
        return False
    if found.revokes:
        history(run, "Opt-out", f"Consent revoked: {quoted}", event.party)
        for channel in found.revokes:
            source = f"reply {text}"[:100]
            gate.opted_out(run, OptedOut(channel=channel, source=source, at=event.at))
    if found.wrong_number and not {"sms", "call"} <= set(found.revokes):
        _calls_in_doubt(run, quoted)
    elif found.in_doubt:
        if run.s.consent_doubt_calls and run.s.consent_doubt is not None:
            _calls_in_doubt(run, quoted)  # still a question about the number
        else:
            gate.consent_in_doubt(run, quoted)
    return bool(found.revokes)


def _calls_in_doubt(run: Run, quoted: str) -> None:
    """A reply saying "wrong number": the number may not be the lead's, so neither texts nor
    calls go to it until a person reads the reply and records the opt-out, or opts the lead
    back in (`gate._consent_settled`)."""
    s = run.s
    s.consent_doubt, s.consent_task = quoted, f"{gate.CONSENT_TASK}:{run.now:%Y%m%dT%H%M%S.%f}"
    s.consent_doubt_calls = True
    task(
        run,
        s.consent_task,
        "Read the lead's reply: is this the lead's number, and does it revoke consent to texts "
        "and calls? Record the opt-out if it does; opt the lead back in to texts if not",
        run.book.defaults.sender,
        run.now,
        notes=quoted,
    )
    dequeue(run, "calls wait for a person to read a reply")
    run.audit(s.consent_task, "note", f"texts and calls held: {quoted} may revoke consent")


def call_logged(run: Run, event: CallLogged, status: str) -> None:
    """A Do Not Call disposition opts the number out of calls for the whole account, so no
    later status change calls it again; the agent's comments are read as a note."""
    if run.s.law < 2:
        return
    said = (event.disposition or "").strip()
    if _DO_NOT_CALL.fullmatch(said) or _DO_NOT_CALL.fullmatch(status):
        party = primary_party(run.s)
        phone = party.phone if party is not None else None
        history(run, "Opt-out", f"Do Not Call: no more calls to {phone}", event.actor)
        source = f"disposition {event.disposition} by {event.actor}"[:100]
        gate.opted_out(run, OptedOut(channel="call", source=source))
    noted(run, event.comments, event.actor)


def noted(run: Run, note: str, actor: str) -> None:
    """An agent's note that records a plain revocation ("asked us to stop texting her")
    opts out of what it names; a time it sets ("don't call before 5") is no revocation."""
    if run.s.law < 2 or not note.strip():
        return
    found = keywords.reading(note, note=True)
    if found is None:
        return
    text = " ".join(note.split())
    history(run, "Opt-out", f"Consent revoked, noted by {actor}: {text[:80]!r}", actor)
    for channel in found.revokes:
        gate.opted_out(run, OptedOut(channel=channel, source=f"note by {actor}: {text}"[:100]))
