"""An in-memory stand-in for the store activity, behind the same activity name.

`leadflow simulate` runs the real LeadWorkflow with it, so playbook authors need no
database; every decision's commands are kept with the moment they were decided.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from temporalio import activity

from leadflow.activities.payloads import (
    ApplyDecision,
    BatchOutcome,
    RouteRequest,
    RouteResult,
    SendBatch,
    SendRequest,
    SendResult,
)
from leadflow.activities.routing import result
from leadflow.engine.routing import Agent, Facts, Rotation, route
from leadflow.engine.state import Member


@dataclass
class MemoryStoreActivities:
    decisions: list[ApplyDecision] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    team: list[Agent] = field(default_factory=list)  # whom routing may give a lead to
    names: dict[str, str] = field(default_factory=dict)  # a user's name, by id
    _seen: set[tuple[str, int]] = field(default_factory=set)
    _rotations: dict[str, Rotation] = field(default_factory=dict)
    _routed: dict[tuple[str, int], RouteResult] = field(default_factory=dict)

    @activity.defn(name="apply_decision")
    async def apply_decision(self, decision: ApplyDecision) -> None:
        key = (decision.lead.workflow_id, decision.decision)
        if key not in self._seen:  # a retry of a decision already kept
            self._seen.add(key)
            self.decisions.append(decision)

    @activity.defn(name="send_message")
    async def send_message(self, request: SendRequest) -> SendResult:
        """Messages are in the decisions already; the simulation delivers every one."""
        self.sent.append(request.key)
        return SendResult(provider_id=f"sim-{len(self.sent)}")

    @activity.defn(name="send_messages")
    async def send_messages(self, batch: SendBatch) -> BatchOutcome | None:
        lead = activity.info().workflow_id
        self.sent.extend(f"{lead}:{touch}" for touch in batch.touches)
        return None

    @activity.defn(name="route_lead")
    async def route_lead(self, request: RouteRequest) -> RouteResult:
        """Routing against `team` (no caps: the simulation keeps no counts), once a lead
        and attempt."""
        key = (request.lead.workflow_id, request.ask.attempt)
        if key not in self._routed:
            facts = Facts.of(request.ask)
            routed = route(
                request.routing,
                facts,
                self.team,
                request.at,
                {},
                self._rotations,
                request.ask.tried,
            )
            if routed.rotation is not None and routed.rule is not None:
                self._rotations[routed.rule] = routed.rotation
            given = routed.agent
            member = Member(id=given, name=self.names.get(given, given)) if given else None
            self._routed[key] = result(request, routed, member)
        return self._routed[key]

    def answer(self, workflow_id: str, attempt: int) -> RouteResult | None:
        """What routing answered the lead's attempt (an offer a simulation may take)."""
        return self._routed.get((workflow_id, attempt))

    def all(self) -> list[Callable[..., Any]]:
        return [self.apply_decision, self.send_message, self.send_messages, self.route_lead]
