"""Date rules (an action at an offset from a key date) and the buy/sell horizon (a check-in
well before the date the lead means to move)."""

from __future__ import annotations

from datetime import UTC, time, timedelta

import leadflow.engine.localtime as localtime
from leadflow.engine import actions, calls, spread
from leadflow.engine.commands import InvalidChange
from leadflow.engine.events import HorizonStated, KeyDatesChanged
from leadflow.engine.run import (
    Run,
    history,
    merge,
)
from leadflow.engine.state import AgendaItem, FollowUp


def schedule_date_rules(run: Run, changed: list[str]) -> None:
    s = run.s
    for rule in run.book.date_rules:
        if rule.key_date not in changed:
            continue
        prefix = f"date:{rule.name}:"
        s.agenda = [a for a in s.agenda if not a.key.startswith(prefix)]
        day = s.key_dates.get(rule.key_date)
        if day is None:
            continue
        try:
            due = localtime.at_local(day, rule.at, s.time_zone).astimezone(UTC) + rule.offset
            due += spread.offset(run.book, s.lead)
        except OverflowError:  # the door keeps dates in range; a lead may hold older ones
            raise InvalidChange(
                f"key date {rule.key_date} {day.isoformat()} is out of range for date rule "
                f"{rule.name}: give a date between 1900 and 2200",
                "OutOfRange",
            ) from None
        key = f"{prefix}{day.isoformat()}"
        s.agenda.append(
            AgendaItem(key=key, due=max(due, run.now), kind="date_rule", rule=rule.name)
        )
        run.audit(key, "note", f"date rule {rule.name} set for {due.isoformat()}")


def run_date_rule(run: Run, item: AgendaItem) -> None:
    rule = next((r for r in run.book.date_rules if r.name == item.rule), None)
    if rule is not None:
        actions.run_action(run, rule.action, cause=item.key, due=item.due)


def horizon_stated(run: Run, event: HorizonStated) -> None:
    """Check in at the latest after a third (configurable) of the time to the horizon."""
    s = run.s
    horizon = localtime.at_local(event.horizon, time(10), s.time_zone)
    if horizon <= run.now:
        raise InvalidChange(f"horizon {event.horizon} is not in the future", "InvalidHorizon")
    s.horizon = event.horizon
    limit = calls.horizon_limit(run)
    assert limit is not None
    if not any(f.start_at <= limit for f in calls.open_follow_ups(run)):
        start = calls.calling_hours(run, limit - timedelta(hours=12))
        follow_up = FollowUp(
            id=f"horizon:{event.horizon.isoformat()}",
            subject="Call",
            start_at=min(start, limit) if start > run.now else limit,
            notes=f"Wants to move around {event.horizon:%b %Y}: check in",
        )
        calls.add_follow_up(run, follow_up)
    history(run, "Lead Update", f"Horizon stated: {event.horizon.isoformat()}", event.actor)


def key_dates_changed(run: Run, event: KeyDatesChanged) -> None:
    merge(run.s.key_dates, event.dates, run.book.key_dates, "key date")
    schedule_date_rules(run, list(event.dates))
