"""What a lead costs Temporal and the worker: the size of its workflow's start input, and the
worker memory each cached running lead holds, for every shipped playbook, beside a bare
workflow on the same footing (ids in, sleeping on a timer) and beside the playbook carried
whole in the input, as leads started before references still do.

`python -m bench.private_history [LEADS]`: LEADS leads per figure (default 300), each
memory figure measured in a process of its own.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import uuid
from collections.abc import Awaitable, Callable

import psutil  # type: ignore[import-untyped]  # psutil ships no type hints
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bench.bare import BareLead, UnsandboxedBareLead
from leadflow.activities.memory import MemoryStoreActivities
from leadflow.client import LeadflowClient
from leadflow.codec import Keyring, new_key
from leadflow.engine.preview import written_consents
from leadflow.engine.refs import LeadRef
from leadflow.engine.state import Member, Party
from leadflow.paths import binary, shipped
from leadflow.playbook.shelf import SHELF
from leadflow.playbook.sources import PlaybookFolder
from leadflow.temporal import data_converter, ensure_search_attributes
from leadflow.worker import SANDBOX, build_worker
from leadflow.workflows.lead import LeadWorkflow
from leadflow.workflows.messages import EnsureLead, LeadInput

PLAYBOOKS = ["isa", "mortgage", "insurance", "callback-periods", "leads-queue"]
BORROWER = Party(name="Bench Lead", phone="+13125550199", email="b@example.com", sms_consent=True)
WARM = 20  # leads started before measuring
TEAM = {
    "isa": Member(id="isa", name="Ivy Isa"),
    "loan_assignee": Member(id="lo", name="Lena Officer"),
}


def _ensure(books: PlaybookFolder, name: str) -> EnsureLead:
    book = books.get(name)
    return EnsureLead(
        lead=LeadRef(account_id="bench", lead_id=uuid.uuid4().hex[:10]),
        playbook=name,
        time_zone="America/Chicago",
        parties=(parties := {party: BORROWER for party in book.parties[:1]}),
        designations={k: v for k, v in TEAM.items() if k in book.designations},
        consents=written_consents(parties),
    )


async def _input_bytes(converter: Client | DataConverter, value: object) -> int:
    """How many bytes `value` takes as the start event's input, as `converter` writes it."""
    if isinstance(converter, Client):
        converter = converter.data_converter
    payloads = await converter.encode([value])
    return sum(p.ByteSize() for p in payloads)


async def _per_lead(start: Callable[[], Awaitable[None]], leads: int) -> float:
    """Worker memory (resident set) per running lead held in the worker's cache, in KB."""
    process = psutil.Process()
    for _ in range(WARM):  # imports, the sandbox's first copies, the playbook on the shelf
        await start()
    gc.collect()
    before: int = process.memory_info().rss
    for _ in range(leads):
        await start()
    gc.collect()
    after: int = process.memory_info().rss
    return (after - before) / leads / 1024


async def _memory(kind: str, name: str, leads: int) -> float:
    """One figure, measured in this (fresh) process: `kind` is bare, bare-unsandboxed,
    reference or whole."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server"),
        data_converter=data_converter(Keyring.parse(new_key())),
    )
    books = PlaybookFolder(shipped("playbooks"))
    queue = f"bench-memory-{uuid.uuid4().hex[:6]}"
    cache = 2 * (leads + WARM)
    try:
        await ensure_search_attributes(env.client)
        if kind.startswith("bare"):
            bare = UnsandboxedBareLead if kind == "bare-unsandboxed" else BareLead
            async with Worker(
                env.client,
                task_queue=queue,
                workflows=[bare],
                workflow_runner=SANDBOX,
                max_cached_workflows=cache,
            ):

                async def bare_lead() -> None:
                    handle = await env.client.start_workflow(
                        bare.run, uuid.uuid4().hex, id=uuid.uuid4().hex, task_queue=queue
                    )
                    await handle.query(bare.ready)

                return await _per_lead(bare_lead, leads)
        # The in-memory store keeps every decision; the bench forgets them (a real store is
        # PostgreSQL, not the worker's memory).
        store = MemoryStoreActivities()
        async with build_worker(
            env.client, None, queue, activities=store, max_cached_workflows=cache
        ):
            client = LeadflowClient(env.client, queue, playbooks=books, sends_task_queue=queue)

            async def by_reference() -> None:
                await client.ensure_lead(_ensure(books, name))
                store.decisions.clear()

            async def whole() -> None:
                ensure = _ensure(books, name)
                handle = await env.client.start_workflow(
                    LeadWorkflow.run,
                    LeadInput(ensure=ensure, playbook=books.get(name), sends_task_queue=queue),
                    id=ensure.lead.workflow_id,
                    task_queue=queue,
                )
                await handle.query(LeadWorkflow.state)
                store.decisions.clear()

            return await _per_lead(by_reference if kind == "reference" else whole, leads)
    finally:
        await env.shutdown()


async def _measured(kind: str, name: str, leads: int) -> float:
    """`_memory` in a process of its own, so no figure inherits another's heap."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.private_history",
        "--memory",
        kind,
        name,
        str(leads),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await child.communicate()
    figure: float = float(out.decode().strip().splitlines()[-1])
    return figure


async def main(leads: int = 300) -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server"),
        data_converter=data_converter(Keyring.parse(new_key())),
    )
    books = PlaybookFolder(shipped("playbooks"))
    try:
        print(f"start input and worker memory per cached running lead ({leads} leads each)")
        bare = await _input_bytes(env.client, "lead-0123456789")  # its lead's id
        print(f"{'bare workflow':<34} input {bare / 1024:7.2f} KB")
        for name in PLAYBOOKS:
            ensure = _ensure(books, name)
            book = books.get(name)
            by_ref = LeadInput(ensure=ensure, playbook_ref=SHELF.put(book))
            whole = LeadInput(ensure=ensure, playbook=book)
            ref_kb = await _input_bytes(env.client, by_ref) / 1024
            before_kb = await _input_bytes(pydantic_data_converter, whole) / 1024
            print(
                f"{name:<20} by reference  input {ref_kb:7.2f} KB   (whole and unsealed, as "
                f"before: {before_kb:6.2f} KB)"
            )
    finally:
        await env.shutdown()
    sandboxed = await _measured("bare", "-", leads)
    unsandboxed = await _measured("bare-unsandboxed", "-", leads)
    print(
        f"{'bare workflow':<34} memory {sandboxed:7.1f} KB/lead (sandboxed, the SDK's default;"
        f" outside the sandbox, as LeadWorkflow runs: {unsandboxed:.1f})"
    )
    for name in ("isa", "mortgage"):
        ref_kb = await _measured("reference", name, leads)
        whole_kb = await _measured("whole", name, leads)
        print(
            f"{name:<20} by reference  memory {ref_kb:7.1f} KB/lead   (whole, as before: "
            f"{whole_kb:6.1f} KB/lead)"
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--memory"]:
        kind, name, count = sys.argv[2], sys.argv[3], int(sys.argv[4])
        print(asyncio.run(_memory(kind, name, count)))
    else:
        asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 300))
