"""What has come due: deferred touches, date rules and campaign steps, in time order."""

from __future__ import annotations

from datetime import datetime

from leadflow.engine import calls, campaigns, dates, gate, routed, statuses
from leadflow.engine.commands import InvalidChange
from leadflow.engine.run import (
    Run,
    sender_for,
    task,
)
from leadflow.engine.state import PendingTouch

MAX_STEPS_PER_DECISION = 500  # a guard, far above any real catch-up after downtime


def run_due(run: Run) -> None:
    calls.window_passed(run)
    for _ in range(MAX_STEPS_PER_DECISION):
        s = run.s
        candidates: list[tuple[datetime, int, str]] = []
        for item in s.agenda:
            if item.due <= run.now:
                candidates.append((item.due, 0, item.key))
        for name in sorted(s.campaigns):
            due = campaigns.step_due(run.book, s, s.campaigns[name])
            if due is not None and due <= run.now:
                candidates.append((due, 1, name))
        if not candidates:
            return
        due, kind, key = min(candidates)
        if kind == 1:
            _run_campaign_step(run, key, due)
            continue
        item = next(a for a in s.agenda if a.key == key)
        s.agenda.remove(item)
        if item.kind == "date_rule":
            dates.run_date_rule(run, item)
        elif item.kind in ("route", "worked"):
            routed.due(run, item)
        elif item.touch is not None:
            gate.touch(run, item.touch)
    raise RuntimeError("more than MAX_STEPS_PER_DECISION items came due at once")


def _run_campaign_step(run: Run, name: str, due: datetime) -> None:
    s = run.s
    campaign = s.campaigns[name]
    spec = run.book.campaigns[name]
    if campaign.next_step >= len(spec.steps):
        s.campaigns.pop(name)
        run.audit(campaigns.run_key(campaign), "completed", "all steps done")
        outcome = spec.on_complete
        if outcome is not None:
            milestone = outcome.milestone or s.milestone
            status = outcome.status or s.status
            try:
                statuses.check_combination(run.book, milestone, status)
                statuses.check_follow_up_required(run, status, None)
            except InvalidChange as exc:
                run.audit(campaigns.run_key(campaign), "skipped", f"update upon completion: {exc}")
                return
            statuses.apply_change(
                run,
                milestone,
                status,
                "Lead Update",
                f"Campaign {name} completed with no reply",
                f"campaign:{name}",
            )
        return
    step = spec.steps[campaign.next_step]
    key = f"{campaigns.run_key(campaign)}:{campaign.next_step}"
    s.campaigns[name] = campaign.model_copy(update={"next_step": campaign.next_step + 1})
    if step.do == "call":
        first = campaign.next_step == next(i for i, st in enumerate(spec.steps) if st.do == "call")
        label = step.label or ("CallASAP" if first and s.call_attempts == 0 else "Redial")
        notes = f"{name}: day {step.after.days} call"
        calls.queue(run, label, due, key=key, notes=notes, step=(name, campaign.next_step))
    elif step.do == "task":
        assert step.subject is not None
        task(run, key, step.subject, step.share_from, due)
    else:
        assert step.template is not None
        sender = sender_for(run, step.share_from)
        for party in step.share_with:
            gate.touch(
                run,
                PendingTouch(
                    key=f"{key}:{party}",
                    channel=step.do,
                    party=party,
                    template=step.template,
                    media=step.media,
                    sender_designation=sender.designation,
                    sender_user=sender.user,
                    cause=f"{name} step {campaign.next_step + 1}",
                    campaign=name,
                    step=campaign.next_step,
                ),
            )
