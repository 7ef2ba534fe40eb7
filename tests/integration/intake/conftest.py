"""Fixtures for intake's integration tests: a running intake app on its own schema and
stream prefix (real PostgreSQL and Redis), its client, and a Redis client to read the stream."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from services.intake.app import create_app
from tests.support.platform import cleanup, isolated_settings, running


@pytest.fixture
async def settings():
    settings = isolated_settings()
    yield settings
    await cleanup(settings)


@pytest.fixture
async def app(settings):
    return create_app(settings)


@pytest.fixture
async def client(app):
    async with running(app) as client:
        yield client


@pytest.fixture
async def redis(settings):
    redis = Redis.from_url(settings.redis_url)
    yield redis
    await redis.aclose()
