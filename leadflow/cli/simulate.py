"""`leadflow simulate SCENARIO.yaml`: a scripted lead through the real LeadWorkflow.

The scenario runs on Temporal's time-skipping test server with an in-memory store, so
sixty days take a second or two, and prints every touch, task, queue entry, status change
and audit line with its time.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.testing import WorkflowEnvironment

import leadflow.engine.localtime as localtime
from leadflow.activities.memory import MemoryStoreActivities
from leadflow.cli import simulate_routing
from leadflow.cli.scenario import (
    ConsentEvent,
    Scenario,
    ScenarioError,
    ScriptedEvent,
    event_time,
    start_time,
)
from leadflow.cli.timeline import TimelineEntry, entry, of_command
from leadflow.client import LeadflowClient, LeadflowError
from leadflow.codec import Keyring, new_key
from leadflow.engine.events import RelationshipDates
from leadflow.engine.refs import LeadRef
from leadflow.engine.state import ConsentHeld
from leadflow.paths import binary, shipped
from leadflow.playbook.load import PlaybookError
from leadflow.playbook.schema import Playbook
from leadflow.playbook.sources import PlaybookFolder, UnknownPlaybook
from leadflow.temporal import data_converter, ensure_search_attributes
from leadflow.worker import build_worker
from leadflow.workflows.messages import (
    CallLog,
    EnsureLead,
    FollowUpRequest,
    MilestoneChange,
    ScheduleFollowUp,
    StateHorizon,
)


class Stopped(ScenarioError):
    """An event the lead refused though the scenario did not expect it: the run stops there,
    with the timeline up to it."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(path, [(path, reason)])
        self.timeline: list[TimelineEntry] = []


Finish = Callable[[WorkflowEnvironment, LeadRef], Awaitable[None]]


async def simulate(
    scenario: Scenario,
    base: Path | None = None,
    on_finish: Finish | None = None,
    keyring: Keyring | None = None,
) -> list[TimelineEntry]:
    """Run the scenario; return its timeline. Raises ScenarioError when it does not run.

    `on_finish` sees the environment before it stops (to keep the workflow's history).
    Payloads are sealed as in production, with `keyring` (default: a key made for the run).
    """
    try:
        return await _simulate(scenario, base, on_finish, keyring)
    except OverflowError:  # a date the scenario's checks let through, past the calendar's end
        raise ScenarioError(
            "scenario", [("(dates)", "a date is out of range: keep them within years 1-9999")]
        ) from None


async def _simulate(
    scenario: Scenario,
    base: Path | None,
    on_finish: Finish | None,
    keyring: Keyring | None,
) -> list[TimelineEntry]:
    book = simulate_routing.routed(
        _playbook(scenario.playbook, base or Path.cwd()), scenario.routing
    )
    zone = scenario.lead.time_zone or book.defaults.time_zone
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server"),
        data_converter=data_converter(keyring or Keyring.parse(new_key("simulate"))),
        runtime=_quiet_runtime(),
    )
    store = MemoryStoreActivities(
        team=simulate_routing.team(scenario.team),
        names={m.id: m.name or m.id for m in scenario.team},
    )
    lines: list[TimelineEntry] = []
    stopped: Stopped | None = None
    try:
        await ensure_search_attributes(env.client)
        queue = f"simulate-{uuid.uuid4().hex[:8]}"
        async with build_worker(env.client, None, queue, activities=store):
            client = LeadflowClient(env.client, queue, sends_task_queue=queue)
            start = start_time(scenario.start, await env.get_current_time(), zone)
            await _skip_to(env, start)
            start = await env.get_current_time()
            day0 = localtime.local_date(start, zone)
            lead = LeadRef(account_id="simulation", lead_id="lead-1")
            profile = scenario.lead.model_dump(exclude_unset=True) | {"playbook": book.name}
            profile["consents"] = [
                _held(c, f"with-lead-{i}", event_time(c.given or "day 0", day0, start, zone))
                for i, c in enumerate(scenario.consents)
            ]
            try:
                snapshot = await client.ensure_lead(EnsureLead(lead=lead, **profile), playbook=book)
            except LeadflowError as exc:  # facts the playbook refuses (a designation it lacks)
                raise ScenarioError("lead", [("lead", f"refused: {exc}")]) from None
            created = f"{snapshot.milestone} / {snapshot.status}"
            lines.append(
                entry(
                    start,
                    day0,
                    zone,
                    "lead",
                    "lead created",
                    created,
                    milestone=snapshot.milestone,
                    status=snapshot.status,
                )
            )
            for i, event in enumerate(scenario.events):
                when = event_time(event.at, day0, start, zone)
                await _skip_to(env, when)
                now = await env.get_current_time()
                if event.accept is not None:
                    outcome = await simulate_routing.accept(
                        client, store, book, lead, event.accept, now
                    )
                elif event.availability is not None:
                    outcome = simulate_routing.switch(store, event.availability)
                else:
                    outcome = await _apply(client, lead, event, day0, start, zone, i)
                lines.append(entry(now, day0, zone, "event", f"event {event.kind}", outcome))
                if outcome.startswith("rejected") != event.expect_rejected:
                    stopped = Stopped(f"events[{i}]", outcome)
                    break
            else:
                await _skip_to(env, start + timedelta(days=scenario.days))
            await client.describe(lead)  # the last timers' decisions are in
            if on_finish is not None and stopped is None:
                await on_finish(env, lead)
    finally:
        await env.shutdown()
    for decision in store.decisions:
        for command in decision.commands:
            lines.append(of_command(decision.at, day0, zone, command))
    lines.sort(key=lambda line: line.at)
    if stopped is not None:
        stopped.timeline = lines
        raise stopped
    return lines


def _playbook(given: str, base: Path) -> Playbook:
    """A shipped playbook by name, or a playbook file (relative to the scenario's folder)."""
    folder, name = shipped("playbooks"), given
    if given.endswith((".yaml", ".yml")):
        file = base / given
        folder, name = file.parent, file.stem
    try:
        return PlaybookFolder(folder).get(name)
    except UnknownPlaybook as exc:
        raise ScenarioError(given, [("playbook", exc.problems[0][1])]) from None
    except PlaybookError as exc:
        raise ScenarioError(given, [("playbook", str(exc))]) from None


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
        return FollowUpRequest(start_at=event_time(text, day0, start, zone), **fields)

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
                    actor=c.by,
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
                start_at=event_time(f.start, day0, start, zone),
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
                horizon = event_time(horizon, day0, start, zone).date()
            snap = await client.state_horizon(
                lead, StateHorizon(horizon=horizon, actor="scenario", request_id=request)
            )
            check_in = (
                f"{snap.queue_label} {localtime.describe(snap.back_in_queue_at, zone)}"
                if snap.back_in_queue_at
                else "no call queued"
            )
            return f"wants to move by {horizon:%a %d %b %Y}; next check-in: {check_in}"
        if event.consent is not None or event.relationship is not None:
            return await _consent(client, lead, event, day0, start, zone, request)
        if event.reassigned is not None:
            party = (await client.describe(lead)).parties.get(event.reassigned)
            if party is None or party.phone is None:
                return f"rejected: the lead has no {event.reassigned} with a phone"
            why = "the Reassigned Numbers Database reports the number disconnected (scenario)"
            await client.number_reassigned(lead, party.phone, why)
        elif event.reply is not None:
            await client.reply_received(lead, event.reply)
        elif event.opt_out is not None:
            await client.opt_out(lead, event.opt_out)
        elif event.opt_in is not None:
            await client.opt_in(lead, event.opt_in)
        elif event.key_dates is not None:
            dates = {
                name: event_time(value, day0, start, zone).date()
                if isinstance(value, str)
                else value
                for name, value in event.key_dates.items()
            }
            await client.set_key_dates(lead, dates)
        elif event.parties is not None:
            await client.set_parties(lead, event.parties)
        elif event.designations is not None:
            await client.assign_designations(lead, event.designations)
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


async def _consent(
    client: LeadflowClient,
    lead: LeadRef,
    event: ScriptedEvent,
    day0: date,
    start: datetime,
    zone: str,
    request: str,
) -> str:
    """A consent or the relationship's dates, told to the lead as the API tells it."""

    def moment(text: date | str | None) -> datetime | None:
        if text is None or isinstance(text, str):
            return event_time(text or event.at, day0, start, zone)
        return localtime.at_local(text, time(12), zone)

    if event.consent is not None:
        c = event.consent
        given_at = moment(c.given)
        assert given_at is not None
        await client.record_consent(lead, _held(c, request, given_at))
        await client.describe(lead)
        return f"{c.party} consented to {', '.join(c.channels)} ({c.scope}, {c.means})"
    assert event.relationship is not None
    r = event.relationship
    dates = RelationshipDates(
        inquired_at=moment(r.inquired) if r.inquired is not None else None,
        transacted_at=moment(r.transacted) if r.transacted is not None else None,
    )
    await client.set_relationship(lead, dates)
    await client.describe(lead)
    return "relationship dates set"


def _held(c: ConsentEvent, id: str, given_at: datetime) -> ConsentHeld:
    given = {"id": id, "party": c.party, "channels": c.channels, "scope": c.scope}
    return ConsentHeld.model_validate(given | {"means": c.means, "given_at": given_at})


async def _skip_to(env: WorkflowEnvironment, moment: datetime) -> None:
    now = await env.get_current_time()
    if moment > now:
        await env.sleep(moment - now)
