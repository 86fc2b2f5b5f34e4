"""The period a report reads, as people give it: from one day to another, both included, in
a time zone (the API's caller says which; the pages use the signed-in user's)."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import BeforeValidator

from leadflow.models import check_time_zone
from leadflow.store.reports import Period

DEFAULT_DAYS = 30
LONGEST_DAYS = 366
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def iso_day(value: object) -> object:
    """A day as YYYY-MM-DD and nothing else (the lax parser would read `0` as 1970-01-01)."""
    if isinstance(value, str) and not _ISO_DAY.fullmatch(value):
        raise ValueError(f"{value!r} is not a day as YYYY-MM-DD")
    return value


# A query parameter's day: YYYY-MM-DD only.
Day = Annotated[date | None, BeforeValidator(iso_day)]


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
