"""The period a report reads, as people give it: from one day to another, both included, in
a time zone (the API's caller says which; the pages use the signed-in user's)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from leadflow.models import check_time_zone
from leadflow.store.reports import Period

DEFAULT_DAYS = 30
LONGEST_DAYS = 366


def period(start: date | None, end: date | None, zone: str, today: date | None = None) -> Period:
    """The days from `start` to `end` in `zone` as UTC instants (by default the last 30 days
    up to today); ValueError saying what was wrong."""
    check_time_zone(zone)
    where = ZoneInfo(zone)
    end = end or today or datetime.now(where).date()
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    if (end - start).days + 1 > LONGEST_DAYS:
        raise ValueError(f"a report reads at most {LONGEST_DAYS} days; {start} to {end} is more")
    return Period(
        start=datetime.combine(start, time(0), where),
        end=datetime.combine(end + timedelta(days=1), time(0), where),
    )
