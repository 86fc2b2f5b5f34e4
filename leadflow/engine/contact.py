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
from datetime import datetime, time, timedelta

import leadflow.engine.law as law
import leadflow.engine.localtime as localtime
from leadflow.engine import limits
from leadflow.engine.commands import CapCheck
from leadflow.engine.events import DeliveryFailed
from leadflow.engine.run import Run
from leadflow.engine.state import AgendaItem, PendingTouch, Sending

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
    return min(ends, default=at)


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
