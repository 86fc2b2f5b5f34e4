"""Routing as playbook data: who gets a new lead, in what order, and what happens when
nobody takes it or works it.

Ordered rules, the first whose criteria the lead meets wins; the last has none (the
catch-all, which `problems` insists on). Each rule fills one designation from a group of
users by round robin, even or weighted per user. Caps bound what one user is given a day
and holds open; a lead nobody in the rule may take goes along its fallback chain, then to
the routing's owner, else waits for the first who may. The engine's half is
`leadflow.engine.routing`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from leadflow.models import Message, Name
from leadflow.playbook.durations import Duration
from leadflow.playbook.regions import Region

Mode = Literal["round_robin", "first_to_claim", "pond"]
CLAIM_WINDOW = timedelta(minutes=5)


class Match(Message):
    """What a lead must have for a rule to take it: each list given is a choice (any of),
    every criterion given must hold. None given: every lead (the catch-all)."""

    sources: list[Name] = []
    loan_purposes: list[Name] = []
    regions: list[Region] = []  # two-letter state or province codes
    tags: list[Name] = []  # any of the lead's tags
    languages: list[Name] = []
    price_min: int | None = Field(default=None, ge=0)
    price_max: int | None = Field(default=None, ge=0)

    @property
    def everyone(self) -> bool:
        return self == Match()

    @model_validator(mode="after")
    def _range(self) -> Match:
        low, high = self.price_min, self.price_max
        if low is not None and high is not None and low > high:
            raise ValueError("price_min is above price_max")
        return self


class Caps(Message):
    """At most `per_day` leads given to one user a day (in their zone), and `open` leads
    held at once; None: no cap."""

    per_day: int | None = Field(default=None, ge=1)
    open: int | None = Field(default=None, ge=1)


class Rule(Message):
    """One rule: the leads it takes (`when`), the designation it fills, from which group and
    how. `round_robin` gives the lead to the next eligible user in turn; `first_to_claim`
    offers it to every eligible user at once for `claim_window`, the first to accept wins,
    then the chain moves on; `pond` leaves it open to anyone in the group who may take it,
    with no window. A user given the lead who takes no human action on it within
    `work_within` of their working time loses it to the next rule of the chain."""

    name: Name
    when: Match = Match()
    designation: Name  # the team role it fills on the lead (isa, loan_officer, agent)
    group: list[Name] = []  # user ids; empty: every user who fills the designation
    weights: dict[Name, int] = {}  # round robin: a user's share against the others' (1 each)
    caps: Caps = Caps()
    fallback: list[Name] = []  # other rules, tried in order when nobody here may take it
    mode: Mode = "round_robin"
    claim_window: Duration = CLAIM_WINDOW  # first_to_claim: how long the offer stands
    work_within: Duration | None = None  # working time the user has to act on the lead

    @model_validator(mode="after")
    def _weights(self) -> Rule:
        if any(w < 1 for w in self.weights.values()):
            raise ValueError("a weight is a whole number of shares, 1 or more")
        if self.weights and self.mode != "round_robin":
            raise ValueError("weights are for round_robin; a claim goes to the first to accept")
        if not timedelta(minutes=1) <= self.claim_window <= timedelta(days=1):
            raise ValueError("claim_window is between 1 minute and 1 day")
        if self.work_within is not None and self.work_within < timedelta(minutes=1):
            raise ValueError("work_within is at least 1 minute")
        return self

    @model_serializer(mode="wrap")
    def _as_before(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A round-robin rule's JSON as before modes (a playbook's digest is of its JSON)."""
        body: dict[str, Any] = handler(self)
        for name, default in (
            ("mode", "round_robin"),
            ("claim_window", CLAIM_WINDOW),
            ("work_within", None),
        ):
            if getattr(self, name) == default:
                body.pop(name, None)
        return body


class Routing(Message):
    rules: list[Rule] = Field(min_length=1, max_length=100)
    owner: Name | None = None  # the user a lead goes to when every chain runs out
    # Statuses in which a lead no longer counts against its user's `open` cap (Converted,
    # Do Not Call...): its assignment closes, as it does when the lead is given to another
    # user by hand.
    closed_statuses: list[Name] = []
    # How a user hears of a lead offered to them or given them: a text to their phone, an
    # email, both, or nothing (`store.notices`).
    notify: list[Literal["sms", "email"]] = Field(default=[], max_length=2)

    @model_serializer(mode="wrap")
    def _as_before(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Without closed statuses or notices, the JSON as before them (`Rule._as_before`)."""
        body: dict[str, Any] = handler(self)
        for field in ("closed_statuses", "notify"):
            if not getattr(self, field):
                body.pop(field, None)
        return body

    def rule(self, name: str) -> Rule:
        return next(rule for rule in self.rules if rule.name == name)


def problems(
    routing: Routing, designations: list[str], statuses: Sequence[str] = ()
) -> list[tuple[str, str]]:
    """What ties the rules to the rest of the playbook, by path: a catch-all last, names
    once, designations and fallbacks that exist, no chain that loops. (The users a group
    names are the account's, checked where they are stored.)"""
    found: list[tuple[str, str]] = []
    names = [rule.name for rule in routing.rules]
    last = len(names) - 1
    if not routing.rules[-1].when.everyone:
        found.append((f"routing.rules[{last}].when", "the last rule is the catch-all: no criteria"))
    for i, rule in enumerate(routing.rules):
        at = f"routing.rules[{i}]"
        if names.count(rule.name) > 1:
            found.append((f"{at}.name", f"rule {rule.name!r} is named twice"))
        if rule.when.everyone and i < last:
            found.append((f"{at}.when", "a rule with no criteria takes every lead: put it last"))
        if rule.designation not in designations:
            found.append((f"{at}.designation", f"unknown designation {rule.designation!r}"))
        if rule.mode == "pond" and rule.fallback:
            found.append((f"{at}.fallback", "a pond stands until someone takes the lead"))
        for j, name in enumerate(rule.fallback):
            if name not in names:
                found.append((f"{at}.fallback[{j}]", f"unknown rule {name!r}"))
    for i, name in enumerate(routing.closed_statuses):
        if statuses and name not in statuses:
            found.append((f"routing.closed_statuses[{i}]", f"unknown status {name!r}"))
    if loop := _loop(routing):
        found.append(("routing", f"fallbacks loop: {' -> '.join(loop)}"))
    return found


def chain(routing: Routing, first: Rule) -> list[Rule]:
    """The rules a lead is offered along, in order: the first, then its fallbacks' own
    chains depth first, each rule once."""
    seen: list[str] = []

    def walk(rule: Rule) -> None:
        if rule.name in seen:
            return
        seen.append(rule.name)
        for name in rule.fallback:
            if any(r.name == name for r in routing.rules):
                walk(routing.rule(name))

    walk(first)
    return [routing.rule(name) for name in seen]


def _loop(routing: Routing) -> list[str]:
    known = {rule.name: rule.fallback for rule in routing.rules}

    def visit(name: str, path: list[str]) -> list[str]:
        if name in path:
            return [*path[path.index(name) :], name]
        for next_name in known.get(name, []):
            if found := visit(next_name, [*path, name]):
                return found
        return []

    for name in known:
        if found := visit(name, []):
            return found
    return []
