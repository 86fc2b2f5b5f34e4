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

from pydantic import Field, model_validator

from leadflow.models import Message, Name
from leadflow.playbook.regions import Region


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
    name: Name
    when: Match = Match()
    designation: Name  # the team role it fills on the lead (isa, loan_officer, agent)
    group: list[Name] = []  # user ids; empty: every user who fills the designation
    weights: dict[Name, int] = {}  # round robin: a user's share against the others' (1 each)
    caps: Caps = Caps()
    fallback: list[Name] = []  # other rules, tried in order when nobody here may take it

    @model_validator(mode="after")
    def _weights(self) -> Rule:
        if any(w < 1 for w in self.weights.values()):
            raise ValueError("a weight is a whole number of shares, 1 or more")
        return self


class Routing(Message):
    rules: list[Rule] = Field(min_length=1, max_length=100)
    owner: Name | None = None  # the user a lead goes to when every chain runs out

    def rule(self, name: str) -> Rule:
        return next(rule for rule in self.rules if rule.name == name)


def problems(routing: Routing, designations: list[str]) -> list[tuple[str, str]]:
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
        for j, name in enumerate(rule.fallback):
            if name not in names:
                found.append((f"{at}.fallback[{j}]", f"unknown rule {name!r}"))
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
