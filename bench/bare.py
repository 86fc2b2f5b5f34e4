"""The baseline workflows the benchmarks compare a lead with, on the same server in the same run."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow


@workflow.defn
class BareLead:
    @workflow.run
    async def run(self, lead_id: str) -> None:
        await workflow.sleep(timedelta(days=60))

    @workflow.query
    def ready(self) -> bool:
        return True


@workflow.defn(sandboxed=False)
class UnsandboxedBareLead(BareLead):
    """The same, outside the sandbox, as LeadWorkflow runs."""

    @workflow.run
    async def run(self, lead_id: str) -> None:
        await super().run(lead_id)


@workflow.defn
class BareTouches:
    """bare: sleeps until the burst, then one no-op activity per touch, all at once."""

    @workflow.run
    async def run(self, due: datetime, touches: int) -> None:
        await workflow.sleep(max(due - workflow.now(), timedelta(0)))
        await asyncio.gather(
            *(
                workflow.execute_activity(
                    "bare_touch", touch, start_to_close_timeout=timedelta(seconds=30)
                )
                for touch in range(touches)
            )
        )


@workflow.defn
class BareIOTouches:
    """bare_io: sleeps until the burst, then one activity writing the touches' rows, then
    each message through the provider's SDK on the sends queue."""

    @workflow.run
    async def run(self, due: datetime, lead: str, sends_queue: str) -> None:
        await workflow.sleep(max(due - workflow.now(), timedelta(0)))
        await workflow.execute_activity(
            "bare_write", lead, start_to_close_timeout=timedelta(seconds=30)
        )
        await asyncio.gather(
            *(
                workflow.execute_activity(
                    "bare_send",
                    args=[lead, channel],
                    task_queue=sends_queue,
                    start_to_close_timeout=timedelta(seconds=60),
                )
                for channel in ("sms", "email")
            )
        )


@workflow.defn
class BareSignalToText:
    """The bare latency path: each signal runs one text through the provider's SDK."""

    def __init__(self) -> None:
        self._pending: list[str] = []
        self._done = False

    @workflow.run
    async def run(self, sends_queue: str) -> None:
        while not self._done:
            await workflow.wait_condition(lambda: bool(self._pending) or self._done)
            while self._pending:
                await self._text(self._pending.pop(0), sends_queue)

    async def _text(self, lead: str, sends_queue: str) -> None:
        await workflow.execute_activity(
            "bare_send",
            args=[lead, "sms"],
            task_queue=sends_queue,
            start_to_close_timeout=timedelta(seconds=60),
        )

    @workflow.signal
    def text(self, lead: str) -> None:
        self._pending.append(lead)

    @workflow.signal
    def finish(self) -> None:
        self._done = True


@workflow.defn
class BareIOSignalToText(BareSignalToText):
    """The same path doing the durable work a lead's does: each signal writes its rows in
    the workflow task (a local activity, one INSERT), then runs the text."""

    @workflow.run
    async def run(self, sends_queue: str) -> None:
        await super().run(sends_queue)

    async def _text(self, lead: str, sends_queue: str) -> None:
        await workflow.execute_local_activity(
            "bare_write", lead, start_to_close_timeout=timedelta(seconds=30)
        )
        await super()._text(lead, sends_queue)
