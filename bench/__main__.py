"""Run every benchmark in turn."""

import asyncio
import importlib

from bench import (
    claims,
    dnc,
    history,
    lead_updates,
    private_history,
    reports,
    routing,
    scale,
    touches,
)

asyncio.run(touches.main())
asyncio.run(history.main())
asyncio.run(private_history.main())
asyncio.run(lead_updates.main())
asyncio.run(claims.main())
asyncio.run(dnc.main())
asyncio.run(routing.main())
asyncio.run(reports.main())
asyncio.run(importlib.import_module("bench.import").main())  # `import` is a keyword
asyncio.run(scale.main())
