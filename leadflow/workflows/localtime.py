"""Local-time arithmetic for leads.

The only place that touches zoneinfo: the workflow sandbox turns `ZoneInfo` into a restricted
proxy, so workflow code imports this module passed through and calls it instead.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo


@cache
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def to_local(moment: datetime, time_zone: str) -> datetime:
    return moment.astimezone(zone(time_zone))


def describe(moment: datetime, time_zone: str) -> str:
    """'Tue 10:00 America/Chicago': how ops read a due time in the Temporal UI."""
    return f"{to_local(moment, time_zone):%a %d %b %H:%M} {time_zone}"
