"""The API's metrics for Prometheus, served at /metrics.

- `http_requests_total{handler, method, status}` and `http_request_duration_seconds` for
  every endpoint (prometheus-fastapi-instrumentator), the webhooks' verdicts among them:
  a provider webhook answered 403 was refused for its signature;
- `leadflow_claim_seconds{account}`: how long claiming the next call took;
- `leadflow_queue_depth{account, state}`: calls due now, waiting (a hold, calling hours,
  a follow-up time) and claimed, counted at most once every `QUEUE_DEPTH_SECONDS`: a scrape
  within that time reads the last count, and scrapes that arrive together share one query,
  so a flood of scrapes costs the database one GROUP BY per interval.

The series name every account, so only a holder of `METRICS_TOKEN` reads them (see
`routes/ops.py`). Each app has a registry of its own, so several apps in one process never
collide.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Gauge, Histogram
from prometheus_fastapi_instrumentator import Instrumentator
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

QUEUE_DEPTH_SECONDS = 10.0
CLAIM_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
QUEUE_DEPTH = text("""
SELECT account_id,
    CASE WHEN claimed_until >= :now THEN 'claimed'
         WHEN available_at <= :now THEN 'due'
         ELSE 'waiting' END AS state,
    count(*) AS calls
FROM call_queue GROUP BY 1, 2
""")


class ApiMetrics:
    def __init__(self, queue_depth_seconds: float = QUEUE_DEPTH_SECONDS) -> None:
        self.queue_depth_seconds = queue_depth_seconds
        self._counted_at: float | None = None
        self._counting = asyncio.Lock()
        self.registry = CollectorRegistry()
        self.claims = Histogram(
            "leadflow_claim_seconds",
            "time to claim the next call, by account",
            ["account"],
            buckets=CLAIM_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "leadflow_queue_depth",
            "calls in the queue by account and state (due, waiting, claimed)",
            ["account", "state"],
            registry=self.registry,
        )

    def instrument(self, app: FastAPI) -> None:
        Instrumentator(
            registry=self.registry,
            should_group_status_codes=False,  # a webhook's 403 apart from its 204
            excluded_handlers=["/metrics"],
        ).instrument(app)

    async def count_queue(self, engine: AsyncEngine) -> None:
        """Count the queue unless it was counted within `queue_depth_seconds`."""
        async with self._counting:
            if self._fresh():
                return
            await self._count_queue(engine)
            self._counted_at = time.monotonic()

    def _fresh(self) -> bool:
        return (
            self._counted_at is not None
            and time.monotonic() - self._counted_at < self.queue_depth_seconds
        )

    async def _count_queue(self, engine: AsyncEngine) -> None:
        async with engine.connect() as conn:
            rows = (await conn.execute(QUEUE_DEPTH, {"now": datetime.now(UTC)})).all()
        self.queue_depth.clear()
        for account, state, calls in rows:
            self.queue_depth.labels(account, state).set(calls)
