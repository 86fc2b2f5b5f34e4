"""Actions: what a milestone, a new lead or a date rule makes happen (a message to each
party it is shared with, a task, a campaign, a call in the queue)."""

from __future__ import annotations

from datetime import datetime, time

import leadflow.engine.localtime as localtime
from leadflow.engine import calls, campaigns, gate
from leadflow.engine.run import (
    Run,
    sender_for,
    task,
)
from leadflow.engine.state import PendingTouch
from leadflow.playbook.durations import format_duration
from leadflow.playbook.schema import Action


def run_action(run: Run, action: Action, cause: str, due: datetime | None = None) -> None:
    """Run an action that came due at `due` (now, unless a timer fired it a little late)."""
    due = due or run.now
    s = run.s
    window = action.stop_communication
    if window is not None and window.key_date in s.key_dates:
        key_day = s.key_dates[window.key_date]
        starts = localtime.at_local(key_day, time(0), s.time_zone) - window.within
        if run.now >= starts:
            run.audit(
                cause,
                "skipped",
                f"stop communication: within {format_duration(window.within)} of "
                f"{window.key_date} ({key_day.isoformat()})",
            )
            return
    if action.do in ("sms", "mms", "email"):
        assert action.template is not None
        for party in action.share_with:
            touch = PendingTouch(
                key=f"{cause}:{party}",
                channel=action.do,
                party=party,
                template=action.template,
                media=action.media,
                sender_designation=sender_for(run, action.share_from).designation,
                sender_user=sender_for(run, action.share_from).user,
                cause=cause,
            )
            gate.touch(run, touch)
    elif action.do == "task":
        assert action.subject is not None
        task(run, cause, action.subject, action.assignee, due + action.due_in)
    elif action.do == "campaign":
        assert action.campaign is not None
        campaigns.enroll(run, action.campaign, f"started by {cause}")
    else:
        assert action.label is not None
        calls.queue(run, action.label, due, key=cause, notes="")
