"""Fixtures for the shared plumbing's tests against the machine's real Redis and PostgreSQL.

Each test gets its own stream prefix and schema prefix, and removes its keys and schemas,
so runs in parallel do not see each other. Timings are shrunk through settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from functools import partial

import asyncpg
import pytest

from services.common.db import create_pool, migrate
from services.common.settings import Settings
from tests.support.infra import drop_schema
from tests.support.platform import isolated_settings

SERVICE = "svc"


@pytest.fixture
def settings_factory() -> Callable[[], Settings]:
    """The shared `settings` fixture (tests/integration/conftest.py) with this directory's
    timings: a reclaim quick enough for the bus's redelivery tests. Its cleanup removes the
    test's keys; `schema` below drops the schema it migrated."""
    return partial(
        isolated_settings,
        consumer_block_ms=100,
        consumer_max_records=10,
        reclaim_idle_ms=300,
        reclaim_poll_ms=100,
        max_deliveries=3,
        outbox_poll_s=0.2,
        outbox_backoff_initial_s=0.05,
        outbox_backoff_max_s=0.2,
        graceful_timeout_s=5.0,
    )


@pytest.fixture
async def schema(settings: Settings) -> AsyncIterator[str]:
    """The service schema with the plumbing tables (outbox, inbox) migrated in."""
    name = settings.schema_of(SERVICE)
    await migrate(settings.database_url, name, None)
    yield name
    await drop_schema(settings.database_url, name)


@pytest.fixture
async def pool(settings: Settings, schema: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(settings.database_url, schema, min_size=1, max_size=6)
    yield pool
    await pool.close()
