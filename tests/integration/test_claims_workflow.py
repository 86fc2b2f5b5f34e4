"""First to claim, the pond and "worked" through a lead's workflow, on real PostgreSQL under
time skipping and through the API: an offer goes to every eligible user at once and the
first to accept takes it while the other is told who did; an agent who is away is offered
nothing; a claim window that runs out moves the lead to its fallback, and a late accept is
refused; a user who does not work the lead in time loses it along the chain; the first
human touch is kept (speed to lead); a lead in a closed status frees its user's open cap."""

from __future__ import annotations

from datetime import UTC, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from leadflow.api.app import create_app
from leadflow.client import LeadflowClient
from leadflow.engine.refs import LeadRef
from leadflow.playbook.schema import Playbook
from leadflow.store import routing as store
from leadflow.store.accounts import ensure_account, new_api_key
from leadflow.store.playbooks import save_version
from leadflow.store.routing_tables import FirstTouch
from leadflow.store.users import save_user
from leadflow.workflows.messages import CallLog, MilestoneChange
from tests.factories import api_settings, eventually, new_lead
from tests.integration.test_api import Served
from tests.integration.test_routing_workflow import _isa_of, _routed_isa

CLAIM = {"name": "claim", "designation": "isa", "mode": "first_to_claim",
         "group": ["ana", "bo"], "claim_window": "5m", "fallback": ["backup"]}  # fmt: skip
BACKUP = {"name": "backup", "designation": "isa", "group": ["cy"]}


async def _team(db: AsyncEngine, *users: str) -> None:
    await ensure_account(db, "acme", "Acme", "isa")
    for user in users:
        await save_user(db, "acme", user, user.title(), "+13125550190", None, ["isa"])


async def _offered(api: Any, user: str) -> list[str]:
    body = (await api.get(f"/v1/users/{user}/routing")).json()
    return [offer["lead_id"] for offer in body["offers"]]


async def test_the_first_to_accept_takes_the_lead_and_the_other_is_told(
    leads: LeadflowClient, db: AsyncEngine
) -> None:
    await _team(db, "ana", "bo", "cy")
    await store.set_away(db, "acme", "cy", True)
    await save_version(db, "acme", _routed_isa(CLAIM, BACKUP))
    app = create_app(api_settings(leads), client=leads.temporal, engine=db)
    async with Served(app, await new_api_key(db, "acme")) as api:
        created = await api.put("/v1/leads/C1", json={"first_name": "Cleo", "source": "web"})
        assert created.status_code == 201, created.text

        async def offered_to_both() -> bool:
            return await _offered(api, "ana") == ["C1"] and await _offered(api, "bo") == ["C1"]

        assert await eventually(offered_to_both)
        assert await _offered(api, "cy") == []
        won = await api.post("/v1/leads/C1/routing/accept", json={"user": "bo"})
        assert won.status_code == 200, won.text
        assert won.json()["agent"] == "bo" and won.json()["why"].startswith("claim: bo took it")
        lost = await api.post("/v1/leads/C1/routing/accept", json={"user": "ana"})
        assert lost.status_code == 409 and "bo took it first" in lost.text, lost.text
        again = await api.post("/v1/leads/C1/routing/accept", json={"user": "bo"})
        assert again.status_code == 200  # the same user twice: the same answer
        lead = LeadRef(account_id="acme", lead_id="C1")

        async def given() -> str | None:
            return await _isa_of(leads, lead)

        assert await eventually(given) == "bo"
        assert await _offered(api, "ana") == []
        held = (await api.get("/v1/users/bo/routing")).json()["held"]
        assert [h["lead_id"] for h in held] == ["C1"]
        nobody = await api.post("/v1/leads/C1/routing/accept", json={"user": "zed"})
        assert nobody.status_code == 409 and "no user 'zed'" in nobody.text
        missing = await api.post("/v1/leads/NOPE/routing/accept", json={"user": "bo"})
        assert missing.status_code == 404


async def test_a_claim_window_that_runs_out_moves_the_lead_to_its_fallback(
    leads: LeadflowClient, db: AsyncEngine, time_env: WorkflowEnvironment
) -> None:
    await _team(db, "ana", "bo", "cy")
    await store.set_away(db, "acme", "ana", True)  # away: offered nothing
    book = _routed_isa(CLAIM, BACKUP)
    await save_version(db, "acme", book)
    request = new_lead(playbook="isa", designations={})
    await leads.ensure_lead(request, playbook=book)
    lead = request.lead

    async def offer() -> list[Any]:
        found = await store.history(db, "acme", lead.lead_id)
        return found if found and found[0]["offered"] else []

    [first] = await eventually(offer)
    assert first["offered"] == ["bo"] and first["why"].startswith("claim: offered to bo for 5 min")
    await time_env.sleep(timedelta(minutes=6))

    async def given() -> str | None:
        return await _isa_of(leads, lead)

    assert await eventually(given) == "cy"
    [offered, fell_back] = await store.history(db, "acme", lead.lead_id)
    assert offered["closed_at"] is not None and offered["agent"] is None
    assert fell_back["why"] == "backup: round robin, cy first after claim: tried"
    app = create_app(api_settings(leads), client=leads.temporal, engine=db)
    async with Served(app, await new_api_key(db, "acme")) as api:
        late = await api.post(f"/v1/leads/{lead.lead_id}/routing/accept", json={"user": "bo"})
    assert late.status_code == 409 and "ran out" in late.text, late.text


async def test_a_lead_not_worked_in_time_moves_on_and_the_first_touch_is_kept(
    leads: LeadflowClient, db: AsyncEngine, time_env: WorkflowEnvironment
) -> None:
    await _team(db, "ana", "cy")
    first = {"name": "team", "designation": "isa", "group": ["ana"], "work_within": "30m",
             "fallback": ["backup"]}  # fmt: skip
    book = _routed_isa(first, BACKUP)
    request = new_lead(playbook="isa", designations={})
    await leads.ensure_lead(request, playbook=book)
    lead = request.lead

    async def given() -> str | None:
        return await _isa_of(leads, lead)

    assert await eventually(given) == "ana"
    await time_env.sleep(timedelta(minutes=31))

    async def moved() -> bool:
        return await _isa_of(leads, lead) == "cy"

    assert await eventually(moved)
    audit = [a.reason for a in await leads.audit(lead)]
    assert "ana took no action on the lead in time" in audit
    rows = await store.history(db, "acme", lead.lead_id)
    assert [(r["agent"], r["closed_at"] is not None) for r in rows] == [
        ("ana", True),
        ("cy", False),
    ]
    await leads.log_call(lead, CallLog(disposition="No Answer", actor="cy", request_id="c-1"))

    async def touched() -> Any:
        async with db.connect() as conn:
            query = select(FirstTouch).where(FirstTouch.lead_id == lead.lead_id)
            return (await conn.execute(query)).one_or_none()

    row = await eventually(touched)
    assert (row.by, row.seconds) == ("cy", 31 * 60)


async def test_a_lead_in_a_closed_status_frees_its_users_open_cap(
    leads: LeadflowClient, db: AsyncEngine, time_env: WorkflowEnvironment
) -> None:
    await _team(db, "ana")
    book = _routed_isa({"name": "team", "designation": "isa", "caps": {"open": 1}})
    data = book.model_dump(mode="json")
    data["routing"]["closed_statuses"] = ["Do Not Call"]
    book = Playbook.model_validate(data)
    first, second = (new_lead(playbook="isa", designations={}) for _ in range(2))
    await leads.ensure_lead(first, playbook=book)

    async def given(lead: LeadRef = first.lead) -> str | None:
        return await _isa_of(leads, lead)

    assert await eventually(given) == "ana"
    await leads.ensure_lead(second, playbook=book)

    async def waiting() -> bool:
        audit = [a.reason for a in await leads.audit(second.lead)]
        return any("ana holds 1 open (cap 1)" in reason for reason in audit)

    assert await eventually(waiting)
    change = MilestoneChange(milestone="Prospect", status="Do Not Call", request_id="dnc-1")
    await leads.change_milestone(first.lead, change)

    async def closed() -> bool:
        [row] = await store.history(db, "acme", first.lead.lead_id)
        return row["closed_at"] is not None

    assert await eventually(closed)
    await time_env.sleep(timedelta(minutes=6))  # the second asks again

    async def taken() -> str | None:
        return await _isa_of(leads, second.lead)

    assert await eventually(taken) == "ana"


async def test_a_user_gives_a_lead_back_and_it_goes_on_along_the_chain(
    leads: LeadflowClient, db: AsyncEngine
) -> None:
    await _team(db, "ana", "bo")
    first = {"name": "team", "designation": "isa", "group": ["ana"], "fallback": ["backup"]}
    backup = {"name": "backup", "designation": "isa", "group": ["bo"]}
    await save_version(db, "acme", _routed_isa(first, backup))
    app = create_app(api_settings(leads), client=leads.temporal, engine=db)
    async with Served(app, await new_api_key(db, "acme")) as api:
        created = await api.put("/v1/leads/G1", json={"first_name": "Gil"})
        assert created.status_code == 201, created.text
        lead = LeadRef(account_id="acme", lead_id="G1")

        async def holder() -> str | None:
            return await _isa_of(leads, lead)

        assert await eventually(holder) == "ana"
        wrong = await api.post("/v1/leads/G1/routing/release", json={"user": "bo"})
        assert wrong.status_code == 409 and "bo does not hold lead G1" in wrong.text
        given = await api.post(
            "/v1/leads/G1/routing/release", json={"user": "ana", "why": "on leave tomorrow"}
        )
        assert given.status_code == 202, given.text

        async def moved() -> bool:
            return await _isa_of(leads, lead) == "bo"

        assert await eventually(moved)
        audit = [a.reason for a in await leads.audit(lead)]
        assert "ana gave the lead back: on leave tomorrow" in audit
        assert "backup: round robin, bo first after team: tried" in audit
        rows = await store.history(db, "acme", "G1")
        assert [r["agent"] for r in rows] == ["ana", "bo"] and rows[0]["closed_at"] is not None


async def test_a_user_whose_shift_ends_is_offered_no_more_leads(
    leads: LeadflowClient, db: AsyncEngine, time_env: WorkflowEnvironment
) -> None:
    await _team(db, "ana", "bo", "cy")
    # bo works 11:00-14:00 in a zone where it is 12:xx now, whatever hour the test runs at.
    hour = (await time_env.get_current_time()).astimezone(UTC).hour
    offset = (12 - hour + 12) % 24 - 12  # -12..11 hours east of UTC
    zone = f"Etc/GMT{-offset:+d}" if offset else "UTC"  # the Etc names' sign is inverted
    await store.set_availability(
        db, "acme", "bo", time_zone=zone, hours=(time(11), time(14)), days=range(7),
        away=False, licensed=None,
    )  # fmt: skip
    book = _routed_isa(CLAIM, BACKUP)
    await save_version(db, "acme", book)
    first, second = (new_lead(playbook="isa", designations={}) for _ in range(2))
    await leads.ensure_lead(first, playbook=book)

    async def offered(lead: LeadRef) -> list[str]:
        found = await store.history(db, "acme", lead.lead_id)
        return list(found[0]["offered"] or []) if found else []

    assert await eventually(lambda: offered(first.lead)) == ["ana", "bo"]
    await time_env.sleep(timedelta(hours=3))  # bo's shift is over: 15:xx there
    await leads.ensure_lead(second, playbook=book)
    assert await eventually(lambda: offered(second.lead)) == ["ana"]
