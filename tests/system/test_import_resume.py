"""`leadflow import` as its users run it, on the dev server with a worker process: killed
(SIGKILL) part way through a file, the same command again resumes the import where it
stopped, and every line's lead runs exactly once."""

from __future__ import annotations

import asyncio
import csv
import sys
import uuid
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from leadflow.store.accounts import ensure_account
from tests.factories import PLAYBOOKS, eventually
from tests.services import ProvidersUnderTest, worker_env, worker_process

LINES = 40


async def _leads(db: AsyncEngine, account: str) -> int:
    async with db.connect() as conn:
        found = await conn.execute(
            text("SELECT count(*) FROM leads WHERE account_id = :a"), {"a": account}
        )
        return int(found.scalar_one())


async def test_an_import_killed_part_way_resumes_and_starts_no_lead_twice(
    dev_env: WorkflowEnvironment,
    dev_address: str,
    database_url: str,
    providers: ProvidersUnderTest,
    db: AsyncEngine,
    tmp_path: Path,
) -> None:
    account = f"imp-{uuid.uuid4().hex[:8]}"
    await ensure_account(db, account, "Acme Mortgage", "isa")
    book = tmp_path / "book.csv"
    rows = [f"Lead{n},Example,lead{n}@example.com" for n in range(LINES)]
    book.write_text("First Name,Last Name,Email\n" + "\n".join(rows) + "\n")
    env = worker_env(dev_address, database_url, providers, account, PLAYBOOKS.folder)
    worker = worker_process(env, tmp_path / "worker.log")
    command = [sys.executable, "-m", "leadflow", "import", str(book), "--account", account]
    try:
        first = await asyncio.create_subprocess_exec(
            *command, "--per-second", "8", env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            assert await eventually(lambda: _over(db, account, 5), timeout=60)
        finally:
            first.kill()  # SIGKILL: part way, mid-batch
            await first.wait()
        before = await _leads(db, account)
        assert 5 <= before < LINES, before

        second = await asyncio.create_subprocess_exec(
            *command, "--per-second", "50", "--report", str(tmp_path / "report.csv"), env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(second.communicate(), timeout=120)
        assert second.returncode == 0, out.decode() + err.decode()
        assert "resuming import" in out.decode()
        assert await _leads(db, account) == LINES

        runs = [
            (w.id, w.run_id)
            async for w in dev_env.client.list_workflows(f'LeadAccount = "{account}"')
        ]
        assert len(runs) == LINES and len({lead for lead, _ in runs}) == LINES  # one run each
        with (tmp_path / "report.csv").open(newline="") as handle:
            outcomes = [row[2] for row in list(csv.reader(handle))[1:]]
        assert set(outcomes) <= {"started", "existing"} and len(outcomes) == LINES
        # The killed run's batch was never marked: its leads the second run found there.
        assert outcomes.count("existing") >= before
    finally:
        worker.kill()
        worker.wait()


async def _over(db: AsyncEngine, account: str, n: int) -> bool:
    return await _leads(db, account) >= n
