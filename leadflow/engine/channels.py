"""Which channels an opt-out or an unusable address covers: one rule for the engine, the send
activity and the provider webhooks. A text opt-out covers MMS too; a bad number ends texts
and calls alike."""

from __future__ import annotations

from typing import Literal

from leadflow.models import Channel

OptOutScope = Literal["sms", "email", "call", "all"]

TEXTS: tuple[Channel, ...] = ("sms", "mms")
"""The channels a text opt-out (STOP, a carrier's opt-out) covers."""

BY_PHONE: tuple[Channel, ...] = ("sms", "mms", "call")
"""The channels that reach a phone number: an unusable number ends them all."""

_COVERS: dict[OptOutScope, frozenset[Channel]] = {
    "all": frozenset({"sms", "mms", "email", "call"}),
    "sms": frozenset(TEXTS),
    "email": frozenset({"email"}),
    "call": frozenset({"call"}),
}


def opt_out_covers(scope: OptOutScope) -> frozenset[Channel]:
    """The channels an opt-out (or opt-in) of `scope` applies to."""
    return _COVERS[scope]
