"""The reports on a seeded account whose every figure is computed by hand below: speed to
lead (overall, by agent, source and rule, in working hours too), contact rate and conversions
by call attempt, per campaign step, the dispositions dashboard (its invalid combinations are
the ones `GET /v1/reports/unlinked` lists), the funnel and the leaderboard; through the API,
and the CSV the page offers. Fixed dates in March 2026: nothing depends on today."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import ActivityEnvironment

from leadflow.activities.payloads import ApplyDecision, LeadRecord
from leadflow.activities.store import LeadStoreActivities
from leadflow.api.app import create_app
from leadflow.api.passwords import hash_password
from leadflow.api.periods import period
from leadflow.client import LeadflowClient
from leadflow.engine.commands import CallFacts, RecordHistory, SendMessage, SetStatus
from leadflow.engine.commands import FirstTouch as FirstTouchCommand
from leadflow.engine.refs import LeadRef
from leadflow.engine.state import Member
from leadflow.playbook.load import default_playbook
from leadflow.store import pipeline, reports, thread
from leadflow.store.accounts import ensure_account, new_api_key
from leadflow.store.call_logs import calls_insert
from leadflow.store.db import execute
from leadflow.store.report_tables import CallLog
from leadflow.store.reports import Period, StepFigures, converted_by
from leadflow.store.routing import set_availability
from leadflow.store.routing_tables import FirstTouch, RoutingAssignment
from leadflow.store.tables import Lead, OutboxMessage
from leadflow.store.users import save_user, set_password
from tests.factories import api_settings
from tests.integration.test_api import Served
from tests.integration.test_workspace import _browser, _sign_in

ACCOUNT = "acme"
MARCH = Period(start=datetime(2026, 3, 1, tzinfo=UTC), end=datetime(2026, 4, 1, tzinfo=UTC))
QUERY = {"start": "2026-03-01", "end": "2026-03-31", "zone": "UTC"}


def at(day: int, hour: int = 0, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


LEADS: dict[str, dict[str, Any]] = {
    # came in, source, milestone, status, milestones reached
    "L1": {"at": at(2, 10), "source": "zillow", "m": "Closed", "s": "Converted",
           "reached": ["Prospect", "Contacted", "Closed"]},
    "L2": {"at": at(3, 22), "source": "zillow", "m": "Contacted", "s": "Engaged",
           "reached": ["Prospect", "Contacted"]},
    "L3": {"at": at(5, 9), "source": "web", "m": "Prospect", "s": "New",
           "reached": ["Prospect"]},
    # Prospect / Converted: a combination the isa playbook's links do not allow.
    "L4": {"at": at(10, 9), "source": None, "m": "Prospect", "s": "Converted",
           "reached": ["Prospect"]},
    "L5": {"at": at(20, 9, month=2), "source": "web", "m": "Prospect", "s": "New",
           "reached": ["Prospect"]},  # February: outside the period
}  # fmt: skip
TOUCHES = {  # lead: (by, seconds, seconds in the user's working hours)
    "L1": ("ana", 120, 120),
    "L2": ("bo", 39600, 300),  # came in at 22:00, touched at 09:00: 5 min of bo's hours
    "L4": ("ana", 600, None),  # ana has no hours on record: the same
    "L5": ("ana", 60, 60),
}
ROUTED = [  # lead, attempt, rule, agent
    ("L1", 1, "day", "ana"),
    ("L2", 1, "day", "bo"),
    ("L3", 1, "night", None),  # waited, then went to bo
    ("L3", 2, "night", "bo"),
]
CALLS = [  # lead, attempt, contact, actor, at
    ("L1", 1, False, "ana", at(2, 11)),
    ("L1", 2, True, "ana", at(4, 10)),
    ("L2", 1, True, "bo", at(3, 23)),
    *[("L3", n, False, "cy", at(5, 10) + timedelta(hours=n)) for n in range(1, 11)],
    ("L4", None, True, "ana", at(11, 9)),  # an inbound call: no attempt
    ("L5", 1, True, "ana", at(20, 10, month=2)),
]
STEPS = [  # lead, step, status, written at
    ("L1", 0, "delivered", at(2, 10, 1)),
    ("L1", 1, "failed", at(3, 10)),
    ("L2", 0, "sent", at(3, 22, 1)),
    ("L3", 0, "suppressed", at(5, 9, 1)),
    ("L3", 1, "delivered", at(6, 9)),
    ("L5", 0, "delivered", at(20, 9, 1, month=2)),
]
REPLIES = [  # lead, keyword, at
    ("L1", None, at(2, 10, 30)),  # answers L1's step 1
    ("L2", "stop", at(4, 8)),  # L2's step 1, and an opt-out
    ("L3", None, at(7, 12)),  # L3's step 2
    ("L5", None, at(1, 8)),  # L5's step 1, written in February: not the period's
]


async def seed(db: AsyncEngine) -> None:
    """The rows as the product writes them: the leads' own rows, first touches, routings and
    campaign messages as they are, and each call and reply through the code that writes it
    (which finds the campaign message it came after)."""
    await ensure_account(db, ACCOUNT, "Acme", "isa")
    given = {lead: agent for lead, _, _, agent in ROUTED if agent}  # the last, as routing keeps
    async with db.begin() as conn:
        for lead, f in LEADS.items():
            row = {"account_id": ACCOUNT, "lead_id": lead, "workflow_id": f"wf-{lead}"}
            row |= {"milestone": f["m"], "status": f["s"], "time_zone": "UTC"}
            row |= {"source": f["source"], "reached": f["reached"], "created_at": f["at"]}
            await conn.execute(
                insert(Lead).values(**row, updated_at=f["at"], agent=given.get(lead))
            )
        for lead, (by, seconds, business) in TOUCHES.items():
            came = LEADS[lead]["at"]
            await conn.execute(
                insert(FirstTouch).values(
                    account_id=ACCOUNT, lead_id=lead, at=came + timedelta(seconds=seconds),
                    by=by, seconds=seconds, business_seconds=business,
                )
            )  # fmt: skip
        for lead, attempt, rule, agent in ROUTED:
            await conn.execute(
                insert(RoutingAssignment).values(
                    account_id=ACCOUNT, lead_id=lead, attempt=attempt, rule=rule, agent=agent,
                    why="seeded", at=LEADS[lead]["at"],
                )
            )  # fmt: skip
        for lead, step, status, when in STEPS:
            await conn.execute(
                insert(OutboxMessage).values(
                    key=f"wf-{lead}:campaign:isa_touches:1:{step}:borrower",
                    account_id=ACCOUNT, lead_id=lead, channel="sms", party="borrower",
                    to_address="+13125550111", sender_id="isa-1", template="t", body="Hi",
                    media=[], status=status, created_at=when, campaign="isa_touches", step=step,
                )
            )  # fmt: skip
        await conn.execute(  # an agent's own message: no campaign step
            insert(OutboxMessage).values(
                key="wf-L4:agent:1", account_id=ACCOUNT, lead_id="L4", channel="sms",
                party="borrower", to_address="+13125550111", sender_id="ana", template="agent",
                body="Hello", media=[], status="delivered", created_at=at(10, 10),
            )
        )  # fmt: skip
        for i, (lead, attempt, contact, actor, when) in enumerate(CALLS):
            facts = CallFacts(
                channel="call", direction="outbound" if attempt else "inbound",
                disposition="Talked" if contact else "No Answer", contact=contact,
                attempt=attempt,
            )  # fmt: skip
            note = RecordHistory(
                key="h", action="Call", milestone="Prospect", status="New", note="",
                actor=actor, call=facts,
            )  # fmt: skip
            ref = LeadRef(account_id=ACCOUNT, lead_id=lead)
            for write in calls_insert(ref, [(f"call-{i}", note)], when):
                await execute(conn, write)
        for i, (lead, keyword, when) in enumerate(REPLIES):
            await thread.record(
                conn, ACCOUNT, lead, f"twilio:SM{i}", channel="sms", party="borrower",
                sender="+13125550111", to=None, body="Yes", at=when, keyword=keyword,
            )  # fmt: skip


async def test_speed_to_lead_overall_and_by_agent_source_and_rule(db: AsyncEngine) -> None:
    await seed(db)
    [every] = await reports.speed(db, ACCOUNT, MARCH)
    # L1..L4 came in over March; three were touched: 120 s, 600 s and 39,600 s.
    assert (every.leads, every.reached, every.never_reached) == (4, 3, 1)
    assert every.median_seconds == 600
    assert every.p90_seconds == 31800  # 600 + 0.8 * (39,600 - 600), interpolated
    # In working hours: 120, 300 (bo's), 600 (ana has none on record: the same).
    assert (every.business_median_seconds, every.business_p90_seconds) == (300, 540)
    assert every.within == {"5 min": 0.25, "15 min": 0.5, "1 h": 0.5, "4 h": 0.5, "24 h": 0.75}

    by_agent = {r.group: r for r in await reports.speed(db, ACCOUNT, MARCH, "agent")}
    assert {g: (r.leads, r.reached) for g, r in by_agent.items()} == {
        "ana": (2, 2),  # L1 and L4, touched by her
        "bo": (2, 1),  # L2, touched by him; L3, given him and never reached
    }
    assert by_agent["ana"].median_seconds == 360
    by_source = await reports.speed(db, ACCOUNT, MARCH, "source")
    assert [(r.group, r.leads) for r in by_source] == [("zillow", 2), ("(none)", 1), ("web", 1)]
    by_rule = await reports.speed(db, ACCOUNT, MARCH, "rule")
    assert [(r.group, r.leads) for r in by_rule] == [
        ("day", 2),
        ("(not routed)", 1),
        ("night", 1),  # L3's first routing's rule
    ]


async def test_contact_rate_and_conversions_by_attempt(db: AsyncEngine) -> None:
    await seed(db)
    conversion = converted_by(default_playbook("isa"))
    assert conversion.statuses == ["Converted"]
    found = await reports.attempts(db, ACCOUNT, MARCH, conversion)
    rows = {
        a.attempt: (a.calls, a.contacts, a.contact_rate, a.first_contacts, a.converted)
        for a in found
    }
    assert rows == {
        "1": (3, 1, 0.3333, 1, 0),  # L1, L2, L3 called; L2 reached (Engaged: not converted)
        "2": (2, 1, 0.5, 1, 1),  # L1 and L3; L1 reached, and converted since
        **{str(n): (1, 0, 0.0, 0, 0) for n in range(3, 9)},  # L3 alone
        "9+": (2, 0, 0.0, 0, 0),  # L3's 9th and 10th
    }  # L4's inbound call has no attempt; L5 came in in February


def after(s: StepFigures) -> tuple[int, int, int]:
    return (s.replied, s.opted_out, s.contacted_after)


async def test_campaign_steps_count_what_came_after_their_messages(db: AsyncEngine) -> None:
    await seed(db)
    found = await reports.steps(db, ACCOUNT, MARCH)
    figures = [
        (s.campaign, s.step, s.messages, s.sent, s.delivered, s.failed, s.held_back, *after(s))
        for s in found
    ]
    assert figures == [
        # L1 delivered, L2 sent, L3 suppressed; L1 and L2 replied (L2 with STOP); L2 was
        # reached by a call before any other message.
        ("isa_touches", 1, 3, 2, 1, 0, 1, 2, 1, 1),
        # L1 failed, L3 delivered; L3 replied; L1's second call reached her after it.
        ("isa_touches", 2, 2, 1, 1, 1, 0, 1, 0, 1),
    ]


async def test_the_dashboard_marks_the_combinations_the_links_do_not_allow(
    db: AsyncEngine,
) -> None:
    await seed(db)
    book = default_playbook("isa")
    found = await pipeline.dispositions(db, ACCOUNT, book)
    assert [(c.milestone, c.status, c.leads, c.linked) for c in found] == [
        ("Prospect", "New", 2, True),  # L3, and L5 (the dashboard is every lead now)
        ("Prospect", "Converted", 1, False),
        ("Contacted", "Engaged", 1, True),
        ("Closed", "Converted", 1, True),
    ]


async def test_the_funnel_and_the_leaderboard(db: AsyncEngine) -> None:
    await seed(db)
    book = default_playbook("isa")
    funnel = await pipeline.funnel(db, ACCOUNT, MARCH, book)
    assert [(s.milestone, s.leads, s.share) for s in funnel] == [
        ("Prospect", 4, 1.0),
        ("Contacted", 2, 0.5),
        ("Appointment Set", 0, 0.0),
        ("Under Contract", 0, 0.0),
        ("Closed", 1, 0.25),
    ]
    board = await reports.leaderboard(db, ACCOUNT, MARCH, converted_by(book))
    assert [
        (s.user, s.leads_given, s.first_touches, s.median_seconds, s.calls, s.contacts, s.converted)
        for s in board
    ] == [
        ("ana", 1, 2, 360, 2, 1, 1),  # L1 given her and converted; her L5 call was February's
        ("bo", 2, 1, 39600, 1, 1, 0),  # L2, and L3 at its second routing
        ("cy", 0, 0, None, 10, 0, 0),  # L3's ten calls
    ]


@pytest_asyncio.fixture
async def app(leads: LeadflowClient, db: AsyncEngine) -> FastAPI:
    await seed(db)
    return create_app(api_settings(leads), client=leads.temporal, engine=db)


async def test_the_api_gives_the_same_numbers_and_refuses_a_bad_period(
    app: FastAPI, db: AsyncEngine
) -> None:
    async with Served(app, await new_api_key(db, ACCOUNT)) as api:
        speed = await api.get("/v1/reports/speed-to-lead", params=QUERY | {"by": "source"})
        assert speed.status_code == 200, speed.text
        assert [(r["group"], r["leads"]) for r in speed.json()["rows"]] == [
            ("zillow", 2),
            ("(none)", 1),
            ("web", 1),
        ]
        steps = (await api.get("/v1/reports/steps", params=QUERY)).json()
        assert [(s["step"], s["replied"]) for s in steps] == [(1, 2), (2, 1)]
        board = (await api.get("/v1/reports/leaderboard", params=QUERY)).json()
        assert [s["user"] for s in board] == ["ana", "bo", "cy"]
        funnel = (await api.get("/v1/reports/funnel", params=QUERY)).json()
        assert funnel[0] == {"milestone": "Prospect", "leads": 4, "share": 1.0}
        attempts = (await api.get("/v1/reports/attempts", params=QUERY)).json()
        assert attempts[1]["converted"] == 1
        dashboard = (await api.get("/v1/reports/dispositions")).json()
        invalid = {
            (c["milestone"], c["status"]) for c in dashboard["combinations"] if not c["linked"]
        }
        unlinked = (await api.get("/v1/reports/unlinked")).json()["items"]
        assert (
            invalid
            == {(u["milestone"], u["status"]) for u in unlinked}
            == {("Prospect", "Converted")}
        )
        for bad, said in (
            ({"start": "2026-03-05", "end": "2026-03-01"}, "is after end"),
            ({"start": "2024-01-01", "end": "2026-03-01"}, "at most 366 days"),
            ({"zone": "Mars/Olympus"}, "unknown time zone"),
            ({"end": "0"}, "not a day as YYYY-MM-DD"),  # not 1970-01-01
        ):
            refused = await api.get("/v1/reports/funnel", params=bad)
            assert refused.status_code == 422 and said in refused.text, refused.text
        wrong = await api.get("/v1/reports/speed-to-lead", params={"by": "weather"})
        assert wrong.status_code == 422


@pytest.mark.parametrize("role", ["manager", "agent"])
async def test_the_page_and_its_csv_are_for_managers(
    app: FastAPI, db: AsyncEngine, role: str
) -> None:
    await save_user(db, ACCOUNT, "mo", "Mo Manager", None, None, ["isa"], role=role)
    await set_password(db, ACCOUNT, "mo", await hash_password("correct horse battery"))
    async with Served(app), _browser(app) as browser:
        signed = await _sign_in(browser, ACCOUNT, "mo", "correct horse battery")
        assert signed.status_code == 303
        page = await browser.get(
            "/app/reports", params={"start": "2026-03-01", "end": "2026-03-31"}
        )
        exported = await browser.get("/app/reports/leaderboard.csv", params=QUERY)
        if role == "agent":
            assert page.status_code == exported.status_code == 403
            assert "Reports are for managers" in page.text
            return
        assert page.status_code == 200
        assert 'class="invalid"' in page.text and "Prospect" in page.text
        assert "/app/?milestone=Prospect&amp;status=Converted" in page.text
        assert exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert [(r["user"], r["converted"]) for r in rows] == [
            ("ana", "1"),
            ("bo", "0"),
            ("cy", "0"),
        ]
        speed = await browser.get("/app/reports/speed-to-lead.csv", params=QUERY)
        [every] = list(csv.DictReader(io.StringIO(speed.text)))
        assert every["within 24 h"] == "0.75" and every["median_seconds"] == "600"
        listed = await browser.get("/app/", params={"milestone": "Prospect", "status": "Converted"})
        assert "/app/leads/L4" in listed.text and "/app/leads/L3" not in listed.text
        assert (await browser.get("/app/reports/weather.csv")).status_code == 404


def test_a_period_is_whole_days_in_its_zone() -> None:
    chosen = period(date(2026, 3, 1), date(2026, 3, 31), "America/Chicago")
    assert chosen.start == datetime(2026, 3, 1, 6, tzinfo=UTC)  # CST
    assert chosen.end == datetime(2026, 4, 1, 5, tzinfo=UTC)  # CDT since 8 March
    thirty_days = period(None, None, "UTC", today=date(2026, 3, 31))  # the 2nd to the 31st
    assert (thirty_days.start, thirty_days.end) == (MARCH.start + timedelta(days=1), MARCH.end)
    with pytest.raises(ValueError, match="is after end"):
        period(date(2026, 3, 2), date(2026, 3, 1), "UTC")


async def test_the_store_activity_writes_what_the_reports_read(db: AsyncEngine) -> None:
    """A lead's decisions leave its source, the milestones it reached (also one a late,
    older decision names), each call logged with its facts, a campaign message's campaign
    and step, and its first touch in the toucher's working hours."""
    await ensure_account(db, ACCOUNT, "Acme", "isa")
    await save_user(db, ACCOUNT, "ana", "Ana", None, None, ["isa"])
    await set_availability(
        db, ACCOUNT, "ana", time_zone="America/Chicago", hours=(time(9), time(17)),
        days=range(5), away=False, licensed=None,
    )  # fmt: skip
    ref = LeadRef(account_id=ACCOUNT, lead_id="W1")
    came = datetime(2026, 3, 6, 22, tzinfo=UTC)  # Friday 16:00 in Chicago: an hour of ana's day
    record = LeadRecord(
        lead=ref, first_name="Pat", last_name=None, time_zone="America/Chicago",
        milestone="Prospect", status="New", at=came, source="zillow",
    )  # fmt: skip
    text = SendMessage(
        key="campaign:isa_touches:1:2:borrower", channel="sms", party="borrower",
        to="+13125550111", sender=Member(id="isa-1", name="Ivy"), template="t", body="hi",
    )  # fmt: skip
    touched = came + timedelta(days=3, hours=1)  # Monday evening, after her day: 8 more hours
    took = int((touched - came).total_seconds())
    call = CallFacts(
        channel="call", direction="outbound", disposition="Talked", contact=True, attempt=1
    )
    decisions = [
        ApplyDecision(lead=ref, decision=1, at=came, commands=[text], record=record),
        ApplyDecision(
            lead=ref, decision=3, at=touched,
            commands=[
                SetStatus(milestone="Contacted", status="Engaged"),
                RecordHistory(
                    key="h", action="Call", milestone="Contacted", status="Engaged",
                    note="call outbound: Talked", actor="ana", call=call,
                ),
                FirstTouchCommand(at=touched, by="ana", seconds=took),
            ],
        ),
        # Written late, decided before: the row stays as decision 3 left it.
        ApplyDecision(
            lead=ref, decision=2, at=came + timedelta(hours=1),
            commands=[SetStatus(milestone="Appointment Set", status="Engaged")],
        ),
    ]  # fmt: skip
    store = LeadStoreActivities(db)
    for decision in [*decisions, decisions[1]]:  # a retried decision changes nothing
        await ActivityEnvironment().run(store.apply_decision, decision)
    async with db.connect() as conn:
        lead = (await conn.execute(select(Lead.source, Lead.milestone, Lead.reached))).one()
        logged = (await conn.execute(select(CallLog.__table__))).mappings().all()
        step = (await conn.execute(select(OutboxMessage.campaign, OutboxMessage.step))).one()
        first = (await conn.execute(select(FirstTouch.seconds, FirstTouch.business_seconds))).one()
    assert tuple(lead) == ("zillow", "Contacted", ["Prospect", "Contacted", "Appointment Set"])
    assert [(c["disposition"], c["contact"], c["attempt"], c["actor"]) for c in logged] == [
        ("Talked", True, 1, "ana")
    ]
    # The contact came after the campaign's third step: the per-step report counts it there.
    [contact] = logged
    assert (contact["answered_campaign"], contact["answered_step"]) == ("isa_touches", 2)
    assert contact["answered_key"] == f"{ref.workflow_id}:campaign:isa_touches:1:2:borrower"
    assert tuple(step) == ("isa_touches", 2)
    assert tuple(first) == (3 * 86400 + 3600, 9 * 3600)  # an hour Friday, eight Monday
