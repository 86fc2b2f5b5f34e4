"""The moment of contact: the law holds when a person is reached, not only when the engine
decides (from the second state-law table on).

A message fired in an open window carries the window's end (`send_by`): the send activity
never calls the provider at or after it, and Twilio is told to drop the text if it is still
queued then (its `ValidityPeriod`). The caps that count messages to a person go with it, for
the activity to count the account's other leads' messages to the same number. A message the
provider did not send (the window closed first, Twilio let it expire or rate-limited it)
comes back as `not_sent`: the touch is tried again later under a key of its own, and
deferred to the next opening if the window has closed by then. A queued call carries its
window's end too: no agent is handed it after that, and the lead queues it again for the
next window when it passes unclaimed.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from typing import Literal

import leadflow.engine.law as law
import leadflow.engine.localtime as localtime
from leadflow.engine import limits
from leadflow.engine.commands import CapCheck
from leadflow.engine.events import DeliveryFailed
from leadflow.engine.run import Run
from leadflow.engine.state import AgendaItem, Party, PendingTouch, Sending
from leadflow.models import MessageChannel
from leadflow.playbook.identity import SAYS_STOP
from leadflow.playbook.law import StateLaw, countries, table
from leadflow.playbook.sender_identity import Identity

RESEND_WAIT = timedelta(minutes=15)  # a text the provider did not send is tried again then
KEPT = timedelta(days=1)  # how long after its window a fired message may still come back
_LOOKAHEAD = 7  # days: a window open all day runs into the next day's


def window_end(where: limits.Reach, at: datetime) -> datetime:
    """When the window open at `at` closes: the earliest close in any of the party's zones
    (`at` itself if it is not open)."""
    ends = []
    for zone in where.zones:
        local = localtime.to_local(at, zone)
        day, end = local.date(), at
        for ahead in range(_LOOKAHEAD):
            rule = where.rules.on(day + timedelta(days=ahead))
            if not isinstance(rule, law.Day) or (ahead and rule.start != time(0)):
                break
            if rule.end != time.max:
                end = localtime.at_local(day + timedelta(days=ahead), rule.end, zone)
                break
            end = localtime.at_local(day + timedelta(days=ahead + 1), time(0), zone)
        ends.append(end)
    return min(ends, default=at).astimezone(UTC)  # kept in UTC, as every time in the state


def caps(where: limits.Reach) -> list[CapCheck]:
    """The caps on the touch, for the send activity to count across the account."""
    return [
        CapCheck(
            max=limit.max,
            per=limit.per,
            counts=sorted(limit.counts) if limit.counts is not None else None,
            why=limit.why,
        )
        for limit in where.limits
    ]


def fired(run: Run, touch: PendingTouch, send_by: datetime) -> None:
    """Remember a fired message until it can no longer come back unsent."""
    s = run.s
    s.sending = [m for m in s.sending if m.send_by + KEPT > run.now]
    s.sending.append(Sending(touch=touch, at=run.now, send_by=send_by))


def not_sent(run: Run, event: DeliveryFailed) -> None:
    """The provider did not send it: the touch goes again under a new key, after a wait,
    and no later than its window's end (where the gate defers it to the next opening)."""
    s = run.s
    sent = next((m for m in s.sending if m.touch.key == event.key), None)
    if sent is None:
        run.audit(event.key, "note", "not sent: the provider did not take it in its window")
        return
    s.sending.remove(sent)
    address = _address(run, sent.touch)
    s.touches = [
        t for t in s.touches if not (t.at == sent.at and t.address == address)
    ]  # it never reached the lead: it counts towards no cap
    due = max(min(run.now + RESEND_WAIT, sent.send_by), run.now)
    touch = sent.touch.model_copy(update={"key": again(sent.touch.key)})
    if touch.deferred_at is None:
        touch = touch.model_copy(update={"deferred_at": sent.at})
    s.agenda.append(AgendaItem(key=touch.key, due=due, kind="touch", touch=touch))
    run.audit(
        touch.key,
        "deferred",
        f"{sent.touch.key} was not sent in its window: tried again under this key "
        "(the gate defers it to the next opening if the window has closed)",
        until=due,
    )


_AGAIN = re.compile(r"^(?P<base>.*):again(?P<n>\d+)$")


def again(key: str) -> str:
    """The key of a touch's next try: `k:again2`, then `k:again3`..."""
    found = _AGAIN.match(key)
    if found is None:
        return f"{key}:again2"
    return f"{found.group('base')}:again{int(found.group('n')) + 1}"


def _address(run: Run, touch: PendingTouch) -> str | None:
    party = run.s.parties.get(touch.party)
    if party is None:
        return None
    return party.email if touch.channel == "email" else party.phone


Disclosure = Literal["sender", "unsubscribe"]
_STOP_LINE: dict[str, str] = {
    "sms": " Reply STOP to opt out.",
    "mms": " Reply STOP to opt out.",
    "email": "\n\nTo stop these emails, reply STOP.",
}


CAN_SPAM = "CAN-SPAM Act, 15 U.S.C. § 7704(a)(5)(A)(iii)"


def postal(body: str, identity: Identity | None) -> tuple[str, list[str]]:
    """An email with the business's postal address after it, when the playbook gives one and
    the body lacks it (the send path adds the unsubscribe link beside it)."""
    if identity is None or identity.postal_address is None or identity.postal_address in body:
        return body, []
    line = f"{identity.name}, {identity.postal_address}"
    return f"{body.rstrip()}\n\n{line}", [f"the sender's postal address ({CAN_SPAM})"]


def disclosures(
    run: Run, party: Party, channel: MessageChannel, address: str
) -> tuple[set[Disclosure], list[str]]:
    """What the law of the party's places says this message must carry (who sends it, how
    to stop them: CASL in every message to a Canadian, Oregon's sender in the first text),
    and the rules that say so."""
    s = run.s
    version = s.law
    region = party.region or s.region
    phone = party.phone
    zone = party.time_zone or s.time_zone
    rows: list[StateLaw] = [
        law_
        for code in law.countries_of(version, phone, region, zone)
        if (law_ := countries(version).get(code)) is not None
    ]
    states = {region, law.area_state(phone) if phone else None}
    rows += [
        row for code in sorted(c for c in states if c) if (row := table(version).states.get(code))
    ]
    first = not any(t.address == address and t.channel == channel for t in s.touches)
    needs: set[Disclosure] = set()
    why: list[str] = []
    for row in rows:
        for rule in row.disclose:
            if channel in rule.channels and (rule.when == "every" or first):
                needs.add(rule.what)
                why.append(rule.source)
    return needs, why


def disclosed(
    body: str, channel: MessageChannel, needs: set[Disclosure], sender: str
) -> tuple[str, list[str]]:
    """The body with what it lacks of `needs`: the sender's name before it, how to stop
    after it; and what was added, in words."""
    added: list[str] = []
    if "sender" in needs and sender and not _names(body, sender):
        body = f"{sender}: {body}"
        added.append("the sender's name")
    if "unsubscribe" in needs and not SAYS_STOP.search(body):
        body = body.rstrip() + _STOP_LINE[channel]
        added.append("how to stop")
    return body, added


def _names(body: str, sender: str) -> bool:
    """Whether the body names the sender: their name, or its first word ("this is Ivy")."""
    first = sender.split()[0] if sender.split() else sender
    words = set(re.findall(r"\w+", body.casefold()))
    return sender.casefold() in body.casefold() or (len(first) > 1 and first.casefold() in words)
