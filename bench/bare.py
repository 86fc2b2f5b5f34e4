"""The baseline workflow the benchmarks compare a lead with: ids in, a timer, one query."""

from __future__ import annotations

from datetime import timedelta

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
class UnsandboxedBareLead:
    """The same, outside the sandbox, as LeadWorkflow runs."""

    @workflow.run
    async def run(self, lead_id: str) -> None:
        await workflow.sleep(timedelta(days=60))

    @workflow.query
    def ready(self) -> bool:
        return True
