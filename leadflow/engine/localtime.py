"""Local-time arithmetic for leads, and which time-zone names are known.

The only place that touches zoneinfo: the workflow sandbox turns `ZoneInfo` into a restricted
proxy, so workflow code imports this module passed through and calls it instead.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo


@cache
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def to_local(moment: datetime, time_zone: str) -> datetime:
    return moment.astimezone(zone(time_zone))


def describe(moment: datetime, time_zone: str, *, year: bool = False) -> str:
    """'Tue 03 Mar 10:00 America/Chicago': how ops read a due time in the Temporal UI
    ('Tue 03 Mar 2026 10:00 America/Chicago' with the year)."""
    shape = "%a %d %b %Y %H:%M" if year else "%a %d %b %H:%M"
    return f"{to_local(moment, time_zone):{shape}} {time_zone}"


def at_local(day: date, clock: time, time_zone: str) -> datetime:
    """The instant it is `clock` on `day` in the zone (a nonexistent DST time moves forward)."""
    naive = datetime.combine(day, clock)
    aware = naive.replace(tzinfo=zone(time_zone))
    # Round-trip through UTC normalises times that fall in a spring-forward gap.
    return aware.astimezone(UTC).astimezone(zone(time_zone))


def local_date(moment: datetime, time_zone: str) -> date:
    return to_local(moment, time_zone).date()


def add_wall_clock(moment: datetime, delta: timedelta, time_zone: str) -> datetime:
    """`moment` plus `delta` on the local calendar: day 7 at 10:00 stays 10:00 across DST."""
    local = to_local(moment, time_zone).replace(tzinfo=None) + delta
    return at_local(local.date(), local.time(), time_zone).astimezone(UTC)


@cache
def known_zone(name: str) -> bool:
    try:
        zone(name)
    except (KeyError, ValueError):
        return False
    return True
