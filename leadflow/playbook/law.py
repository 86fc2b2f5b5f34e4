"""The law on calls and texts, as reviewed data, each row citing its statute: each US state's
(`state_law.yaml`) and, from version 2, each country's (`country_law.yaml`: the US federal
window, Canada's CRTC rules and CASL). The compliance gate applies it (`leadflow.engine.law`);
a playbook's `compliance` may tighten it, and `leadflow playbook check` refuses one that would
loosen it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, time
from functools import cache
from importlib import resources
from typing import Annotated, Literal, TypeVar

import yaml
from pydantic import BaseModel, Field, StringConstraints

from leadflow.models import Channel, Message
from leadflow.playbook.durations import Duration
from leadflow.playbook.schema import Window

LAW = 3
"""The tables' version new leads follow; `state_law.yaml` and `country_law.yaml` say the same.
A change to what a table decides is a new version, with the old ones kept (`state_law.v1.yaml`,
`state_law.v2.yaml`, `country_law.v2.yaml`) for leads recorded under them: a lead keeps the
version it decided by until its workflow moves it on."""

COUNTRIES_SINCE = 2
"""The first version with a country table: leads on an earlier one keep to the states' only."""

FEDERAL = Window.model_validate({"start": "08:00", "end": "21:00"})
"""The US federal calling window (`country_law.yaml`'s US row), the shipped playbooks' own."""

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


class Disclosure(Message):
    """What a message on `channels` must carry: who sends it (`sender`) or a way to stop them
    (`unsubscribe`), in the first message to a person or in every one."""

    what: Literal["sender", "unsubscribe"]
    channels: list[Channel]
    when: Literal["first", "every"]
    source: str = ""  # its own citation, when not the row's


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
    disclose: list[Disclosure] = []
    confidence: Literal["high", "medium", "low"]
    note: str = ""
    automated: StateLaw | None = None  # what automated calls must also keep to: texts do
    # From version 3: the citation of the state's rule that a sales call or text first asks
    # the Reassigned Numbers Database (Maine's), unless the relationship exempts it.
    reassigned_check: str | None = None

    def day(self, weekday: int) -> Window | Closed | None:
        """The hours on a weekday (0 is Monday): its own, or the law's every-day hours."""
        own = {5: self.saturday, 6: self.sunday}.get(weekday)
        return own if own is not None else self.hours

    def widest(self) -> tuple[time, time] | None:
        """The earliest opening and the latest closing on any day (None: no hours of its own)."""
        days = [w for d in range(7) if isinstance(w := self.day(d), Window)]
        if not days:
            return None
        return min(w.start for w in days), max(w.end for w in days)


class DoNotCall(Message):
    """The country's do-not-call registry and what exempts a solicitation from it: written
    consent, or an established business relationship (an inquiry within `inquiry_months`,
    a transaction within `transaction_months`, ended at once by a do-not-call request)."""

    registry: str  # the list's name as imported: `national`, `ca:national`
    state_lists: bool = False  # each state's own list (`state:FL`) reaches its numbers too
    covers: list[Channel] = list(BY_TELEPHONE)  # the solicitations it reaches
    inquiry_months: int = Field(ge=1)
    transaction_months: int = Field(ge=1)
    source: str


class WrittenConsent(Message):
    """The channels on which a marketing message needs the party's prior express written
    consent on record (in the US, texts: an automated system sends them), whatever the
    lists say."""

    covers: list[Channel]
    source: str


class CountryLaw(StateLaw):
    regions: list[StateCode]  # the phonenumbers regions of the numbers it reaches
    subdivisions: list[StateCode] = []  # party regions inside it that are not US states
    do_not_call: DoNotCall | None = None
    written_consent: WrittenConsent | None = None  # from version 3


class LawTable(Message):
    version: int = Field(ge=1)
    reviewed: date
    federal: str  # the federal window's citation
    states: dict[StateCode, StateLaw]


class CountryTable(Message):
    version: int = Field(ge=COUNTRIES_SINCE)
    reviewed: date
    countries: dict[StateCode, CountryLaw]


Table = TypeVar("Table", bound=BaseModel)


def _read(stem: str, version: int, model: type[Table]) -> Table:
    name = f"{stem}.yaml" if version == LAW else f"{stem}.v{version}.yaml"
    text = resources.files("leadflow.playbook").joinpath(name).read_text("utf-8")
    found = model.model_validate(yaml.safe_load(text))
    assert getattr(found, "version", None) == version, f"{name} is not version {version}"
    return found


@cache
def table(version: int = LAW) -> LawTable:
    """The state table of that version: the current one, or an earlier one kept as it was."""
    return _read("state_law", version, LawTable)


@cache
def countries(version: int = LAW) -> dict[str, CountryLaw]:
    """The country table of that version, by country code (none before version 2)."""
    if version < COUNTRIES_SINCE:
        return {}
    return dict(_read("country_law", version, CountryTable).countries)


def country_of_region(region: str, version: int = LAW) -> str | None:
    """The country a party's region is in: the one listing it, else the US (a state code)."""
    for code, law in countries(version).items():
        if region in law.subdivisions:
            return code
    return "US" if "US" in countries(version) else None


def on_record(code: str) -> list[StateLaw]:
    """The current rows an account's key names: a state's, a province's country's, and for
    'default' (every recipient) every country's."""
    if code == "default":
        return list(countries().values())
    country = country_of_region(code)
    if country is not None and country != "US":
        return [countries()[country]]
    found = table().states.get(code)
    return [found] if found is not None else []


def covered(codes: Iterable[str]) -> list[str]:
    """The countries an account's `compliance` covers: those of the states and provinces its
    windows and caps name ('default' names none)."""
    found = {country_of_region(code) for code in codes if code != "default"}
    return [code for code in countries() if code in found]  # in the table's order


def looser(window: Window, state: str) -> str | None:
    """Why an account's window for a state or province would loosen its law (None if it
    keeps to it)."""
    country = country_of_region(state)
    if country is not None and country != "US":
        return looser_in(window, country)
    law = table().states.get(state)
    if law is None or law.hours is None:
        return looser_in(window, "US")
    return _wider(window, (law.hours.start, law.hours.end), f"{law.name}'s law", law.source)


def looser_in(window: Window, country: str) -> str | None:
    """Why an account's window would loosen a country's law: it opens before, or closes
    after, the country's widest hours on any day (None if it keeps to them)."""
    law = countries().get(country)
    widest = law.widest() if law is not None else None
    if law is None or widest is None:
        return None
    whose = "the federal window" if country == "US" else f"{law.name}'s law"
    return _wider(window, widest, whose, law.source)


def _wider(window: Window, floor: tuple[time, time], whose: str, source: str) -> str | None:
    if floor[0] <= window.start and window.end <= floor[1]:
        return None
    return (
        f"{window.start:%H:%M}-{window.end:%H:%M} is wider than {whose}, "
        f"{floor[0]:%H:%M}-{floor[1]:%H:%M} ({source}); an account may only narrow it"
    )
