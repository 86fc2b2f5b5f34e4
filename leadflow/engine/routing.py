"""Who gets a new lead: the playbook's routing rules (`leadflow.playbook.routing`) applied to
the lead's facts, the team's availability and what each user already holds. Pure: the
caller brings the users, their load and the rules' rotation state, and keeps the rotation
it gets back where one writer owns it.

A rule's chain (the rule, then its fallbacks) is walked in order, past the rules already
tried for this lead (an offer that ran out, a user who did not work it); in each rule only the
users who may take the lead now are considered: not away, inside their working hours in
their own zone, licensed in the lead's state when the rule's users hold licences, and
under the rule's caps for the day and for open leads. Round robin gives the lead to the
next eligible user after the last one given (weighted: smooth weighted round robin, so
shares stay within one lead of the weights at every moment). A first-to-claim rule offers
the lead to every eligible user at once, a pond to its whole group (each may take it while
eligible). Every answer says why, in words an audit line can carry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from leadflow.engine import localtime
from leadflow.playbook.routing import Match, Routing, Rule, chain
from leadflow.playbook.schema import Window


@dataclass(frozen=True)
class Facts:
    """What the rules read of a lead."""

    source: str | None = None
    loan_purpose: str | None = None
    region: str | None = None
    tags: frozenset[str] = frozenset()
    language: str | None = None
    price: int | None = None

    @classmethod
    def of(cls, holder: Any) -> Facts:
        """The facts of what carries them: a lead's state, a routing request."""
        return cls(
            source=holder.source,
            loan_purpose=holder.loan_purpose,
            region=holder.region,
            tags=frozenset(holder.tags),
            language=holder.language,
            price=holder.price,
        )

    def fields(self) -> dict[str, Any]:
        """As a message carries them (tags in order)."""
        return {**asdict(self), "tags": sorted(self.tags)}


@dataclass(frozen=True)
class Agent:
    """A user as routing sees them: what they fill, when and where they work."""

    id: str
    designations: frozenset[str]
    time_zone: str = "UTC"
    hours: Window | None = None  # every working day; None: any hour
    days: frozenset[int] = frozenset(range(7))  # working weekdays, 0 is Monday
    away: bool = False  # paused, on vacation: no new leads
    licensed: frozenset[str] | None = None  # states they may take leads of; None: any


@dataclass(frozen=True)
class Load:
    """What a user holds: leads given today (their day) and leads open now."""

    today: int = 0
    open: int = 0


@dataclass(frozen=True)
class Rotation:
    """A rule's round-robin state: who was given the last lead, and each user's running
    weight (smooth weighted round robin)."""

    last: str | None = None
    current: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Routed:
    """Where a new lead goes: to one user (`agent`), offered to several (`offered`, until
    `until`; a pond has no end), or nowhere yet (nobody eligible along the chain: it waits
    for the first who becomes eligible). `rule` is the rule that decided, `why` the audit's
    words, `rotation` the rule's state after it (None: unchanged)."""

    rule: str | None
    why: str
    agent: str | None = None
    rotation: Rotation | None = None
    offered: tuple[str, ...] = ()
    until: datetime | None = None
    work_by: datetime | None = None  # a user given it: when their time to work it ends
    notices: tuple[str, ...] = ()  # the notices to users it wrote (their outbox keys)


def matches(match: Match, facts: Facts) -> bool:
    """Whether the lead meets every criterion the rule gives."""
    checks = [
        not match.sources or facts.source in match.sources,
        not match.loan_purposes or facts.loan_purpose in match.loan_purposes,
        not match.regions or facts.region in match.regions,
        not match.tags or bool(facts.tags & set(match.tags)),
        not match.languages or facts.language in match.languages,
        match.price_min is None or (facts.price is not None and facts.price >= match.price_min),
        match.price_max is None or (facts.price is not None and facts.price <= match.price_max),
    ]
    return all(checks)


def first_rule(routing: Routing, facts: Facts) -> Rule:
    """The first rule the lead meets (the last is the catch-all)."""
    return next((rule for rule in routing.rules if matches(rule.when, facts)), routing.rules[-1])


def group(rule: Rule, agents: Sequence[Agent]) -> list[Agent]:
    """The rule's users, by id: those it names, else everyone who fills its designation."""
    found = [a for a in agents if rule.designation in a.designations]
    if rule.group:
        found = [a for a in found if a.id in rule.group]
    return sorted(found, key=lambda a: a.id)


def why_not(agent: Agent, rule: Rule, facts: Facts, now: datetime, load: Load) -> str | None:
    """Why the user may not be given the lead now, or None if they may."""
    if agent.away:
        return f"{agent.id} is away"
    local = localtime.to_local(now, agent.time_zone)
    if local.weekday() not in agent.days:
        return f"{agent.id} does not work on {local:%A}s"
    if agent.hours is not None and not agent.hours.start <= local.time() < agent.hours.end:
        return (
            f"{agent.id} works {agent.hours.start:%H:%M}-{agent.hours.end:%H:%M} "
            f"{agent.time_zone}, it is {local:%H:%M}"
        )
    if agent.licensed is not None and (facts.region is None or facts.region not in agent.licensed):
        return f"{agent.id} holds no licence in {facts.region or 'an unknown state'}"
    if rule.caps.per_day is not None and load.today >= rule.caps.per_day:
        return f"{agent.id} was given {load.today} today (cap {rule.caps.per_day})"
    if rule.caps.open is not None and load.open >= rule.caps.open:
        return f"{agent.id} holds {load.open} open (cap {rule.caps.open})"
    return None


def route(
    routing: Routing,
    facts: Facts,
    agents: Sequence[Agent],
    now: datetime,
    loads: Mapping[str, Load],
    rotations: Mapping[str, Rotation],
    tried: Sequence[str] = (),
) -> Routed:
    """Where the lead goes: along its rule's chain (past the rules `tried`), the first rule
    with someone eligible decides; past the chain, the routing's owner; else it waits,
    saying why."""
    passed = [f"{name}: tried" for name in tried]
    for rule in chain(routing, first_rule(routing, facts)):
        if rule.name in tried:
            continue
        members = group(rule, agents)
        refused = {a.id: why_not(a, rule, facts, now, loads.get(a.id, Load())) for a in members}
        eligible = [a.id for a in members if refused[a.id] is None]
        if not eligible:
            said = "; ".join(w for w in refused.values() if w) or "no users fill it"
            passed.append(f"{rule.name}: nobody eligible ({said})")
            continue
        lead_in = f" after {'; '.join(passed)}" if passed else ""
        if rule.mode != "round_robin":
            return _offer(rule, members, eligible, now, lead_in)
        rotation = rotations.get(rule.name, Rotation())
        chosen, after = _next(rule, [a.id for a in members], eligible, rotation)
        before = _order(members, rotation)
        passed_over = before[: before.index(chosen)] if not rule.weights else []
        skipped = [w for who in passed_over if (w := refused[who])]
        why = f"{rule.name}: round robin, {_turn(rule, rotation, chosen)}"
        if skipped:
            why += f" ({'; '.join(skipped)})"
        return Routed(rule.name, why + lead_in, agent=chosen, rotation=after)
    owner = routing.owner
    if owner is not None:
        return Routed(None, f"to the owner {owner}: {'; '.join(passed)}", agent=owner)
    return Routed(None, f"waits for the first who may take it: {'; '.join(passed)}")


def _offer(
    rule: Rule, members: Sequence[Agent], eligible: list[str], now: datetime, lead_in: str
) -> Routed:
    if rule.mode == "pond":
        everyone = tuple(a.id for a in members)
        why = f"{rule.name}: in the pond, open to {', '.join(everyone)}"
        return Routed(rule.name, why + lead_in, offered=everyone)
    minutes = int(rule.claim_window.total_seconds() // 60)
    why = f"{rule.name}: offered to {', '.join(eligible)} for {minutes} min, first to claim"
    return Routed(rule.name, why + lead_in, offered=tuple(eligible), until=now + rule.claim_window)


def may_claim(
    agent: Agent, rule: Rule, facts: Facts, now: datetime, load: Load, routed: Routed
) -> str | None:
    """Why the user may not take an offered lead now, or None if they may."""
    if routed.agent is not None:
        return f"{routed.agent} took it first" if routed.agent != agent.id else None
    if routed.until is not None and now >= routed.until:
        return f"the offer ran out at {routed.until:%H:%M} UTC"
    if agent.id not in routed.offered:
        return f"{agent.id} was not offered this lead"
    return why_not(agent, rule, facts, now, load)


def work_by(agent: Agent | None, start: datetime, within: timedelta) -> datetime:
    """When `within` of the user's working time after `start` ends: the clock stands still
    outside their working hours and days (their own zone); a user with no hours on record
    works around the clock."""
    if agent is None or (agent.hours is None and len(agent.days) == 7) or not agent.days:
        return start + within
    left, at = within, start
    for _ in range(400):  # a shift a day: more than a year of shifts
        begin, end = _shift(agent, at)
        at = max(at, begin)
        if left <= end - at:
            return at + left
        left, at = left - (end - at), end
    return start + within


def worked_seconds(agent: Agent | None, start: datetime, end: datetime) -> int | None:
    """The seconds of the user's working time from `start` to `end` (speed to lead in
    business hours); None for a user with no hours on record, who works around the clock."""
    if agent is None or (agent.hours is None and len(agent.days) == 7) or not agent.days:
        return None
    total, at = timedelta(0), start
    for _ in range(400):  # a shift a day: more than a year of shifts
        begin, stop = _shift(agent, at)
        if at >= end or begin >= end:
            break
        at = max(at, begin)
        total += min(stop, end) - at
        at = stop
    return int(total.total_seconds())


def _shift(agent: Agent, at: datetime) -> tuple[datetime, datetime]:
    """The user's shift that `at` falls in, or the next one, in UTC."""
    local = localtime.to_local(at, agent.time_zone)
    zone = local.tzinfo
    for ahead in range(8):
        day = local.date() + timedelta(days=ahead)
        if day.weekday() not in agent.days:
            continue
        if agent.hours is None:
            begin = datetime.combine(day, time(0), zone)
            end = datetime.combine(day + timedelta(days=1), time(0), zone)
        else:
            begin = datetime.combine(day, agent.hours.start, zone)
            end = datetime.combine(day, agent.hours.end, zone)
        if end > local:
            return begin.astimezone(UTC), end.astimezone(UTC)
    return at, at + timedelta(days=1)  # unreachable: some day of the week is worked


def _next(
    rule: Rule, members: list[str], eligible: list[str], rotation: Rotation
) -> tuple[str, Rotation]:
    if rule.weights:
        current = dict(rotation.current)
        total = 0
        for who in eligible:
            weight = rule.weights.get(who, 1)
            current[who] = current.get(who, 0) + weight
            total += weight
        chosen = max(eligible, key=lambda who: (current[who], -eligible.index(who)))
        current[chosen] -= total
        return chosen, Rotation(last=chosen, current=current)
    start = members.index(rotation.last) + 1 if rotation.last in members else 0
    chosen = next(who for who in members[start:] + members[:start] if who in eligible)
    return chosen, Rotation(last=chosen, current=rotation.current)


def _order(members: Sequence[Agent], rotation: Rotation) -> list[str]:
    """The users in the order their turns come, from the one after the last given."""
    ids = [a.id for a in members]
    start = ids.index(rotation.last) + 1 if rotation.last in ids else 0
    return ids[start:] + ids[:start]


def _turn(rule: Rule, rotation: Rotation, chosen: str) -> str:
    if rule.weights:
        return f"{chosen} by weight ({rule.weights.get(chosen, 1)} shares)"
    if rotation.last is None:
        return f"{chosen} first"
    return f"{chosen}, next after {rotation.last}"
