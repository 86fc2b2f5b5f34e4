"""When a touch may reach a party: one rule for calls, texts and emails.

The party may be in several places at once, as far as the law goes: their own time zone and,
by phone, the zones of the number's area code; the state on record and the state of the area
code. The stricter rule wins everywhere: the window must be open in every zone, under every
state's hours, on a day no state bans, and under every cap that counts what was already sent.
The playbook's `compliance` adds the account's own windows and caps (tighter, never looser).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import leadflow.engine.law as law
import leadflow.engine.phones as phones
from leadflow.engine.channels import BY_PHONE
from leadflow.engine.run import Run
from leadflow.engine.state import EngineState, Party, TouchLog
from leadflow.models import Channel
from leadflow.playbook.durations import format_duration
from leadflow.playbook.law import (
    BY_TELEPHONE,
    FEDERAL,
    StateLaw,
    countries,
    country_of_region,
    table,
)
from leadflow.playbook.schema import Playbook, Window


@dataclass(frozen=True)
class Limit:
    """At most `max` touches per `per` to the address, counting `counts` (None: the
    address's messages), and why it waits when it binds."""

    max: int
    per: timedelta
    counts: frozenset[Channel] | None
    why: str


@dataclass(frozen=True)
class Reach:
    zones: list[str]
    rules: law.DayRules
    limits: list[Limit]


def reach(run: Run, party: Party | None, channel: Channel, address: str | None) -> Reach:
    """Where the party may be, and what governs a touch on this channel to them there."""
    s, rules = run.s, run.book.compliance
    own = (party.time_zone if party is not None else None) or s.time_zone
    by_phone = channel in BY_PHONE and address is not None
    zones = sorted({own, *(phones.zones_for(address) if by_phone and address else ())})
    region = (party.region if party is not None else None) or s.region
    if s.law < 1:  # before the state table: the playbook's window and cap for the region
        window = rules.state_quiet_hours.get(region or "", rules.quiet_hours)
        where = f"{region} " if region in rules.state_quiet_hours else ""
        bound = law.Bound(window.start, window.end, f"{where}window {law.span(window)}")
        cap = rules.frequency_caps.get(region or "") or rules.frequency_caps.get("default")
        old: list[Limit] = []
        if cap is not None and channel != "call":
            why = f"frequency cap: {cap.max} per {cap.per} ({region or 'default'})"
            old.append(Limit(cap.max, cap.per, None, why))
        return Reach(zones, law.DayRules((bound,), channel=channel), old)
    phone = address if by_phone else None
    states = _states(s.law, region, phone)
    # The account's own windows and caps: by state and, from law 2, by province on record.
    keyed = sorted({*states, *([region] if s.law >= 2 and region else [])})
    laws = [(code, rule) for code in states for rule in law.laws_for(s.law, code, channel)]
    number = phone or (party.phone if party is not None else None)
    national = _countries(s.law, law.countries_of(s.law, number, region, own), channel)
    source = next((rule.source for _, rule in national if _is(rules.quiet_hours, rule)), "")
    if s.law < 2:  # the federal window named only where the account's is the same
        us = bool(states) or (phone is not None and law.in_us(phone))
        federal = rules.quiet_hours == FEDERAL and channel in BY_TELEPHONE and us
        source = table(s.law).federal if federal else ""
    windows = [
        law.Bound(
            rules.quiet_hours.start,
            rules.quiet_hours.end,
            f"window {law.span(rules.quiet_hours)}",
            source,
        )
    ]
    windows += [
        law.Bound(w.start, w.end, f"{code} window {law.span(w)} (this account's)")
        for code in keyed
        if (w := rules.state_quiet_hours.get(code)) is not None
    ]
    # A country's window the account's already is, is named on it (as the federal one
    # always was); any other applies beside it, so the stricter wins.
    apart = [(code, rule) for code, rule in national if rule.source != source]
    return Reach(
        zones,
        law.DayRules(tuple(windows), (*laws, *apart), channel),
        _limits(run.book, keyed, [*laws, *national], channel),
    )


def _states(version: int, region: str | None, phone: str | None) -> list[str]:
    """The US states a party may be in: the one on record (from law 2, only a US region:
    a province is no state) and the one of a US number's area code."""
    record = region
    if version >= 2 and region is not None and country_of_region(region, version) != "US":
        record = None
    found = {record, law.area_state(phone) if phone else None}
    return sorted(code for code in found if code is not None)


def _countries(version: int, codes: list[str], channel: Channel) -> list[tuple[str, StateLaw]]:
    """The countries' rules a touch keeps to (from law 2), whatever the account's window."""
    return [(code, rule) for code in codes for rule in law.country_laws_for(version, code, channel)]


def _is(window: Window, rule: StateLaw) -> bool:
    """Whether the rule's hours are the window every day, with no day banned."""
    return rule.holidays is None and all(rule.day(d) == window for d in range(7))


def _limits(
    book: Playbook, states: list[str], laws: list[tuple[str, StateLaw]], channel: Channel
) -> list[Limit]:
    rules = book.compliance
    found: list[Limit] = []
    if channel != "call":  # the account's caps are on messages
        own = [
            (code, rules.frequency_caps[code]) for code in states if code in rules.frequency_caps
        ]
        if not own and "default" in rules.frequency_caps:
            own = [("default", rules.frequency_caps["default"])]
        for code, cap in own:
            why = (
                f"frequency cap: {cap.max} per {format_duration(cap.per)} ({code}, this account's)"
            )
            found.append(Limit(cap.max, cap.per, None, why))
    for code, statute in laws:
        for limit in statute.caps:
            if channel in limit.applies_to:
                why = (
                    f"frequency cap: {limit.max} {limit.what} per {format_duration(limit.per)} "
                    f"in {code} ({statute.source})"
                )
                found.append(Limit(limit.max, limit.per, frozenset(limit.counts), why))
    return found


def allowed(
    run: Run, where: Reach, address: str | None, at: datetime, spread: timedelta = timedelta(0)
) -> tuple[datetime | None, str]:
    """The first moment at or after `at` a touch may go, and why it waits ('' if it need
    not): each cap that binds, then the hours and days; a window's opening comes `spread`
    later (the lead's own offset, `engine.spread`), or at the next opening past that. None:
    the rules leave no hour open (an account's window and a state's hours that never
    meet), and why."""
    earliest, why = at, ""
    for limit in where.limits:
        recent = sorted(
            t.at for t in run.s.touches if _counted(t, address, limit) and t.at > at - limit.per
        )
        if len(recent) >= limit.max:
            until = recent[len(recent) - limit.max] + limit.per
            if until > earliest:
                earliest, why = until, limit.why
    try:
        opens = law.opening(earliest, where.zones, where.rules)
        if opens > earliest and spread:
            opens = law.opening(opens + spread, where.zones, where.rules)
    except law.NoWindow as exc:
        return None, str(exc)
    if opens > earliest:
        quiet = law.blocker(earliest, where.zones, where.rules)
        why = f"{why}; then {quiet}" if why else quiet
    return opens, why


def _counted(touch: TouchLog, address: str | None, limit: Limit) -> bool:
    if touch.address != address:
        return False
    channel = touch.channel or ("email" if "@" in touch.address else "sms")
    if limit.counts is None:
        return channel != "call"
    return channel in limit.counts


def longest(book: Playbook, s: EngineState) -> timedelta:
    """How far back any cap looks: touches older than this no longer count."""
    pers = [cap.per for cap in book.compliance.frequency_caps.values()]
    if s.law >= 1:
        statutes = [*table(s.law).states.values(), *countries(s.law).values()]
        statutes += [st.automated for st in statutes if st.automated is not None]
        pers += [cap.per for st in statutes for cap in st.caps]
    return max(pers, default=timedelta(days=1))
