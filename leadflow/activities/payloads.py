"""What the activities take and give back: the workflow calls them with these."""

from __future__ import annotations

from datetime import datetime

from leadflow.engine.commands import Command, RouteLead
from leadflow.engine.refs import LeadRef
from leadflow.engine.state import Member
from leadflow.models import Message, Public
from leadflow.playbook.routing import Routing


class SendRequest(Public):
    """Send one outbox message (its key: `<workflow id>:<touch key>`)."""

    lead: LeadRef | None = None  # given by earlier code; the key names the lead already
    key: str


class SendResult(Public):
    provider_id: str
    resent: bool = False  # True when an earlier attempt had not reached the provider


class SendBatch(Public):
    """Send a decision's messages that share a queue in one activity: at most one text and
    one email, so the queue's rate (sends a second) still bounds each provider's. The
    messages by their touch keys: their outbox keys are `<workflow id>:<touch key>`, the
    workflow being the one that runs the activity."""

    touches: list[str]


class BatchOutcome(Public):
    """The messages of a batch that were not sent; None comes back when all were."""

    failed: dict[str, str] = {}  # touch key -> the error type it failed with for good
    retry: dict[str, float] = {}  # touch key -> seconds to wait before its own send retries


class LeadRecord(Message):
    """Row written to `leads` by the store activity."""

    lead: LeadRef
    first_name: str | None
    last_name: str | None
    time_zone: str
    milestone: str
    status: str | None
    at: datetime
    playbook: str | None = None  # None in histories from before rows kept it
    playbook_version: int | None = None
    source: str | None = None  # for the reports (None in histories from before)


class ApplyDecision(Message):
    """One decision's commands, written in one transaction by the store activity."""

    lead: LeadRef
    decision: int  # the lead's decision counter: with the index, the key of each row
    at: datetime
    commands: list[Command]
    record: LeadRecord | None = None  # the lead's own row, on its first decision


class RouteRequest(Message):
    """Who takes the lead: the engine's ask (its attempt and the lead's facts), the
    playbook's routing, and the workflow's time to decide at."""

    lead: LeadRef
    at: datetime
    routing: Routing
    ask: RouteLead


class RouteResult(Message):
    """The answer, as the lead's engine hears it (`LeadRouted`)."""

    rule: str | None = None
    designation: str | None = None
    agent: Member | None = None
    why: str
    offered: list[str] = []  # first to claim, the pond: the users it is offered to
    until: datetime | None = None  # when the claim window ends (none: the pond)
    work_by: datetime | None = None  # the user given it: when their time to work it ends
    # The notices to users it wrote (outbox keys): the lead sends them, not the engine.
    notices: list[str] = []
