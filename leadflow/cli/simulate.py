"""`leadflow simulate SCENARIO.yaml`: a scripted lead through the real LeadWorkflow (B4).

The scenario runs on Temporal's time-skipping test server with an in-memory store, so
sixty days take a second or two, and prints every touch, task, queue entry, status change
and audit line with its time.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.testing import WorkflowEnvironment

import leadflow.engine.localtime as localtime
from leadflow.activities.memory import MemoryStoreActivities
from leadflow.client import LeadflowClient, LeadflowError, PlaybookSource
from leadflow.engine.vocabulary import (
    Member,
    Party,
    ReplyReceived,
)
from leadflow.paths import binary
from leadflow.playbook.durations import Duration
from leadflow.temporal import DATA_CONVERTER, ensure_search_attributes
from leadflow.worker import build_worker
from leadflow.workflows.messages import (
    CallLog,
    EnsureLead,
    FollowUpRequest,
    LeadProfile,
    LeadRef,
    MilestoneChange,
    ScheduleFollowUp,
    StateHorizon,
)

_AT = re.compile(r"^day\s+(\d+)(?:\s+(\d{1,2}):(\d{2}))?$")
_START = re.compile(
    r"^next\s+(monday|tuesday|wednesday|thursday|friday|saturday|sunday|month\s+day\s+(\d{1,2}))"
    r"(?:\s+before\s+(spring|fall)\s+dst)?"
    r"\s+(\d{1,2}):(\d{2})$"
)
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CallEvent(_Strict):
    disposition: str
    channel: Literal["call", "sms"] = "call"
    direction: Literal["outbound", "inbound"] = "outbound"
    comments: str = ""
    follow_up: str | None = None  # "day N HH:MM": the next call the agent sets
    lead_requested: bool = False


class FollowUpEvent(_Strict):
    subject: str = "Call"
    start: str  # "day N HH:MM"
    duration: Duration = timedelta(minutes=15)
    notes: str = ""
    lead_requested: bool = False


class MilestoneEvent(_Strict):
    milestone: str | None = None
    status: str | None = None
    note: str = ""
    follow_up: str | None = None


class CampaignEvent(_Strict):
    op: Literal["start", "switch", "pause", "resume", "cancel"]
    campaign: str
    switch_from: str | None = None


class ScriptedEvent(_Strict):
    """One thing that happens to the lead, `at` "day N HH:MM" in the lead's time zone."""

    at: str
    milestone: MilestoneEvent | None = None
    call: CallEvent | None = None
    follow_up: FollowUpEvent | None = None
    reply: ReplyReceived | None = None
    opt_out: Literal["sms", "email", "call", "all"] | None = None
    opt_in: Literal["sms", "email", "call", "all"] | None = None
    key_dates: dict[str, date | str | None] | None = None  # a date, or "day N"
    parties: dict[str, Party | None] | None = None
    designations: dict[str, Member | None] | None = None
    campaign: CampaignEvent | None = None
    horizon: date | str | None = None  # when the lead means to buy or sell: a date or "day N"
    expect_rejected: bool = False

    @model_validator(mode="after")
    def _one(self) -> ScriptedEvent:
        given = [n for n in _KINDS if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(_KINDS)} (got {given or 'none'})")
        if not _AT.match(self.at.strip()):
            raise ValueError(f"at {self.at!r}: write 'day N' or 'day N HH:MM'")
        return self

    @property
    def kind(self) -> str:
        return next(n for n in _KINDS if getattr(self, n) is not None)


_KINDS = (
    "milestone",
    "call",
    "follow_up",
    "reply",
    "opt_out",
    "opt_in",
    "key_dates",
    "parties",
    "designations",
    "campaign",
    "horizon",
)


class Scenario(_Strict):
    playbook: str  # a default playbook's name, or a path to a playbook file
    start: str = "next monday 10:00"
    days: int = Field(default=61, ge=1, le=3650)
    lead: LeadProfile = LeadProfile()
    events: list[ScriptedEvent] = []


class ScenarioError(ValueError):
    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("\n".join(f"{source}: {path}: {message}" for path, message in problems))


def load_scenario(path: Path) -> Scenario:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(str(path), [("(file)", f"cannot read: {exc}")]) from None
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        problems = [
            (
                ".".join(str(p) for p in e["loc"]) or "(top level)",
                str(e["msg"]).removeprefix("Value error, "),
            )
            for e in exc.errors()
        ]
        raise ScenarioError(str(path), problems) from None
    if not _START.match(scenario.start.strip().lower()):
        try:
            datetime.fromisoformat(scenario.start)
        except ValueError:
            raise ScenarioError(
                str(path),
                [
                    (
                        "start",
                        "write 'next monday 10:00', 'next month day 28 10:00', "
                        "'next friday before spring dst 20:10' or an ISO time",
                    )
                ],
            ) from None
    return scenario


class Line(BaseModel):
    """One line of the printed timeline."""

    at: datetime
    day: int
    local_time: str
    what: str
    detail: str


Finish = Callable[[WorkflowEnvironment, LeadRef], Awaitable[None]]


async def simulate(
    scenario: Scenario, base: Path | None = None, on_finish: Finish | None = None
) -> list[Line]:
    """Run the scenario; return its timeline. Raises ScenarioError when it does not run.

    `on_finish` sees the environment before it stops (to keep the workflow's history).
    """
    source = PlaybookSource()
    playbook = scenario.playbook
    if playbook.endswith((".yaml", ".yml")):
        file = (base or Path.cwd()) / playbook
        source = PlaybookSource(file.parent)
        playbook = file.stem
    try:
        book = source.get(playbook)
    except LeadflowError as exc:
        raise ScenarioError(scenario.playbook, [("playbook", str(exc))]) from None
    zone = scenario.lead.time_zone or book.defaults.time_zone
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server"),
        data_converter=DATA_CONVERTER,
        runtime=_quiet_runtime(),
    )
    store = MemoryStoreActivities()
    lines: list[Line] = []
    try:
        await ensure_search_attributes(env.client)
        queue = f"simulate-{uuid.uuid4().hex[:8]}"
        async with build_worker(env.client, None, queue, activities=store):
            client = LeadflowClient(env.client, queue, playbooks=source, sends_task_queue=queue)
            start = _start_time(scenario.start, await env.get_current_time(), zone)
            await _skip_to(env, start)
            start = await env.get_current_time()
            day0 = localtime.local_date(start, zone)
            lead = LeadRef(account_id="simulation", lead_id="lead-1")
            profile = scenario.lead.model_dump(exclude_unset=True) | {"playbook": playbook}
            snapshot = await client.ensure_lead(EnsureLead(lead=lead, **profile))
            lines.append(
                _line(
                    start, day0, zone, "lead created", f"{snapshot.milestone} / {snapshot.status}"
                )
            )
            for i, event in enumerate(scenario.events):
                when = _event_time(event.at, day0, start, zone)
                await _skip_to(env, when)
                now = await env.get_current_time()
                outcome = await _apply(client, lead, event, day0, start, zone, i)
                rejected = outcome.startswith("rejected")
                if rejected != event.expect_rejected:
                    lines.append(_line(now, day0, zone, f"event {event.kind}", outcome))
                    raise ScenarioError(f"events[{i}]", [(f"events[{i}]", outcome)])
                lines.append(_line(now, day0, zone, f"event {event.kind}", outcome))
            await _skip_to(env, start + timedelta(days=scenario.days))
            await client.describe(lead)  # the last timers' decisions are in
            if on_finish is not None:
                await on_finish(env, lead)
    finally:
        await env.shutdown()
    for decision in store.decisions:
        for command in decision.commands:
            lines.append(_command_line(decision.at, day0, zone, command))
    return sorted(lines, key=lambda line: line.at)


def _quiet_runtime() -> Runtime:
    """The SDK core logs to stdout; a simulation's stdout is its timeline (and its JSON).

    Installed as the process's default runtime (once), so the SDK shuts it down as usual.
    """
    logging = LoggingConfig(filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"))
    quiet = Runtime(telemetry=TelemetryConfig(logging=logging))
    Runtime.set_default(quiet, error_if_already_set=False)
    return Runtime.default()


async def _apply(
    client: LeadflowClient,
    lead: LeadRef,
    event: ScriptedEvent,
    day0: date,
    start: datetime,
    zone: str,
    index: int,
) -> str:
    request = f"scenario-{index}"

    def follow_up(text: str | None, **fields: Any) -> FollowUpRequest | None:
        if text is None:
            return None
        return FollowUpRequest(start_at=_event_time(text, day0, start, zone), **fields)

    try:
        if event.milestone is not None:
            m = event.milestone
            snap = await client.change_milestone(
                lead,
                MilestoneChange(
                    milestone=m.milestone,
                    status=m.status,
                    note=m.note,
                    actor="scenario",
                    follow_up=follow_up(m.follow_up),
                    request_id=request,
                ),
            )
            return f"now {snap.milestone} / {snap.status}"
        if event.call is not None:
            c = event.call
            snap = await client.log_call(
                lead,
                CallLog(
                    disposition=c.disposition,
                    channel=c.channel,
                    direction=c.direction,
                    comments=c.comments,
                    actor="scenario",
                    request_id=request,
                    follow_up=follow_up(c.follow_up, lead_requested=c.lead_requested),
                ),
            )
            back = (
                f", back in the queue as {snap.queue_label} "
                f"{localtime.describe(snap.back_in_queue_at, zone)}"
                if snap.back_in_queue_at
                else ", not in the queue"
            )
            return f"{c.disposition}: now {snap.status}{back}"
        if event.follow_up is not None:
            f = event.follow_up
            request_model = FollowUpRequest(
                subject=f.subject,
                start_at=_event_time(f.start, day0, start, zone),
                duration=f.duration,
                notes=f.notes,
                lead_requested=f.lead_requested,
            )
            await client.schedule_follow_up(
                lead,
                ScheduleFollowUp(follow_up=request_model, actor="scenario", request_id=request),
            )
            return f"follow-up {f.subject} at {localtime.describe(request_model.start_at, zone)}"
        if event.horizon is not None:
            horizon = event.horizon
            if isinstance(horizon, str):
                horizon = _event_time(horizon, day0, start, zone).date()
            snap = await client.state_horizon(
                lead, StateHorizon(horizon=horizon, actor="scenario", request_id=request)
            )
            check_in = (
                f"{snap.queue_label} {localtime.describe(snap.back_in_queue_at, zone)}"
                if snap.back_in_queue_at
                else "no call queued"
            )
            return f"wants to move by {horizon:%a %d %b %Y}; next check-in: {check_in}"
        if event.reply is not None:
            await client.reply_received(lead, event.reply)
        elif event.opt_out is not None:
            await client.opt_out(lead, event.opt_out)
        elif event.opt_in is not None:
            await client.opt_in(lead, event.opt_in)
        elif event.key_dates is not None:
            dates = {
                name: _event_time(value, day0, start, zone).date()
                if isinstance(value, str)
                else value
                for name, value in event.key_dates.items()
            }
            await client.set_key_dates(lead, dates)
        elif event.parties is not None:
            await client.set_parties(lead, event.parties)
        elif event.designations is not None:
            for name, member in event.designations.items():
                await client.assign_designation(lead, name, member)
        elif event.campaign is not None:
            c2 = event.campaign
            if c2.op == "switch":
                await client.switch_campaign(lead, c2.switch_from or "", c2.campaign)
            else:
                method = {
                    "start": client.enroll,
                    "pause": client.pause_campaign,
                    "resume": client.resume_campaign,
                    "cancel": client.cancel_campaign,
                }
                await method[c2.op](lead, c2.campaign)
        await client.describe(lead)  # signals are applied before the clock moves on
        return "signalled"
    except LeadflowError as exc:
        return f"rejected: {exc}"


def _start_time(text: str, now: datetime, zone: str) -> datetime:
    match = _START.match(text.strip().lower())
    if match is None:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = localtime.at_local(moment.date(), moment.time(), zone)
        if moment < now:
            raise ScenarioError(
                "start",
                [("start", f"{text} is in the past; the simulation's clock can only move forward")],
            )
        return moment
    clock = time(int(match.group(4)), int(match.group(5)))
    today = localtime.local_date(now, zone)
    if match.group(2):
        first = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
        return localtime.at_local(first.replace(day=int(match.group(2))), clock, zone)
    day = today + timedelta(days=1)
    if match.group(3):  # the weekday before the next clock change: the change comes after it
        change = _next_clock_change(
            today + timedelta(days=1), zone, spring=match.group(3) == "spring"
        )
        day = change - timedelta(days=1)
        while WEEKDAYS[day.weekday()] != match.group(1):
            day -= timedelta(days=1)
        if day <= today:
            return _start_time(text, localtime.at_local(change, time(12), zone), zone)
        return localtime.at_local(day, clock, zone)
    while WEEKDAYS[day.weekday()] != match.group(1):
        day += timedelta(days=1)
    return localtime.at_local(day, clock, zone)


def _next_clock_change(after: date, zone: str, *, spring: bool) -> date:
    """The first day from `after` on which the zone's clocks go forward (or back)."""
    day = after
    for _ in range(3 * 366):
        before = localtime.to_local(localtime.at_local(day, time(0), zone), zone).utcoffset()
        then = localtime.to_local(localtime.at_local(day, time(23), zone), zone).utcoffset()
        if before is not None and then is not None and before != then and (then > before) == spring:
            return day
        day += timedelta(days=1)
    raise ScenarioError("start", [("start", f"{zone} does not change its clocks")])


def _event_time(text: str, day0: date, start: datetime, zone: str) -> datetime:
    match = _AT.match(text.strip())
    if match is None:
        raise ScenarioError("at", [("at", f"{text!r}: write 'day N' or 'day N HH:MM'")])
    day = day0 + timedelta(days=int(match.group(1)))
    if match.group(2) is None:
        clock = localtime.to_local(start, zone).time()
    else:
        clock = time(int(match.group(2)), int(match.group(3)))
    return localtime.at_local(day, clock, zone)


async def _skip_to(env: WorkflowEnvironment, moment: datetime) -> None:
    now = await env.get_current_time()
    if moment > now:
        await env.sleep(moment - now)


def _line(at: datetime, day0: date, zone: str, what: str, detail: str) -> Line:
    day = (localtime.local_date(at, zone) - day0).days
    return Line(at=at, day=day, local_time=localtime.describe(at, zone), what=what, detail=detail)


def _command_line(at: datetime, day0: date, zone: str, command: Any) -> Line:
    kind = command.kind
    if kind == "send_message":
        return _line(
            at,
            day0,
            zone,
            f"{command.channel} to {command.party}",
            f"{command.to} from {command.sender.name}: {command.body}",
        )
    if kind == "queue_call":
        when = localtime.describe(command.available_at, zone)
        return _line(
            at,
            day0,
            zone,
            f"queue {command.label}",
            f"priority {command.priority}, from {when}. {command.notes}".strip(),
        )
    if kind == "dequeue_call":
        return _line(at, day0, zone, "dequeue", command.reason)
    if kind == "create_task":
        return _line(
            at,
            day0,
            zone,
            "task",
            f"{command.subject} for "
            f"{command.assignee or '(unassigned)'}, due "
            f"{localtime.describe(command.due_at, zone)}",
        )
    if kind == "set_status":
        return _line(at, day0, zone, "status", f"{command.milestone} / {command.status}")
    if kind == "record_history":
        return _line(
            at,
            day0,
            zone,
            "history",
            f"{command.action} by {command.actor}: {command.note}".rstrip(": "),
        )
    if kind == "save_parties":
        return _line(at, day0, zone, "parties", ", ".join(sorted(command.parties)))
    if kind == "record_opt_out":
        verb = "opted back in" if command.opted_in else "opted out"
        return _line(
            at,
            day0,
            zone,
            "opt-out",
            f"{', '.join(command.addresses)} {verb} of {', '.join(command.channels)}",
        )
    if kind == "complete_task":
        return _line(at, day0, zone, "task done", command.key)
    until = f" until {localtime.describe(command.until, zone)}" if command.until else ""
    return _line(
        at, day0, zone, f"audit {command.outcome}", f"{command.key}: {command.reason}{until}"
    )
