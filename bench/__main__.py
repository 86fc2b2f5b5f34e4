"""Run every benchmark in turn."""

import asyncio

from bench import history, lead_updates

asyncio.run(history.main())
asyncio.run(lead_updates.main())
