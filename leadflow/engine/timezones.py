"""Time-zone validation at the boundary (IANA names from tzdata)."""

from __future__ import annotations

import zoneinfo
from functools import cache


@cache
def _known() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_time_zone(name: str) -> str:
    if name not in _known():
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as America/Chicago")
    return name
