"""Fixtures every integration test directory shares, against the machine's real Redis and
PostgreSQL: settings isolated per test (a stream prefix and a schema prefix of its own,
timings shrunk) whose keys and schemas are removed afterwards, and a Redis client on them.

A directory that needs other settings overrides `settings_factory` in its own conftest
(common: its own timings; notify: NotifySettings); `settings` and `redis` stay these."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from services.common.settings import Settings
from tests.support.platform import cleanup, isolated_settings


@pytest.fixture
def settings_factory() -> Callable[[], Settings]:
    """Builds the test's settings; each call gives new, unique prefixes."""
    return isolated_settings


@pytest.fixture
async def settings(settings_factory: Callable[[], Settings]) -> AsyncIterator[Settings]:
    settings = settings_factory()
    yield settings
    await cleanup(settings)


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = Redis.from_url(settings.redis_url)
    yield client
    await client.aclose()
