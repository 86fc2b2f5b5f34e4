"""The shapes every layer shares: the strict pydantic bases and the small types of the domain.

Imports nothing from leadflow, so any layer may use it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints


class Strict(BaseModel):
    """A model that refuses fields it does not define, so a typo is an error, not a default."""

    model_config = ConfigDict(extra="forbid")


class Message(BaseModel):
    """A strict model that cannot change once made: what passes between layers and is
    recorded in workflow histories (events, commands, playbooks, workflow payloads)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
"""A name a person gives: a milestone, a status, a party's role, a designation..."""

Channel = Literal["sms", "mms", "email", "call"]
MessageChannel = Literal["sms", "mms", "email"]
