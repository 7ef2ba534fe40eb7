"""/healthz, /readyz and /metrics with real Redis and PostgreSQL checks."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from services.common.bus import make_redis
from services.common.health import health_router, postgres_check, redis_check, s3_check
from services.common.metrics import EVENTS_HANDLED
from tests.support.infra import free_port

pytestmark = pytest.mark.integration


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc")


class FakeMinio:
    def __init__(self, exists: bool) -> None:
        self.exists = exists

    def bucket_exists(self, bucket: str) -> bool:
        return self.exists


async def test_ready_when_every_dependency_answers(redis: Redis, pool: asyncpg.Pool) -> None:
    app = FastAPI()
    app.include_router(health_router({
        "redis": redis_check(redis), "postgres": postgres_check(pool),
        "s3": s3_check(FakeMinio(True), "evidence"),
    }))
    async with client_for(app) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready",
                            "checks": {"redis": "ok", "postgres": "ok", "s3": "ok"}}


async def test_not_ready_names_the_failing_dependency(pool: asyncpg.Pool) -> None:
    down = make_redis(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)

    async def hangs() -> None:
        await asyncio.sleep(10)

    app = FastAPI()
    app.include_router(health_router({
        "redis": redis_check(down), "postgres": postgres_check(pool),
        "s3": s3_check(FakeMinio(False), "evidence"), "slow": hangs,
    }, timeout=0.3))
    try:
        async with client_for(app) as client:
            ready = await client.get("/readyz")
            alive = await client.get("/healthz")
    finally:
        await down.aclose()
    assert alive.status_code == 200  # liveness does not depend on dependencies
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["postgres"] == "ok"
    assert "ConnectionError" in checks["redis"]
    assert "bucket 'evidence' does not exist" in checks["s3"]
    assert checks["slow"] == "timed out after 0.3s"


async def test_metrics_are_exposed_in_prometheus_format() -> None:
    EVENTS_HANDLED.labels("intake.events", "metricstest", "innovation.created", "handled").inc()
    app = FastAPI()
    app.include_router(health_router({}))
    async with client_for(app) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    body = response.text
    assert ('inovasi_events_handled_total{group="metricstest",outcome="handled",'
            'stream="intake.events",type="innovation.created"} 1.0') in body
    for name in ("inovasi_event_failures_total", "inovasi_handler_seconds", "inovasi_dlq_moves_total",
                 "inovasi_outbox_backlog", "inovasi_outbox_published_total"):
        assert f"# TYPE {name}" in body
