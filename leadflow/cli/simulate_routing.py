"""Routing in a simulation: the team a scenario scripts (`team:`), its members' switches
(`availability:`) and their acceptances (`accept:`), against the in-memory routing
(`MemoryStoreActivities.route_lead`), so a routing rule can be tried before it is used.

An acceptance is checked as the store checks one (`leadflow.engine.routing.may_claim`: an
offer standing for the user, still open, and the user may take leads now), then the lead
hears it as it hears a claim through the API."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from leadflow.activities.memory import MemoryStoreActivities
from leadflow.cli.scenario import AvailabilityEvent, ScenarioError, TeamMember
from leadflow.client import LeadflowClient
from leadflow.engine.events import LeadRouted
from leadflow.engine.refs import LeadRef
from leadflow.engine.routing import Agent, Facts, Load, Routed, may_claim, work_by
from leadflow.engine.state import Member
from leadflow.playbook.routing import Routing
from leadflow.playbook.routing import problems as routing_problems
from leadflow.playbook.schema import Playbook, Window


def routed(book: Playbook, routing: Routing | None) -> Playbook:
    """The playbook with the scenario's routing in place of its own, checked against it."""
    if routing is None:
        return book
    statuses = [s.name for s in book.statuses]
    if problems := routing_problems(routing, book.designations, statuses):
        raise ScenarioError("scenario", problems)
    return book.model_copy(update={"routing": routing})


def team(members: list[TeamMember]) -> list[Agent]:
    return [
        Agent(
            id=m.id,
            designations=frozenset(m.designations),
            time_zone=m.time_zone,
            hours=None if m.hours is None else Window(start=m.hours[0], end=m.hours[1]),
            days=frozenset(m.days),
            away=m.away,
            licensed=None if m.licensed is None else frozenset(m.licensed),
        )
        for m in members
    ]


def switch(store: MemoryStoreActivities, event: AvailabilityEvent) -> str:
    found = [a for a in store.team if a.id == event.user]
    if not found:
        return f"rejected: no team member {event.user!r}"
    store.team = [replace(a, away=event.away) if a.id == event.user else a for a in store.team]
    return f"{event.user} is {'away' if event.away else 'back'}"


async def accept(
    client: LeadflowClient,
    store: MemoryStoreActivities,
    book: Playbook,
    lead: LeadRef,
    user: str,
    now: datetime,
) -> str:
    state = await client.describe(lead)
    standing = store.answer(lead.workflow_id, state.routing_attempt)
    agent = next((a for a in store.team if a.id == user), None)
    if book.routing is None or standing is None or state.routed != "offered" or not standing.rule:
        return f"rejected: no offer stands for {user}"
    if agent is None:
        return f"rejected: no team member {user!r}"
    rule = book.routing.rule(standing.rule)
    offer = Routed(rule.name, standing.why, offered=tuple(standing.offered), until=standing.until)
    if (refused := may_claim(agent, rule, Facts.of(state), now, Load(), offer)) is not None:
        return f"rejected: {refused}"
    by = None if rule.work_within is None else work_by(agent, now, rule.work_within)
    why = f"{rule.name}: {user} took it {'from the pond' if offer.until is None else 'first'}"
    event = LeadRouted(
        attempt=state.routing_attempt,
        rule=rule.name,
        designation=rule.designation,
        agent=Member(id=user, name=store.names.get(user, user)),
        why=why,
        work_by=by,
    )
    await client.routing(lead, event)
    return why
