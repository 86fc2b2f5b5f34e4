"""Run every benchmark in turn."""

import asyncio

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
asyncio.run(scale.main())
