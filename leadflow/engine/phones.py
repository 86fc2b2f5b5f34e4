"""Where a phone number rings: the time zones of its area code and its country
(phonenumbers' data).

Pure and offline; the compliance gate takes these zones together with the party's own,
and the stricter wins.
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
from phonenumbers import timezone as number_zones

import leadflow.engine.localtime as localtime

MAX_ZONES = 3


@lru_cache(maxsize=4096)
def zones_for(phone: str) -> tuple[str, ...]:
    try:
        number = phonenumbers.parse(phone, "US")
    except phonenumbers.NumberParseException:
        return ()
    zones = tuple(z for z in number_zones.time_zones_for_number(number) if localtime.known_zone(z))
    # Toll-free and other non-geographic numbers map to every zone of their plan: no place.
    return zones if len(zones) <= MAX_ZONES else ()


@lru_cache(maxsize=4096)
def region(phone: str) -> str | None:
    """The number's phonenumbers region ('US', 'CA', 'PR'...): the country whose law reaches
    it. A number no region claims reads as its calling code's main country."""
    try:
        number = phonenumbers.parse(phone, "US")
    except phonenumbers.NumberParseException:
        return None
    found = phonenumbers.region_code_for_number(number)
    found = found or phonenumbers.region_code_for_country_code(number.country_code or 0)
    return None if found in (None, "ZZ") else str(found)
