"""Routing a new lead through its workflow, on real PostgreSQL under time skipping: a lead
that comes unassigned on a playbook that routes is given to the next user in turn, the
designation filled and the reason in its audit; a lead nobody may take waits, saying why,
and asks again until someone may; a lead that comes assigned is not routed."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from leadflow.api.app import create_app
from leadflow.client import LeadflowClient
from leadflow.engine.state import Member
from leadflow.playbook.schema import Playbook
from leadflow.store import routing as store
from leadflow.store.accounts import ensure_account, new_api_key
from leadflow.store.playbooks import save_version
from leadflow.store.users import save_user
from tests.factories import PLAYBOOKS, api_settings, eventually, new_lead
from tests.integration.test_api import Served


def _routed_isa(*rules: dict[str, object]) -> Playbook:
    data = PLAYBOOKS.get("isa").model_dump(mode="json")
    data["version"] += 100
    data["routing"] = {"rules": list(rules)}
    return Playbook.model_validate(data)


async def _isa_of(leads: LeadflowClient, lead: object) -> str | None:
    state = await leads.describe(lead)  # type: ignore[arg-type]
    member = state.designations.get("isa")
    return None if member is None else member.id


async def test_new_leads_are_given_in_turn_and_say_why(
    leads: LeadflowClient, db: AsyncEngine
) -> None:
    await ensure_account(db, "acme", "Acme", "isa")
    for user in ("ana", "bo"):
        await save_user(db, "acme", user, user.title(), "+13125550190", None, ["isa"])
    book = _routed_isa({"name": "team", "designation": "isa"})
    first, second = (new_lead(playbook="isa", designations={}) for _ in range(2))
    for request in (first, second):
        await leads.ensure_lead(request, playbook=book)
        lead = request.lead

        async def given(lead: object = lead) -> str | None:
            return await _isa_of(leads, lead)

        assert await eventually(given)
    assert await _isa_of(leads, first.lead) == "ana"
    assert await _isa_of(leads, second.lead) == "bo"
    state = await leads.describe(second.lead)
    assert state.designations["isa"] == Member(id="bo", name="Bo", phone="+13125550190")
    audit = [a.reason for a in await leads.audit(second.lead)]
    assert "team: round robin, bo, next after ana" in audit
    [kept] = await store.assignments(db, "acme", second.lead.lead_id)
    assert kept.agent == "bo"
    came = new_lead(playbook="isa", designations={"isa": Member(id="cy", name="Cy")})
    await leads.ensure_lead(came, playbook=book)
    assert await store.assignments(db, "acme", came.lead.lead_id) == []


async def test_a_lead_nobody_may_take_waits_and_asks_again(
    leads: LeadflowClient, db: AsyncEngine, time_env: WorkflowEnvironment
) -> None:
    await ensure_account(db, "acme", "Acme", "isa")
    await save_user(db, "acme", "ana", "Ana", None, None, ["isa"])
    await store.set_availability(
        db, "acme", "ana", time_zone="UTC", hours=None, days=range(7), away=True, licensed=None
    )
    book = _routed_isa({"name": "team", "designation": "isa"})
    request = new_lead(playbook="isa", designations={})
    await leads.ensure_lead(request, playbook=book)

    async def waiting() -> bool:
        audit = [a.reason for a in await leads.audit(request.lead)]
        return "waits for the first who may take it: team: nobody eligible (ana is away)" in audit

    assert await eventually(waiting)
    assert await _isa_of(leads, request.lead) is None
    await store.set_availability(
        db, "acme", "ana", time_zone="UTC", hours=None, days=range(7), away=False, licensed=None
    )
    await time_env.sleep(timedelta(minutes=6))  # the lead asks again after five minutes

    async def given() -> str | None:
        return await _isa_of(leads, request.lead)

    assert await eventually(given) == "ana"
    attempts = await store.assignments(db, "acme", request.lead.lead_id)
    assert [a.agent for a in attempts] == [None, "ana"]


async def test_the_api_sets_who_is_away_and_reads_a_leads_routing(
    leads: LeadflowClient, db: AsyncEngine
) -> None:
    await ensure_account(db, "acme", "Acme", "isa")
    await save_version(db, "acme", _routed_isa({"name": "team", "designation": "isa"}))
    app = create_app(api_settings(leads), client=leads.temporal, engine=db)
    async with Served(app, await new_api_key(db, "acme")) as api:
        for user in ("ana", "bo"):
            put = await api.put(
                f"/v1/users/{user}", json={"name": user.title(), "designations": ["isa"]}
            )
            assert put.status_code == 200, put.text
        away = await api.put("/v1/users/ana/availability", json={"away": True})
        assert away.status_code == 200 and away.json()["away"] is True, away.text
        for body, said in (
            ({"hours_start": "09:00"}, "give hours_start and hours_end together"),
            ({"hours_start": "17:00", "hours_end": "09:00"}, "hours_start is before hours_end"),
            ({"days": [7]}, "less than or equal to 6"),
            ({"licensed": ["texas"]}, "pattern"),
            ({"time_zone": "Mars/Base"}, "Mars/Base"),
        ):
            refused = await api.put("/v1/users/bo/availability", json=body)
            assert refused.status_code == 422 and said in refused.text, refused.text
        missing = await api.put("/v1/users/zed/availability", json={"away": True})
        assert missing.status_code == 404 and "no user 'zed'" in missing.text
        created = await api.put("/v1/leads/R1", json={"first_name": "Rae"})
        assert created.status_code == 201, created.text

        async def routed() -> list[dict[str, object]]:
            found: list[dict[str, object]] = (await api.get("/v1/leads/R1/routing")).json()
            return found

        [first] = await eventually(routed)
        assert (first["attempt"], first["rule"], first["agent"]) == (1, "team", "bo")
        assert first["why"] == "team: round robin, bo first (ana is away)"
        assert (await api.get("/v1/leads/NOPE/routing")).status_code == 404
