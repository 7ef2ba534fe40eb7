"""`/healthz`, `/readyz` and `/metrics` for every service.

    app.include_router(health_router({
        "redis": redis_check(redis), "postgres": postgres_check(pool), "s3": s3_check(minio, bucket),
    }))

/healthz: the process answers (liveness; no dependency checks, so an outage does not get
every replica restarted). /readyz: every check passes within `timeout` (200) or not (503,
with each failing check's error).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

if TYPE_CHECKING:
    import asyncpg
    from redis.asyncio import Redis

Check = Callable[[], Awaitable[object]]


def redis_check(redis: Redis) -> Check:
    async def check() -> None:
        await redis.ping()

    return check


def postgres_check(pool: asyncpg.Pool) -> Check:
    async def check() -> None:
        async with pool.acquire() as conn:
            await conn.fetchval("SELECT 1")

    return check


def s3_check(client: Any, bucket: str) -> Check:
    """For a (sync) minio.Minio client: the bucket must exist."""

    async def check() -> None:
        if not await asyncio.to_thread(client.bucket_exists, bucket):
            raise RuntimeError(f"bucket {bucket!r} does not exist")

    return check


async def run_check(check: Check, timeout: float) -> str | None:
    """None when the check passes within `timeout`, else what went wrong (never raises)."""
    try:
        await asyncio.wait_for(check(), timeout)
    except TimeoutError:
        return f"timed out after {timeout}s"
    except Exception as exc:
        return repr(exc)[:300]
    return None


def health_router(
    checks: Mapping[str, Check],
    *,
    timeout: float = 2.0,
    registry: CollectorRegistry = REGISTRY,
) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    readiness = {
        "content": {"application/json": {"schema": {
            "type": "object", "required": ["status", "checks"],
            "properties": {
                "status": {"type": "string", "enum": ["ready", "unavailable"]},
                "checks": {"type": "object", "additionalProperties": {"type": "string"},
                           "description": "each check: ok, or its error"},
            },
        }}},
    }

    @router.get("/readyz", responses={
        200: {"description": "every check passes", **readiness},
        503: {"description": "a check fails", **readiness},
    })
    async def readyz() -> JSONResponse:
        names = list(checks)
        errors = await asyncio.gather(*(run_check(checks[name], timeout) for name in names))
        results = {name: (error or "ok") for name, error in zip(names, errors, strict=True)}
        ready = all(error is None for error in errors)
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", "checks": results},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics", response_class=Response, responses={
        200: {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}},
    })
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
