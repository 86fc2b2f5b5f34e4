"""leadflow's own metrics in the worker, recorded through the Temporal SDK's metric meter so
they are served beside the SDK's (workflow and activity task latencies, poll counts, cache
sizes) from the one Prometheus endpoint the worker's runtime exposes (`METRICS_ADDRESS`).

- `leadflow_touches{outcome, channel, reason}` (a counter): every touch a decision fired,
  deferred, held or skipped; `reason` is the rule that deferred, held or skipped it (quiet
  hours, opted out...) in two words, never its details, so the series stay few.
- `leadflow_sends{channel, outcome}`: each send attempt's end: `sent`, `resent`
  (after an attempt in doubt), `found` (an earlier attempt had landed), or the error type
  (`RateLimited`, `ProviderError`, `BadNumber`, `OptedOut`...).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from temporalio import activity
from temporalio.common import MetricCounter

from leadflow.engine.commands import Audit, Command, CreateTask, QueueCall, SendMessage

TOUCH_OUTCOMES = ("fired", "deferred", "held", "skipped")
_DETAIL = re.compile(r"[\d:+-]{2,}|'[^']*'|\"[^\"]*\"")


def reason_kind(reason: str) -> str:
    """The rule a reason names, in its first two words, without its particulars (times,
    zones, names): `quiet hours`, `opted out`, `stop communication`... so the series stay
    few whatever an account's playbook names."""
    head = reason.split(":", 1)[0] if ":" in reason else reason
    words = _DETAIL.sub("", head).lower().split()
    return " ".join(words[:2]) or "other"


def _counter(name: str, description: str) -> MetricCounter:
    return activity.metric_meter().create_counter(name, description)


def count_touches(commands: Sequence[Command]) -> None:
    """Count a decision's touches by outcome, channel and rule (from the activity that
    writes the decision, so a decision replayed from history is not counted again)."""
    channels: dict[str, str] = {}
    for command in commands:
        if isinstance(command, SendMessage):
            channels[command.key] = command.channel
        elif isinstance(command, QueueCall):
            channels[command.key] = "call"
        elif isinstance(command, CreateTask):
            channels[command.key] = "task"
    touches = [c for c in commands if isinstance(c, Audit) and c.outcome in TOUCH_OUTCOMES]
    if not touches:
        return
    counter = _counter("leadflow_touches", "touches by outcome, channel and rule")
    for audit in touches:
        channel = channels.get(audit.key) or _channel_in(audit.reason)
        rule = "" if audit.outcome == "fired" else reason_kind(audit.reason)  # fired: no rule
        counter.add(1, {"outcome": audit.outcome, "channel": channel, "reason": rule})


def _channel_in(reason: str) -> str:
    for channel in ("sms", "mms", "email", "call", "task"):
        if re.search(rf"\b{channel}\b", reason):
            return channel
    return "other"


def count_send(channel: str, outcome: str) -> None:
    _counter("leadflow_sends", "send attempts by channel and how they ended").add(
        1, {"channel": channel, "outcome": outcome}
    )
