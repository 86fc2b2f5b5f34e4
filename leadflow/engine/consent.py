"""Who may be solicited at all (from the second state-law table): consent on record, and
the established business relationship's clocks.

A number on a do-not-call list (the country's registry, a state's list) may receive a
solicitation only with the party's written consent to it on that channel, or within a live
established business relationship: an inquiry within the country's months (3 in the US,
6 in Canada), a transaction within 18; a do-not-call request ends it at once (47 C.F.R. §
64.1200(f)(5)). The engine cannot read the lists (they change under a running lead): it
says on each message and queued call why no list holds it (`exemption`), or that the lists
are to be checked, and the send activity and the claim check them at the moment of contact
(`leadflow.activities.listed`, `leadflow.store.queue`).
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Collection
from datetime import datetime

import leadflow.engine.law as law
from leadflow.engine import phones
from leadflow.engine.commands import EndConsents
from leadflow.engine.events import ConsentRecorded, RelationshipDates
from leadflow.engine.run import Run
from leadflow.engine.state import ConsentHeld, EngineState, Party
from leadflow.models import Channel
from leadflow.playbook.law import DoNotCall, countries

TEXTS_TOO: dict[Channel, set[Channel]] = {"sms": {"sms", "mms"}, "mms": {"sms", "mms"}}


def covers(consent: ConsentHeld, channel: Channel) -> bool:
    """Consent to texts is to sms and mms alike."""
    return channel in {c for given in consent.channels for c in TEXTS_TOO.get(given, {given})}


def live(s: EngineState, role: str, channel: Channel) -> list[ConsentHeld]:
    """The party's consents on record that cover the channel and no revocation has ended."""
    return [c for c in s.consents if c.party == role and c.ended_at is None and covers(c, channel)]


def recorded(run: Run, event: ConsentRecorded) -> None:
    """A consent recorded with its evidence: a repeat of one on record changes nothing."""
    s, given = run.s, event.consent
    if any(c.id == given.id for c in s.consents):
        return
    s.consents.append(given)
    noted(run, given)


def noted(run: Run, given: ConsentHeld) -> None:
    """The audit line of a consent on record."""
    kind = "written" if given.written else "not in writing"
    run.audit(
        f"consent:{given.id}",
        "note",
        f"{given.party} consented to {', '.join(given.channels)} ({given.scope}, {kind}: "
        f"{given.means.replace('_', ' ')}, {given.given_at:%Y-%m-%d})",
    )


def relationship(run: Run, event: RelationshipDates) -> None:
    s = run.s
    if event.inquired_at is not None:
        s.inquired_at = event.inquired_at
    if event.transacted_at is not None:
        s.transacted_at = event.transacted_at
    said = [
        f"{what} {when:%Y-%m-%d}"
        for what, when in (("inquiry", s.inquired_at), ("last transaction", s.transacted_at))
        if when is not None
    ]
    run.audit("relationship", "note", f"business relationship: {', '.join(said) or 'none'}")


def revoked(run: Run, channels: Collection[Channel], why: str) -> None:
    """A revocation ends every consent it covers, on any party (the address is the lead's),
    recorded beside each."""
    s = run.s
    ended = [
        c.id for c in s.consents if c.ended_at is None and any(covers(c, ch) for ch in channels)
    ]
    s.consents = [
        c.model_copy(update={"ended_at": run.now}) if c.id in ended else c for c in s.consents
    ]
    if ended:
        run.emit(EndConsents(ids=ended, at=run.now, why=why[:200]))


def unwritten(run: Run, role: str, party: Party, channel: Channel, template: str) -> str | None:
    """Why a marketing message may not go on this channel without the party's prior express
    written consent on record (from the third table: US texts), or None if it may."""
    s = run.s
    if s.law < 3 or party.phone is None or run.book.templates[template].purpose != "marketing":
        return None
    where = phones.region(party.phone)
    rule = next(
        (row.written_consent for row in countries(s.law).values() if where in row.regions), None
    )
    if rule is None or channel not in rule.covers:
        return None
    if any(c.written and c.scope == "marketing" for c in live(s, role, channel)):
        return None
    return (
        f"a marketing {channel} needs {role}'s written consent on record ({rule.source}); "
        "record it with POST /v1/leads/{id}/consents"
    )


def registry(s: EngineState, party: Party | None, channel: Channel) -> DoNotCall | None:
    """The do-not-call rules that reach a touch to the party on this channel: the lists are
    of numbers, so the number's country decides (not where the party lives)."""
    if party is None or party.phone is None or s.law < 2:
        return None
    return _rules(s.law, party.phone, channel)


def _rules(version: int, phone: str, channel: Channel) -> DoNotCall | None:
    where = phones.region(phone)
    for row in countries(version).values():
        rules = row.do_not_call
        if where in row.regions and rules is not None and channel in rules.covers:
            return rules
    return None


def lists(
    run: Run, role: str, party: Party | None, channel: Channel
) -> tuple[list[str], str | None]:
    """The do-not-call lists that reach a solicitation to the party on this channel (the
    country's registry; the state's own list where the country has them and the number's
    area code is in a state), and why none holds it now (`exemption`)."""
    if party is None or party.phone is None or run.s.law < 2:
        return [], None
    names = reaching(run.s.law, party.phone, channel)
    return names, (exemption(run, role, party, channel) if names else None)


def reaching(version: int, phone: str, channel: Channel) -> list[str]:
    """The do-not-call lists that reach a solicitation to `phone` on this channel: the
    registry of the number's country, and its state's own list where the country has them
    (by the area code)."""
    rules = _rules(version, phone, channel)
    if rules is None:
        return []
    names = [rules.registry]
    if rules.state_lists and (state := law.area_state(phone)) is not None:
        names.append(f"state:{state}")
    return names


def exemption(run: Run, role: str, party: Party | None, channel: Channel) -> str | None:
    """Why no do-not-call list holds a solicitation to the party on this channel now: their
    written consent to it, or a live established business relationship; None if neither
    (the lists are checked at the moment of contact)."""
    s = run.s
    written = [c for c in live(s, role, channel) if c.written and c.scope == "marketing"]
    if written:
        first = min(written, key=lambda c: c.given_at)
        return f"written consent ({first.means.replace('_', ' ')}, {first.given_at:%Y-%m-%d})"
    rules = registry(s, party, channel)
    if rules is None or "call" in s.opted_out:  # a do-not-call request ends the relationship
        return None
    for what, since, months in (
        ("inquiry", s.inquired_at, rules.inquiry_months),
        ("transaction", s.transacted_at, rules.transaction_months),
    ):
        if since is not None and run.now < (until := add_months(since, months)):
            return (
                f"business relationship: {what} on {since:%Y-%m-%d}, until {until:%Y-%m-%d} "
                f"({rules.source})"
            )
    return None


def add_months(at: datetime, months: int) -> datetime:
    """The same day and time `months` later (the month's last day where it has fewer)."""
    month = at.month - 1 + months
    year, month = at.year + month // 12, month % 12 + 1
    return at.replace(year=year, month=month, day=min(at.day, monthrange(year, month)[1]))
