"""The shapes every layer shares: the strict pydantic bases and the small types of the domain.

Imports nothing from leadflow, so any layer may use it.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Literal
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints


class Strict(BaseModel):
    """A model that refuses fields it does not define, so a typo is an error, not a default."""

    model_config = ConfigDict(extra="forbid")


class Message(BaseModel):
    """A strict model that cannot change once made: what passes between layers and is
    recorded in workflow histories (events, commands, playbooks, workflow payloads)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Public(Message):
    """A message that holds nothing personal (ids, statuses, times, provider ids): it travels
    through Temporal unsealed, saving each history the ~110 bytes a sealed payload costs.
    Anything with a name, phone, email or text a person wrote is a plain Message, sealed."""


def nul_at(value: object, where: str = "") -> str | None:
    """Where in `value` (nested dicts, lists, models' dumps) a text holds the NUL character,
    which PostgreSQL cannot store: its path (`parties.borrower.name`), or None."""
    if isinstance(value, str):
        return (where or "text") if "\x00" in value else None
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, dict):
        for key, item in value.items():
            inside = f"{where}.{key}" if where else str(key)
            if "\x00" in str(key):
                return inside
            found = nul_at(item, inside)
            if found:
                return found
    elif isinstance(value, list | tuple | set | frozenset):
        for i, item in enumerate(value):
            found = nul_at(item, f"{where}[{i}]")
            if found:
                return found
    return None


NUL_REFUSED = "text may not hold the NUL character (\\u0000)"


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
"""A name a person gives: a milestone, a status, a party's role, a designation..."""

Channel = Literal["sms", "mms", "email", "call"]
MessageChannel = Literal["sms", "mms", "email"]


@cache
def _iana_names() -> frozenset[str]:
    return frozenset(available_timezones())


def check_time_zone(name: str) -> str:
    """The name, if it is an IANA time zone (from tzdata); ValueError saying what to use if not."""
    if name not in _iana_names():
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as America/Chicago")
    return name


TimeZone = Annotated[str, AfterValidator(check_time_zone)]
