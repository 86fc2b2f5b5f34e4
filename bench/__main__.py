"""Run every benchmark in turn."""

import asyncio

from bench import lead_updates

asyncio.run(lead_updates.main())
