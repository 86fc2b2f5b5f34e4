"""The law of each US state on calls and texts, as reviewed data: `state_law.yaml`, each row
citing its statute. The compliance gate applies it (`leadflow.engine.law`); a playbook's
`compliance` may tighten it, and `leadflow playbook check` refuses one that would loosen it.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from importlib import resources
from typing import Annotated, Literal

import yaml
from pydantic import Field, StringConstraints

from leadflow.models import Channel, Message
from leadflow.playbook.durations import Duration
from leadflow.playbook.schema import Window

LAW = 2
"""The table's version new leads follow; `state_law.yaml` says the same. A change to what the
table decides is a new version, with the old one kept (`state_law.v1.yaml`) for leads
recorded under it: a lead keeps the version it decided by until its workflow moves it on."""

FEDERAL = Window.model_validate({"start": "08:00", "end": "21:00"})
"""The federal calling window, every playbook's `compliance.quiet_hours` at its widest."""

StateCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Closed = Literal["closed"]

BY_TELEPHONE: tuple[Channel, ...] = ("call", "sms", "mms")
"""What telephone-solicitation statutes cover: calls, and texts wherever the statute says a
text is a call (as the FCC reads the TCPA). Email is outside them."""


class Cap(Message):
    """At most `max` touches per `per` to one number, counting the channels in `counts`
    (MD counts calls and texts together), before one on `applies_to` may go."""

    max: int = Field(ge=1)
    per: Duration
    counts: list[Channel] = list(BY_TELEPHONE)
    applies_to: list[Channel] = list(BY_TELEPHONE)
    what: str = "calls and texts on the same subject"


class StateLaw(Message):
    name: str
    source: str  # the citation: the statute, section and subsection
    url: str | None = None
    covers: list[Channel] = list(BY_TELEPHONE)
    hours: Window | None = None  # every day, unless a day has its own
    saturday: Window | Closed | None = None
    sunday: Window | Closed | None = None
    holidays: Closed | None = None  # the state's legal holidays, observed days included
    caps: list[Cap] = []
    confidence: Literal["high", "medium", "low"]
    note: str = ""
    automated: StateLaw | None = None  # what automated calls must also keep to: texts do

    def day(self, weekday: int) -> Window | Closed | None:
        """The hours on a weekday (0 is Monday): its own, or the law's every-day hours."""
        own = {5: self.saturday, 6: self.sunday}.get(weekday)
        return own if own is not None else self.hours


class LawTable(Message):
    version: int = Field(ge=1)
    reviewed: date
    federal: str  # the federal window's citation
    states: dict[StateCode, StateLaw]


@cache
def table(version: int = LAW) -> LawTable:
    """The table of that version: the current one, or an earlier one kept as it was."""
    name = "state_law.yaml" if version == LAW else f"state_law.v{version}.yaml"
    text = resources.files("leadflow.playbook").joinpath(name).read_text("utf-8")
    found = LawTable.model_validate(yaml.safe_load(text))
    assert found.version == version, f"{name} is version {found.version}, not {version}"
    return found


def looser(window: Window, state: str) -> str | None:
    """Why an account's window for a state would loosen its law (None if it keeps to it)."""
    law = table().states.get(state)
    floor, source, whose = FEDERAL, table().federal, "the federal window"
    if law is not None and law.hours is not None:
        floor, source, whose = law.hours, law.source, f"{law.name}'s law"
    if window.start < floor.start or window.end > floor.end:
        return (
            f"{window.start:%H:%M}-{window.end:%H:%M} is wider than {whose}, "
            f"{floor.start:%H:%M}-{floor.end:%H:%M} ({source}); an account may only narrow it"
        )
    return None
