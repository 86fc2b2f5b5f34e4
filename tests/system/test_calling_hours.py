"""The calling-hours gate on the real dev server, both sides pinned whatever the hour: a lead
where it is night now waits for 08:00 its time; a lead where it is midday is texted now."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.client import LeadflowClient
from leadflow.engine import localtime
from leadflow.engine.state import Member
from tests.factories import eventually, new_lead
from tests.places import Place
from tests.scenario_support import queue
from tests.services import ProvidersUnderTest


def _lead(place: Place) -> tuple[str, dict[str, object]]:
    fields = place.lead_fields() | {"designations": {"isa": Member(id="isa-1", name="Ivy Isa")}}
    del fields["consents"]  # as the API takes them: `new_lead` gives the engine's own
    return fields["parties"]["borrower"]["phone"], fields


async def test_a_lead_at_two_in_the_morning_waits_for_eight(
    dev_leads: LeadflowClient, db: AsyncEngine, providers: ProvidersUnderTest
) -> None:
    night = Place.where_it_is(2, lawful=False)  # night anywhere: the gate's own test
    local = night.now()
    assert time(1) <= local.time() < time(4), night.describe()
    phone, fields = _lead(night)
    request = new_lead(playbook="isa", **fields)  # the shipped window: 08:00-21:00
    await dev_leads.ensure_lead(request)

    eight = localtime.at_local(local.date(), time(8), night.zone).astimezone(UTC)
    audit = await dev_leads.audit(request.lead)
    deferred = {a.key: a for a in audit if a.outcome == "deferred"}
    text, call = "campaign:isa_touches:1:0:borrower", "campaign:isa_call_campaign:1:0"
    assert sorted(deferred) == sorted([text, call])
    assert {a.until for a in deferred.values()} == {eight}
    # The federal rule is cited where it reaches (a US number).
    assert deferred[text].reason.startswith(f"quiet hours: window 08:00-21:00 {night.zone}")
    assert deferred[call].reason.startswith("quiet hours: window 08:00-21:00")
    entry = await queue(db, request.lead)
    assert (entry.label, entry.available_at) == ("CallASAP", eight)
    assert not any(m["to"] == phone for m in providers.state.messages)


async def test_a_lead_at_midday_is_texted_and_called_now(
    dev_leads: LeadflowClient, db: AsyncEngine, providers: ProvidersUnderTest
) -> None:
    midday = Place.where_it_is(12)
    assert time(11) <= midday.now().time() < time(14), midday.describe()
    phone, fields = _lead(midday)
    request = new_lead(playbook="isa", **fields)
    before = datetime.now(UTC)
    await dev_leads.ensure_lead(request)

    async def texted() -> list[dict[str, object]]:
        return [m for m in providers.state.messages if m["to"] == phone]

    assert len(await eventually(texted)) == 1
    entry = await queue(db, request.lead)
    assert entry.label == "CallASAP"
    assert before - timedelta(seconds=5) <= entry.available_at <= datetime.now(UTC)
    audit = await dev_leads.audit(request.lead)
    assert not [a for a in audit if a.outcome == "deferred"]
