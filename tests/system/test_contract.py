"""The API keeps the contract its OpenAPI document states, under generated requests.

schemathesis reads `/openapi.json` from a running `leadflow api` (with a worker, the Temporal
dev server and PostgreSQL behind it) and sends every operation requests made from the
document, valid and not, with every check it has: no server error, only documented status
codes, content types and headers, bodies that match their schema, invalid input refused,
405 with a true Allow. A bounded number of examples per operation, a fixed seed.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow.store.accounts import ensure_account, new_api_key
from tests.places import Place
from tests.services import ProvidersUnderTest, api_and_worker, worker_env

CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES = 12  # per operation and phase
SEED = 20261129


@pytest.fixture
def served(
    dev_address: str,
    database_url: str,
    providers: ProvidersUnderTest,
    tmp_path: Path,
) -> Iterator[str]:
    """`leadflow api` and `leadflow worker` processes on the test's services: the API's URL."""
    queue = f"contract-{uuid.uuid4().hex[:6]}"
    playbooks = Place.where_it_is(12).playbook_folder(tmp_path / "playbooks", "isa")
    env = worker_env(
        dev_address,
        database_url,
        providers,
        queue,
        playbooks,
        OPS_TOKEN="contract-ops-token-" + "x" * 32,
    )
    with api_and_worker(env) as url:
        yield url


async def test_the_api_keeps_its_documented_contract(
    served: str, db: AsyncEngine, report: Callable[[str], None], tmp_path: Path
) -> None:
    url = served
    await ensure_account(db, "contract", "Contract", "isa")
    key = await new_api_key(db, "contract")
    headers = {"Authorization": f"Bearer {key}"}
    # Leads that exist, so generated ids sometimes name one: lead-1, lead-2... and "0".
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as api:
        for lead in ("0", "lead-1"):
            fields = Place.where_it_is(12).lead_fields()
            created = await api.put(f"/v1/leads/{lead}", json={"first_name": "Dana", **fields})
            assert created.status_code == 201, created.text
    run = await asyncio.to_thread(
        subprocess.run,
        [
            str(Path(sys.executable).with_name("st")),
            *("--config-file", str(CONFIG), "--no-color", "run", f"{url}/openapi.json"),
            *("-H", f"Authorization: Bearer {key}"),
            *("--max-examples", str(EXAMPLES), "--seed", str(SEED), "--workers", "1"),
            *("--request-timeout", "40", "--no-shrink"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,  # where it keeps its cache (.schemathesis/)
        env={**os.environ, "SCHEMATHESIS_HOOKS": "", "COLUMNS": "120"},
    )
    output = run.stdout + run.stderr
    cases = re.search(r"(\d+) generated", output)
    summary = re.search(r"=+ ([^=]+) =+\s*$", run.stdout.strip())
    report(
        f"API contract (schemathesis, every check, {EXAMPLES} examples an operation): "
        f"{cases.group(1) if cases else '?'} requests, "
        f"{summary.group(1) if summary else 'no summary'}"
    )
    assert run.returncode == 0, output[-20_000:]
