"""Where a test's lead lives, chosen so the test means the same at any hour.

Behaviour depends on the lead's local calling hours, and tests on the dev server (or on the
time-skipping server before it skips) run at the machine's real time. A test that puts its
lead in Chicago passes at 15:00 UTC and fails at 03:00 UTC. Such tests take a `Place`: a
time zone where it is a chosen local hour *now*, and phone numbers whose area code rings
there (texts and calls respect the number's zones too).

The hour comes from `--lead-hours` (default `2,10,20`): every test using the `place`
fixture runs once per hour. At an hour the law keeps closed where the place would be (the US
federal window, which no account may widen), the place is the nearest zone no country's law
reaches. Where the playbook's calling window does not stay open for the
next few hours at that hour, `Place.playbook` gives the test a copy whose window is open
all day: the test is about its own behaviour, not the gate's (the gate's own tests pin
both sides with fixed zones). The machine's clock cannot be moved; moving the lead is the
same thing seen from the lead.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import phonenumbers
import yaml

from leadflow.engine import law, localtime, phones
from leadflow.paths import shipped
from leadflow.playbook.law import LAW
from leadflow.playbook.load import load_playbook
from leadflow.playbook.schema import Playbook, Window
from tests.factories import form_consent

# A number whose area code rings in exactly one zone, for zones an hour or so apart all
# round the clock (US zones first: they win a tie). Not Alaska: its one area code, 907,
# rings in two zones (Anchorage and Adak).
_SAMPLES = {
    "America/New_York": "+12125550100",
    "America/Chicago": "+13125550100",
    "America/Denver": "+13035550100",
    "America/Los_Angeles": "+14155550100",
    "Pacific/Honolulu": "+18085550100",
    "America/Puerto_Rico": "+17872345600",
    "Pacific/Guam": "+16713001200",
    "America/Sao_Paulo": "+551123456700",
    "Atlantic/Cape_Verde": "+2382211200",
    "Europe/London": "+441212345600",
    "Europe/Berlin": "+4930123400",
    "Europe/Helsinki": "+358131234500",
    "Asia/Dubai": "+97122345600",
    "Asia/Karachi": "+922123456700",
    "Asia/Dhaka": "+88027111200",
    "Asia/Bangkok": "+6621234500",
    "Asia/Singapore": "+6561234500",
    "Asia/Tokyo": "+81312345600",
    "Pacific/Noumea": "+687201200",
    "Pacific/Auckland": "+6432345600",
    "Pacific/Apia": "+6857212300",
    "Pacific/Pago_Pago": "+16846221200",
}
# Every country a place's numbers ring in: the tests' leads live all round the world, so
# their texts may go to each (SMS_COUNTRIES, which is US and Canada unless told).
COUNTRIES = tuple(
    sorted(
        {
            phonenumbers.region_code_for_number(phonenumbers.parse(number))
            for number in _SAMPLES.values()
        }
        | {"US", "CA"}
    )
)
ALL_DAY = Window(start=time(0), end=time.max)
OPEN_AHEAD = timedelta(hours=4)  # a test's holds and callbacks fit in this much window
DEFAULT_HOURS = (2, 10, 20)
_serial = itertools.count(1)


@dataclass(frozen=True)
class Place:
    zone: str
    sample: str  # a phone number in the zone; `phone()` varies its last digits

    @classmethod
    def where_it_is(cls, hour: int, now: datetime | None = None, *, lawful: bool = True) -> Place:
        """The zone whose local time is nearest `hour`:30 now: among the zones where a lead
        may be reached for the next few hours unless `lawful` is false (a test of the gate
        itself wants the night wherever it is, the US included)."""
        now = now or datetime.now(UTC)
        target = timedelta(hours=hour, minutes=30)

        def distance(zone: str) -> timedelta:
            local = localtime.to_local(now, zone)
            offset = timedelta(hours=local.hour, minutes=local.minute) - target
            return min(abs(offset), timedelta(days=1) - abs(offset))

        zones = (z for z in _SAMPLES if not lawful or _lawful_ahead(z, now))
        zone = min(zones, key=distance)
        return cls(zone, _SAMPLES[zone])

    def phone(self) -> str:
        """A fresh valid number in this zone (unique within the test session)."""
        n = next(_serial) % 100
        number = f"{self.sample[:-2]}{n:02d}"
        parsed = phonenumbers.parse(number)
        assert phonenumbers.is_valid_number(parsed), number
        assert phones.zones_for(number) == (self.zone,), (number, phones.zones_for(number))
        return number

    def now(self) -> datetime:
        return localtime.to_local(datetime.now(UTC), self.zone)

    def describe(self) -> str:
        return f"{self.zone} ({self.now():%H:%M} local)"

    def playbook(self, book: Playbook | str) -> Playbook:
        """The playbook as shipped if its window stays open here for a while, else the same
        playbook open all day (and with no state rules: the lead has no state)."""
        if isinstance(book, str):
            book = load_playbook(shipped("playbooks") / f"{book}.yaml")
        window = book.compliance.quiet_hours
        now = self.now()
        later = now + OPEN_AHEAD
        if later.date() == now.date() and window.start <= now.time() and later.time() < window.end:
            return book
        compliance = book.compliance.model_copy(
            update={"quiet_hours": ALL_DAY, "state_quiet_hours": {}, "frequency_caps": {}}
        )
        return book.model_copy(update={"compliance": compliance})

    def playbook_folder(self, folder: Path, *names: str) -> Path:
        """Write `names` (shipped playbooks) as placed here into `folder`, for a
        `PlaybookSource` or a `PLAYBOOKS_DIR`."""
        folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            data = self.playbook(name).model_dump(mode="json")
            (folder / f"{name}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
        return folder

    def lead_fields(self, **parties: Any) -> dict[str, Any]:
        """`time_zone` and a borrower whose phone rings here, for an ensure request."""
        borrower = {"name": "Pat Lee", "phone": self.phone(), "sms_consent": True} | parties
        fields = {"time_zone": self.zone, "parties": {"borrower": borrower}}
        return fields | ({"consents": [form_consent()]} if borrower.get("phone") else {})


LAWFUL = Window(start=time(8), end=time(21))  # the federal window: every country table's


def _lawful_ahead(zone: str, now: datetime) -> bool:
    """Whether a lead here may be texted and called for the next few hours: always where no
    country's law reaches the zone's numbers (the playbook's window is all there is, and a
    test may open it all day); within the federal window where one does (the US: an account
    may not open it wider)."""
    if not law.countries_of(LAW, _SAMPLES[zone], None, zone):
        return True
    local = localtime.to_local(now, zone)
    later = local + OPEN_AHEAD
    return later.date() == local.date() and LAWFUL.start <= local.time() < later.time() < LAWFUL.end


def hours_option(value: str) -> list[int]:
    hours = [int(part) for part in value.split(",") if part.strip()]
    if not hours or any(not 0 <= h <= 23 for h in hours):
        raise ValueError(f"--lead-hours takes hours 0-23, comma-separated; got {value!r}")
    return hours
