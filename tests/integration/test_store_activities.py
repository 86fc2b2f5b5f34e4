"""The store activity is idempotent: a retried decision leaves exactly one row each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import ActivityEnvironment

from leadflow.activities.payloads import ApplyDecision, LeadRecord
from leadflow.activities.store import LeadStoreActivities, writes
from leadflow.engine.commands import (
    Audit,
    CompleteTask,
    CreateTask,
    DequeueCall,
    QueueCall,
    RecordHistory,
    RecordOptOut,
    SaveParties,
    SendMessage,
    SetPlaybook,
    SetStatus,
)
from leadflow.engine.refs import LeadRef
from leadflow.engine.state import Member, Party
from leadflow.store import opt_outs
from leadflow.store.queue import claim_next
from leadflow.store.tables import (
    AuditEntry,
    CallQueueEntry,
    Consent,
    HistoryNote,
    Lead,
    LeadParty,
    OptOut,
    OutboxMessage,
    Task,
)

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
REF = LeadRef(account_id="acme", lead_id="L-1")
RECORD = LeadRecord(
    lead=REF,
    first_name="Pat",
    last_name="Lee",
    time_zone="America/Chicago",
    milestone="No Milestone",
    status="New",
    at=T0,
)


async def _rows(db: AsyncEngine, table: type) -> int:
    async with db.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table))).scalar_one()


def _decision(number: int, at: datetime, *commands: object, record: bool = False) -> ApplyDecision:
    return ApplyDecision(
        lead=REF,
        decision=number,
        at=at,
        commands=list(commands),  # type: ignore[arg-type]
        record=RECORD if record else None,
    )


def _text(key: str, media: list[str] | None = None) -> SendMessage:
    """A text to the borrower (an MMS when it has media)."""
    return SendMessage(
        key=key,
        channel="mms" if media else "sms",
        party="borrower",
        to="+13125550111",
        sender=Member(id="u", name="U"),
        template="t",
        body="hi",
        media=media or [],
    )


async def test_a_retried_decision_leaves_one_row_each(db: AsyncEngine) -> None:
    store = LeadStoreActivities(db)
    env = ActivityEnvironment()
    decision = _decision(
        1,
        T0,
        SetStatus(milestone="Contacted", status="Hot"),
        RecordHistory(
            key="h", action="Call", milestone="Contacted", status="Hot", note="", actor="ana"
        ),
        CreateTask(
            key="follow-up:f1",
            subject="Call follow-up",
            assignee=None,
            due_at=T0 + timedelta(days=1),
        ),
        QueueCall(key="q", label="CallASAP", priority=100, available_at=T0),
        _text("m1"),
        Audit(key="m1", outcome="fired", reason="sms to borrower"),
        record=True,
    )
    for _ in range(3):
        await env.run(store.apply_decision, decision)

    counts = [
        await _rows(db, t)
        for t in (Lead, HistoryNote, Task, CallQueueEntry, OutboxMessage, AuditEntry)
    ]
    assert counts == [1, 1, 1, 1, 1, 1]
    async with db.connect() as conn:
        lead = (await conn.execute(select(Lead.milestone, Lead.status))).one()
    assert tuple(lead) == ("Contacted", "Hot")


async def test_one_queue_row_per_lead_and_dequeue_removes_it(db: AsyncEngine) -> None:
    store = LeadStoreActivities(db)
    env = ActivityEnvironment()
    await env.run(
        store.apply_decision,
        _decision(
            1, T0, QueueCall(key="a", label="CallASAP", priority=100, available_at=T0), record=True
        ),
    )
    await env.run(
        store.apply_decision,
        _decision(
            2,
            T0 + timedelta(hours=1),
            QueueCall(key="b", label="Redial", priority=50, available_at=T0 + timedelta(hours=3)),
        ),
    )
    async with db.connect() as conn:
        rows = (await conn.execute(select(CallQueueEntry.label, CallQueueEntry.key))).all()
    assert [tuple(r) for r in rows] == [("Redial", "b")]
    await env.run(
        store.apply_decision,
        _decision(3, T0 + timedelta(hours=2), DequeueCall(reason="contact made")),
    )
    assert await _rows(db, CallQueueEntry) == 0


async def test_an_older_decision_replayed_late_does_not_overwrite_a_newer_status(
    db: AsyncEngine,
) -> None:
    store = LeadStoreActivities(db)
    env = ActivityEnvironment()
    await env.run(store.apply_decision, _decision(1, T0, record=True))
    await env.run(
        store.apply_decision,
        _decision(3, T0 + timedelta(hours=2), SetStatus(milestone="Quoted", status="Hot")),
    )
    await env.run(
        store.apply_decision,
        _decision(2, T0 + timedelta(hours=1), SetStatus(milestone="Contacted", status="Follow Up")),
    )
    async with db.connect() as conn:
        lead = (await conn.execute(select(Lead.milestone, Lead.status))).one()
    assert tuple(lead) == ("Quoted", "Hot")


async def test_a_decision_that_moves_status_and_playbook_leaves_both_on_the_row(
    db: AsyncEngine,
) -> None:
    """A migration whose decision also changes the status (a campaign's end falling due in
    it): the lead's row takes both, each under its own guard, however often it is retried."""
    store = LeadStoreActivities(db)
    env = ActivityEnvironment()
    await env.run(store.apply_decision, _decision(1, T0, record=True))
    later = T0 + timedelta(hours=1)
    columns = (Lead.milestone, Lead.status, Lead.updated_at, Lead.playbook, Lead.playbook_version)

    async def moved(
        number: int, at: datetime, version: int, milestone: str, status: str
    ) -> tuple[object, ...]:
        await env.run(
            store.apply_decision,
            _decision(
                number,
                at,
                SetPlaybook(name="isa", version=version),
                SetStatus(milestone=milestone, status=status),
            ),
        )
        async with db.connect() as conn:
            return tuple((await conn.execute(select(*columns))).one())

    contacted = ("Contacted", "Nurture", later, "isa")
    for _ in range(2):  # once, and once more as a retry
        assert await moved(2, later, 2, "Contacted", "Nurture") == (*contacted, 2)
    # An older decision arriving late moves neither back; a newer version still goes in.
    assert await moved(3, T0 + timedelta(minutes=30), 3, "Prospect", "New") == (*contacted, 3)
    assert await moved(4, later, 1, "Contacted", "Nurture") == (*contacted, 3)


async def test_commands_of_one_decision_that_meet_on_a_row_leave_what_they_come_to(
    db: AsyncEngine,
) -> None:
    """A decision's writes run as one statement, so where its commands meet on a row the
    outcome is theirs in order: the last queue command, a task created and completed at
    once, the parties as last saved, an address's last word per channel."""
    store = LeadStoreActivities(db)
    env = ActivityEnvironment()
    pat = Party(name="Pat Lee", phone="+13125550111", email="pat@example.com", sms_consent=True)
    sam = Party(name="Sam Lee", phone="+13125550112")
    await env.run(
        store.apply_decision,
        _decision(
            1,
            T0,
            SaveParties(parties={"borrower": pat, "co_borrower": sam}),
            QueueCall(key="a", label="CallASAP", priority=100, available_at=T0),
            DequeueCall(reason="contact made"),
            CreateTask(key="t1", subject="Send the guide", assignee=None, due_at=T0),
            CompleteTask(key="t1"),
            RecordOptOut(channels=["sms"], addresses=["+13125550112"], source="lead"),
            RecordOptOut(
                channels=["sms"], addresses=["+13125550112"], source="lead", opted_in=True
            ),
            RecordOptOut(channels=["email"], addresses=["pat@example.com"], source="lead"),
            SetStatus(milestone="Contacted", status="Engaged"),
            record=True,
        ),
    )
    later = T0 + timedelta(hours=1)
    for _ in range(2):  # a retry writes the same again
        await env.run(
            store.apply_decision,
            _decision(
                2,
                later,
                DequeueCall(reason="again"),
                QueueCall(key="b", label="Redial", priority=50, available_at=later),
                SaveParties(parties={"borrower": pat.model_copy(update={"name": "Pat Q. Lee"})}),
            ),
        )
    async with db.connect() as conn:
        lead = (await conn.execute(select(Lead.milestone, Lead.status))).one()
        queued = (await conn.execute(select(CallQueueEntry.key))).scalars().all()
        task = (await conn.execute(select(Task.completed_at))).scalar_one()
        parties = (await conn.execute(select(LeadParty.role, LeadParty.name))).all()
        opted = (await conn.execute(select(OptOut.channel, OptOut.address))).all()
        consents = (await conn.execute(select(Consent.address))).scalars().all()
    assert tuple(lead) == ("Contacted", "Engaged")  # the first decision's status, on its row
    assert queued == ["b"]
    assert task == T0
    assert [tuple(p) for p in parties] == [("borrower", "Pat Q. Lee")]
    assert [tuple(o) for o in opted] == [("email", "pat@example.com")]
    assert consents == ["+13125550111"]


async def _claimed_then_requeued(db: AsyncEngine, dequeue: DequeueCall) -> tuple[str, str | None]:
    """Queue a call, let ana claim it, then a decision that dequeues it (as `dequeue` says)
    and queues a Callback: the lead's row afterwards, (label, claimed by)."""
    store = LeadStoreActivities(db)
    env = ActivityEnvironment()
    queued = QueueCall(key="a", label="CallASAP", priority=100, available_at=T0)
    await env.run(store.apply_decision, _decision(1, T0, queued, record=True))
    call = await claim_next(db, "acme", "ana", now=T0 + timedelta(minutes=1))
    assert call is not None and call.lead_id == "L-1"
    later = T0 + timedelta(minutes=2)
    callback = QueueCall(
        key="f", label="Callback", priority=80, available_at=later + timedelta(days=1)
    )
    await env.run(store.apply_decision, _decision(2, later, dequeue, callback))
    async with db.connect() as conn:
        row = (await conn.execute(select(CallQueueEntry.label, CallQueueEntry.claimed_by))).one()
    return row.label, row.claimed_by


async def test_a_call_replaced_while_an_agent_holds_it_keeps_the_claim(db: AsyncEngine) -> None:
    """Scheduling a follow-up right after a claim replaces the queued call (a Dequeue and a
    Queue in one decision): the agent's claim on the lead's row holds."""
    replaced = DequeueCall(reason="replaced by Callback")
    assert await _claimed_then_requeued(db, replaced) == ("Callback", "ana")


async def test_a_logged_call_ends_the_agents_claim_on_the_lead(db: AsyncEngine) -> None:
    """The agent logs the call they claimed (a Dequeue that ends the claim, then the lead's
    next call): the new entry is free for whoever it falls to."""
    logged = DequeueCall(reason="call logged: Engaged", ends_claim=True)
    assert await _claimed_then_requeued(db, logged) == ("Callback", None)


async def test_a_decisions_writes_have_one_text_per_shape_and_read_back_exactly(
    db: AsyncEngine,
) -> None:
    """The decision's statements have the same text whatever their rows (the driver prepares
    each once), and what they write reads back as given: times, nulls, an MMS's media, a
    party's consent."""
    borrower = Party(name="Pat", phone="+13125550111", email="p@example.com", sms_consent=True)

    def commands(audits: int) -> list[object]:
        return [
            SaveParties(parties={"borrower": borrower}),
            _text("m1", media=["https://example.com/a.png"]),
            CreateTask(key="t1", subject="Call", assignee=None, due_at=T0),
            QueueCall(key="q", label="CallASAP", priority=100, available_at=T0),
            *(
                Audit(key=f"a{i}", outcome="deferred", reason="quiet hours", until=T0)
                for i in range(audits)
            ),
        ]

    one, three = _decision(1, T0, *commands(1), record=True), _decision(2, T0, *commands(3))
    texts = [[w.sql for w in writes(d)] for d in (one, three)]
    assert texts[0][1:] == texts[1]  # the first decision also writes the lead's row
    store, env = LeadStoreActivities(db), ActivityEnvironment()
    for decision in (one, three):
        await env.run(store.apply_decision, decision)
    async with db.connect() as conn:
        media = (await conn.execute(select(OutboxMessage.media, OutboxMessage.status))).one()
        until = (await conn.execute(select(func.count()).where(AuditEntry.until == T0))).scalar()
        consent = (await conn.execute(select(Consent.address))).scalar()
        task = (await conn.execute(select(Task.due_at, Task.completed_at))).one()
    assert tuple(media) == (["https://example.com/a.png"], "queued")
    assert until == 4 and consent == "+13125550111" and tuple(task) == (T0, None)


async def test_an_opt_in_written_late_never_clears_an_opt_out_said_after_it(
    db: AsyncEngine,
) -> None:
    """The webhook writes each keyword as it hears it; the lead's workflow writes the same
    again when it decides, later. STOP (t1), START (t2) and STOP ALL (t3) heard in a row, with
    the workflow's writes of STOP and START landing after STOP ALL's: texts stay opted out."""
    store = LeadStoreActivities(db)
    env = ActivityEnvironment()
    phone = "+13125550113"
    t1, t2, t3 = T0, T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)
    async with db.begin() as conn:  # the webhook, as each text comes
        await opt_outs.opt_out(conn, "acme", ["sms"], phone, source="reply STOP", at=t1)
        await opt_outs.opt_in(conn, "acme", ["sms"], phone, t2)
        await opt_outs.opt_out(conn, "acme", ["sms", "call"], phone, source="reply Stop all", at=t3)
    late = T0 + timedelta(minutes=1)  # the workflow's decisions, applied after all three
    said = {"channels": ["sms"], "addresses": [phone], "source": "reply STOP"}
    await env.run(store.apply_decision, _decision(1, late, RecordOptOut(**said, at=t1)))
    back = RecordOptOut(**said | {"source": "lead"}, opted_in=True, at=t2)
    await env.run(store.apply_decision, _decision(2, late, back))
    async with db.connect() as conn:
        rows = (await conn.execute(select(OptOut.channel, OptOut.source, OptOut.at))).all()
    assert sorted(tuple(r) for r in rows) == [
        ("call", "reply Stop all", t3),
        ("sms", "reply Stop all", t3),  # the later moment, and its words, hold
    ]
