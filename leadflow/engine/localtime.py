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


def inside(moment: datetime, time_zone: str, start: time, end: time) -> bool:
    clock = to_local(moment, time_zone).time()
    return start <= clock < end


def next_opening(moment: datetime, time_zone: str, start: time, end: time) -> datetime:
    """`moment` if it is inside [start, end) local time, else the next local `start`."""
    if inside(moment, time_zone, start, end):
        return moment
    local = to_local(moment, time_zone)
    day = local.date() if local.time() < start else local.date() + timedelta(days=1)
    return at_local(day, start, time_zone).astimezone(UTC)


def opening_in_all(moment: datetime, zones: list[str], start: time, end: time) -> datetime:
    """The first instant at or after `moment` inside the window in every zone (stricter wins)."""
    candidate = moment
    for _ in range(14):  # zones a few hours apart agree within a day or two
        moved = max(next_opening(candidate, z, start, end) for z in zones)
        if moved == candidate:
            return candidate
        candidate = moved
    raise ValueError(f"no common window {start}-{end} in {zones}")


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
