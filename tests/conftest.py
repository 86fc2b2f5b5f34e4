"""What every tier shares: the tier markers, `--lead-hours` and `place`, Temporal's
time-skipping server.

Services start only for the tests that ask for them: PostgreSQL, the fake providers and
the dev server are fixtures in tests/services.py, loaded here as a plugin, each started on
first use. `pytest tests/unit` starts none; `pytest tests/workflow` starts the time-skipping
server alone (the workflow tier's worker keeps its records in memory).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import settings
from temporalio.testing import WorkflowEnvironment

from leadflow.paths import binary
from leadflow.temporal import ensure_search_attributes
from tests.keys import CONVERTER
from tests.places import COUNTRIES, DEFAULT_HOURS, Place, hours_option

pytest_plugins = ["tests.services"]

# Imported here rather than lazily by its pytest plugin at the end of the run, where
# CPython 3.11.7's parser can fail on deep stacks ("AST constructor recursion depth").
settings.register_profile("ci", deadline=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")
# Processes the tests start (the dev stack, workers) text the places' countries too.
os.environ.setdefault("SMS_COUNTRIES", json.dumps(COUNTRIES))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--lead-hours",
        default=",".join(map(str, DEFAULT_HOURS)),
        help="local hours (0-23, comma-separated) at which tests that take `place` put "
        "their leads; each such test runs once per hour (default: %(default)s)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "place" in metafunc.fixturenames:
        try:
            hours = hours_option(metafunc.config.getoption("--lead-hours"))
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None
        metafunc.parametrize("lead_hour", hours, ids=[f"{h:02d}h" for h in hours])


TIERS = ("unit", "workflow", "integration", "system")
_FIGURES: list[str] = []


@pytest.fixture
def report() -> Callable[[str], None]:
    """Add a line to the run's closing summary (what a fault lost and duplicated, say),
    which pytest prints even when it captures the tests' output."""
    return _FIGURES.append


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _FIGURES:
        terminalreporter.section("figures")
        for line in _FIGURES:
            terminalreporter.write_line(line)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test is marked with its tier, the folder it sits in (see pyproject's markers)."""
    for item in items:
        tier = item.path.parent.name
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture
def place(lead_hour: int) -> Place:
    """A zone where it is `lead_hour`:xx now, with phones that ring there (tests/places.py)."""
    return Place.where_it_is(lead_hour)


@pytest_asyncio.fixture
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """Temporal's time-skipping test server: days pass in milliseconds.

    One per test (it starts in ~0.1 s): skipping time wakes every workflow on the server,
    and leads left by earlier tests would have no worker to run them.
    """
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server"),
        data_converter=CONVERTER,
    )
    await ensure_search_attributes(env.client)
    yield env
    await env.shutdown()
