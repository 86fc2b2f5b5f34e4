"""Running an import: its waiting lines claimed a batch at a time and started at a steady
rate, each as `PUT /v1/leads/{id}` starts a lead (`intake.start_lead`), behind live leads
in Temporal's queues (`bulk`), each marked with what its start did in the transaction that
claimed it. A runner that stops (a crash, a deploy, Ctrl-C) leaves its batch waiting; the
next run takes it again, and a lead it had started answers that it is there (`existing`):
no lead starts twice. The API resumes unfinished imports when it starts; `leadflow
import` runs one in the foreground."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.api.import_rows import digest, read
from leadflow.api.intake import LeadIn, start_lead
from leadflow.client import ChangeRejected, Conflict, LeadflowClient
from leadflow.engine.refs import LeadRef
from leadflow.playbook.schema import Playbook
from leadflow.store import imports
from leadflow.store.accounts import preset_of
from leadflow.store.db import execute
from leadflow.store.playbooks import current_version

log = logging.getLogger("leadflow.imports")
BATCH = 50
PER_SECOND = 20.0  # starts a second: what an import adds to the cluster beside live leads


class Pace:
    """At most `per_second` starts a second, spread evenly."""

    def __init__(self, per_second: float) -> None:
        self.gap = 1.0 / per_second
        self.next = time.monotonic()

    async def turn(self) -> None:
        now = time.monotonic()
        mine, self.next = max(now, self.next), max(now, self.next) + self.gap
        await asyncio.sleep(mine - now)


async def prepare(
    engine: AsyncEngine,
    account_id: str,
    book: Playbook,
    name: str,
    text: str,
    mapping: dict[str, str],
    actor: str,
    seller: str,
) -> tuple[imports.Progress, bool]:
    """Read the file (`ImportProblem` if it cannot be) and keep it as the account's import
    of it: where that import stands, and whether it is new (False: the same file again,
    which resumes it). Its lines are the playbook's first party."""
    party = book.parties[0]
    lines = read(text, mapping, party, seller)
    rows = [imports.Row(r.line, r.lead_id, r.state, r.detail, r.body) for r in lines]
    import_id, new = await imports.create(
        engine, account_id, name, digest(text, mapping), actor, rows, party
    )
    found = await imports.progress(engine, import_id, account_id)
    assert found is not None
    return found, new


async def run_import(
    engine: AsyncEngine,
    leads: LeadflowClient,
    book: Playbook,
    import_id: str,
    account_id: str,
    actor: str,
    *,
    per_second: float = PER_SECOND,
    batch: int = BATCH,
    progressed: Callable[[int], Awaitable[None] | None] | None = None,
) -> None:
    """Start the import's waiting lines until none waits, then mark it finished."""
    pace = Pace(per_second)
    while True:
        async with engine.begin() as conn:
            rows = await imports.claim(conn, import_id, batch)
            if not rows:
                break
            outcomes = await asyncio.gather(
                *(_start(engine, leads, book, account_id, actor, row, pace) for row in rows)
            )
            await execute(conn, imports.done(import_id, outcomes))
        if progressed is not None and (said := progressed(len(rows))) is not None:
            await said
    await imports.finish(engine, import_id)


async def _start(
    engine: AsyncEngine,
    leads: LeadflowClient,
    book: Playbook,
    account_id: str,
    actor: str,
    row: imports.Row,
    pace: Pace,
) -> tuple[int, str, str | None]:
    """One line's start: started, existing (its lead was there), or refused with why."""
    assert row.lead_id is not None and row.body is not None
    await pace.turn()
    lead = LeadRef(account_id=account_id, lead_id=row.lead_id)
    try:
        body = LeadIn.model_validate(row.body)
        snapshot = await start_lead(
            engine, leads, book, lead, f"import by {actor}", body, bulk=True
        )
    except Conflict as exc:
        return row.line, "existing", f"lead {row.lead_id} is there with other facts: {exc}"
    except ChangeRejected as exc:
        return row.line, "refused", str(exc)
    except ValueError as exc:  # a line the playbook changed under: read again at its start
        return row.line, "refused", str(exc)
    if snapshot.created:
        return row.line, "started", None
    return row.line, "existing", f"lead {row.lead_id} was there already"


def book_of(database: AsyncEngine, leads: LeadflowClient) -> Callable[[str], Awaitable[Playbook]]:
    """An account's current playbook, as the routes' `Book` finds it: its newest stored
    version, else the preset the account names."""

    async def book(account_id: str) -> Playbook:
        stored = await current_version(database, account_id)
        return stored or leads.playbook(await preset_of(database, account_id))

    return book


async def resume_all(
    engine: AsyncEngine, leads: LeadflowClient, book_of: Callable[[str], Awaitable[Playbook]]
) -> None:
    """Run every unfinished import to its end, oldest first (the API, when it starts)."""
    for import_id, account_id, actor in await imports.unfinished(engine):
        log.info("resuming import %s of %s", import_id, account_id)
        await run_import(engine, leads, await book_of(account_id), import_id, account_id, actor)


class Running:
    """The imports this process runs in the background (the API's): kept so they are not
    collected mid-run, cancelled when it stops (their batch waits for the next run)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Awaitable[None], what: str) -> None:
        async def logged() -> None:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except Exception:  # the import waits for the next run; say why it stopped
                log.exception("import %s stopped; it resumes when the API next starts", what)

        task = asyncio.get_running_loop().create_task(logged())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
