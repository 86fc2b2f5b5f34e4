"""Reassigned numbers (from the second state-law table): a number the lead gave may since
have been disconnected and handed to someone else, who never consented.

Each text and queued call to a US number carries the day since which the number is known
to be the party's (`since`): the latest of their live consent to the channel, the lead's
inquiry and the last reply or call that reached them. The send and the claim ask the FCC
Reassigned Numbers Database about it at the moment of contact (`activities.reassigned`);
a "yes" (disconnected since) stops the message and comes back here (`number_reassigned`):
no text or call goes to that number again on this lead, the queued call leaves, and the
lead's owner gets a task to find the party's number. A new number for the party is reached
as any other."""

from __future__ import annotations

from datetime import date

from leadflow.engine import consent, phones
from leadflow.engine.events import NumberReassigned
from leadflow.engine.run import Run, dequeue, primary_party, task
from leadflow.engine.state import EngineState, Party
from leadflow.models import Channel

# The numbers the Reassigned Numbers Database covers: the US and its territories that share
# its numbering plan (47 C.F.R. § 64.1200(l)).
COVERED = frozenset({"US", "PR", "VI", "GU", "AS", "MP"})
RULE = "47 C.F.R. § 64.1200(m)"


def since(run: Run, role: str, party: Party | None, channel: Channel) -> date | None:
    """The day since which the party's number is known to be theirs, for a text or call to
    it; None where the database has nothing to say (email, another country's number)."""
    s = run.s
    if channel == "email" or party is None or party.phone is None or s.law < 2:
        return None
    if phones.region(party.phone) not in COVERED:
        return None
    known = [c.given_at for c in consent.live(s, role, channel)]
    known += [at for at in (s.inquired_at, s.reached_at) if at is not None]
    return max(known).date() if known else None


def reported(s: EngineState, phone: str | None) -> bool:
    return phone is not None and phone in s.reassigned


def number_reassigned(run: Run, event: NumberReassigned) -> None:
    """Stop every text and call to the number, and ask the lead's owner to find another."""
    s = run.s
    if event.phone in s.reassigned:
        return
    s.reassigned = [*s.reassigned, event.phone]
    roles = sorted(role for role, party in s.parties.items() if party.phone == event.phone)
    who = " and ".join(roles) or "a former party"
    why = event.detail or f"the Reassigned Numbers Database reports it disconnected ({RULE})"
    run.audit(f"reassigned:{len(s.reassigned)}", "note", f"{who}'s number reassigned: {why}")
    primary = primary_party(s)
    if primary is not None and primary.phone == event.phone:
        dequeue(run, "the number was reported reassigned")
    task(
        run,
        f"reassigned:{len(s.reassigned)}",
        f"Find {who}'s number: the one on file was reported reassigned",
        run.book.defaults.sender,
        run.now,
        notes=why,
    )
