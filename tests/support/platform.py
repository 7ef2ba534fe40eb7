"""Running services in-process for integration tests: settings isolated per test (own stream
and schema prefixes), an app's lifespan, an HTTP client, and cleanup."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from services.common.principal import Role
from services.common.settings import Settings
from services.common.tokens import issue_token
from tests.support.infra import DATABASE_URL, REDIS_URL, delete_keys, drop_schema, unique_suffix

AUTH_SECRET = "integration-" + "0123456789abcdef" * 4
SERVICES = ("intake", "evidence", "scoring", "notify", "web")  # schemas dropped by cleanup


def isolated_settings(**overrides: Any) -> Settings:
    suffix = unique_suffix()
    values: dict[str, Any] = {
        "database_url": DATABASE_URL,
        "redis_url": REDIS_URL,
        "stream_prefix": f"{suffix}.",
        "schema_prefix": f"{suffix}_",
        "auth_secret": AUTH_SECRET,
        "consumer_block_ms": 100,
        "reclaim_idle_ms": 1_000,
        "reclaim_poll_ms": 200,
        "max_deliveries": 3,
        "outbox_poll_s": 0.2,
        "outbox_backoff_initial_s": 0.05,
        "outbox_backoff_max_s": 0.5,
        "graceful_timeout_s": 5.0,
        "log_json": False,
    }
    values.update(overrides)
    return Settings(**values)


def token(role: Role, region: str = "62.10", agency: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(AUTH_SECRET, role, region, agency)}"}


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan (migrations, pool, relay, consumers) and a client for it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=30) as client:
            yield client


async def cleanup(settings: Settings) -> None:
    from redis.asyncio import Redis

    redis = Redis.from_url(settings.redis_url)
    try:
        await delete_keys(redis, settings.stream_prefix)
    finally:
        await redis.aclose()
    for service in SERVICES:
        await drop_schema(settings.database_url, settings.schema_of(service))
