"""Campaign runs: enrolling a lead, stopping, pausing and resuming a campaign, and when its
next step is due. Running a step is in `leadflow.engine.due`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import leadflow.engine.localtime as localtime
from leadflow.engine import spread
from leadflow.engine.commands import InvalidChange
from leadflow.engine.events import CampaignChanged
from leadflow.engine.run import (
    Run,
)
from leadflow.engine.state import CampaignRun, EngineState
from leadflow.playbook.durations import format_duration
from leadflow.playbook.schema import Playbook


def run_key(run: CampaignRun) -> str:
    return f"campaign:{run.name}:{run.run}"


def enroll(run: Run, name: str, why: str, *, asked: bool = False) -> None:
    """Start a campaign; `asked` when a person asked for it, who hears why it cannot run."""
    s = run.s
    if s.contacted and run.book.campaigns[name].stop_on_contact:
        message = f"campaign {name!r} runs until contact, and this lead was already contacted"
        if asked:
            raise InvalidChange(message, "CampaignNotApplicable")
        run.audit(f"campaign:{name}", "skipped", message)
        return
    if name in s.campaigns:
        run.audit(run_key(s.campaigns[name]), "note", f"already running; {why} ignored")
        return
    number = s.campaign_runs.get(name, 0) + 1
    s.campaign_runs[name] = number
    s.campaigns[name] = CampaignRun(name=name, run=number, started_at=run.now)
    run.audit(f"campaign:{name}:{number}", "note", f"enrolled: {why}")


def stop_campaign(run: Run, name: str, why: str) -> None:
    campaign = run.s.campaigns.pop(name, None)
    if campaign is not None:
        run.audit(run_key(campaign), "stopped", why)
        prefix = run_key(campaign) + ":"
        run.s.agenda = [a for a in run.s.agenda if not a.key.startswith(prefix)]


def shift_after_deferral(
    run: Run, name: str | None, step: int | None, key: str, until: datetime
) -> None:
    """A campaign step (its touch or its call, by `key`) deferred to `until` moves the
    campaign's later steps with it, keeping their spacing: a night's missed steps never go
    out together in the morning.

    From the second state-law table on (`_on_its_day`), a step written at a time of day
    keeps its written day and time, moved only by the whole days the campaign has been held
    back (deferrals and pauses together): a few hours' deferral never costs the cadence a
    day, a longer one moves it by its whole days. It goes after the step before it (the
    next day at its time if that one went later), so nothing bunches; a step `after` a
    delay alone moves with the whole deferral, as before. The step after the deferred one
    goes after `until` (if its time came while the deferred one waited, the next day at its
    time, and the steps after it stay on their days): a later step never goes before, or
    with, the deferred one, and the cadence loses no day to it."""
    s = run.s
    campaign = s.campaigns.get(name or "")
    if campaign is None or step is None:
        return
    if not key.startswith(run_key(campaign) + ":") or campaign.paused_at is not None:
        return
    due = _due_of(run.book, s, campaign, step)
    if until > due:
        moved = campaign.model_copy(update={"shift": campaign.shift + (until - due)})
        if s.law >= 2:
            moved = moved.model_copy(
                update={
                    "held_days": campaign.held_days + (until - due).days,
                    "deferred_step": step,
                    "deferred_until": until,
                }
            )
        s.campaigns[campaign.name] = moved
        shift = format_duration(moved.shift - campaign.shift)
        run.audit(run_key(campaign), "note", f"step {step + 1} deferred: later steps {shift} later")


def step_due(book: Playbook, s: EngineState, campaign: CampaignRun) -> datetime | None:
    """When the campaign's next step is due (its completion, past the last step)."""
    if campaign.paused_at is not None:
        return None
    return _due_of(book, s, campaign, campaign.next_step)


def _due_of(book: Playbook, s: EngineState, campaign: CampaignRun, index: int) -> datetime:
    """When step `index` is due, as the campaign stands (its completion, past the last)."""
    base = campaign.started_at + campaign.shift
    steps = book.campaigns[campaign.name].steps
    if index >= len(steps):
        return localtime.add_wall_clock(base, steps[-1].after, s.time_zone)
    step = steps[index]
    if step.at is not None and s.law >= 2:
        return _on_its_day(book, s, campaign, index)
    due = localtime.add_wall_clock(base, step.after, s.time_zone)
    if step.at is not None:
        due = localtime.at_local(localtime.local_date(due, s.time_zone), step.at, s.time_zone)
        due = max(due.astimezone(UTC) + spread.offset(book, s.lead), base)
    return due


def _on_its_day(book: Playbook, s: EngineState, campaign: CampaignRun, index: int) -> datetime:
    """A step at a time of day (second table on): at its time on its written day (counted
    from the start, as if nothing were deferred), moved by the whole days the campaign has
    been held back; then the first of its times after the step before it is due (at it, if
    both are written for the same moment). The first step goes no earlier than the start,
    moved by what was held back. A step `after` a delay alone is due where it always was."""
    zone, steps = s.time_zone, book.campaigns[campaign.name].steps
    step, days = steps[index], timedelta(days=campaign.held_days)
    assert step.at is not None
    later = spread.offset(book, s.lead)  # the lead's own minutes past the written time
    written = localtime.add_wall_clock(campaign.started_at, step.after, zone)
    day = localtime.local_date(written, zone) + days
    due = localtime.at_local(day, step.at, zone).astimezone(UTC) + later
    if index == 0:
        return max(due, campaign.started_at + campaign.shift)
    before = _due_of(book, s, campaign, index - 1)
    together = (steps[index - 1].after, steps[index - 1].at) == (step.after, step.at)
    if campaign.deferred_until is not None and index - 1 == campaign.deferred_step:
        before = max(before, campaign.deferred_until)  # it went then: this one goes after
    while due < before or (due == before and not together):
        day += timedelta(days=1)
        due = localtime.at_local(day, step.at, zone).astimezone(UTC) + later
    return due


def campaign_changed(run: Run, event: CampaignChanged) -> None:
    s, book = run.s, run.book
    if event.campaign not in book.campaigns:
        raise InvalidChange(
            f"unknown campaign {event.campaign!r}; the playbook has {', '.join(book.campaigns)}",
            "UnknownCampaign",
        )
    running = s.campaigns.get(event.campaign)
    if event.op == "start":
        enroll(run, event.campaign, f"started by {event.actor}", asked=True)
    elif event.op == "switch":
        if event.switch_from is None or event.switch_from not in s.campaigns:
            raise InvalidChange(
                f"cannot switch from {event.switch_from!r}: it is not running on this lead",
                "CampaignNotRunning",
            )
        stop_campaign(run, event.switch_from, f"switched to {event.campaign} by {event.actor}")
        enroll(
            run, event.campaign, f"switched from {event.switch_from} by {event.actor}", asked=True
        )
    elif running is None:
        raise InvalidChange(
            f"campaign {event.campaign!r} is not running on this lead", "CampaignNotRunning"
        )
    elif event.op == "pause":
        if running.paused_at is None:
            s.campaigns[event.campaign] = running.model_copy(update={"paused_at": run.now})
            run.audit(run_key(running), "note", f"paused by {event.actor}")
    elif event.op == "resume":
        if running.paused_at is not None:
            shift = running.shift + (run.now - running.paused_at)
            held = running.held_days + (run.now - running.paused_at).days
            s.campaigns[event.campaign] = running.model_copy(
                update={"paused_at": None, "shift": shift, "held_days": held}
            )
            run.audit(run_key(running), "note", f"resumed by {event.actor}")
    else:
        stop_campaign(run, event.campaign, f"cancelled by {event.actor}")
