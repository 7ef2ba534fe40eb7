"""How a service is assembled and run: its connections, relay and consumers (`ServiceRuntime`)
and its HTTP app (`create_service_app`), the same way for all four services.

Every HTTP error has one shape, so a client always learns which field was wrong and why:

    {"error": "invalid_request", "problems": [{"field": "body.level", "reason": "..."}]}
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.asyncio import Redis
from starlette.exceptions import HTTPException as StarletteHTTPException

from .bus import EventConsumer, make_redis
from .db import migrate, pool_from_settings
from .health import Check, health_router, postgres_check, redis_check
from .logging import CorrelationIdMiddleware, get_logger
from .outbox import OutboxRelay
from .settings import Settings

log = get_logger(__name__)


# --- errors ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    field: str
    reason: str


class ApiError(Exception):
    """A client error with the fields at fault. Raised by handlers; rendered as JSON."""

    def __init__(self, status: int, error: str, problems: Sequence[Problem] = (), **extra: Any):
        super().__init__(error)
        self.status = status
        self.error = error
        self.problems = list(problems)
        self.extra = extra

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error}
        if self.problems:
            body["problems"] = [{"field": p.field, "reason": p.reason} for p in self.problems]
        body.update(self.extra)
        return body


def invalid(field_name: str, reason: str, status: int = 422) -> ApiError:
    return ApiError(status, "invalid_request", [Problem(field_name, reason)])


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", reason=f"{what} not found")


def _location(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": _location(err.get("loc", ())), "reason": str(err.get("msg", "invalid"))}
            for err in exc.errors()
        ]
        return JSONResponse({"error": "invalid_request", "problems": problems}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, dict) else {"error": "http_error", "reason": exc.detail}
        return JSONResponse(detail, status_code=exc.status_code, headers=getattr(exc, "headers", None))


# --- runtime -----------------------------------------------------------------------------

Subscriber = Callable[["ServiceRuntime", EventConsumer], None]
Hook = Callable[["ServiceRuntime"], Awaitable[None]]


@dataclass
class ServiceRuntime:
    """The connections and background work of one service. `start()` migrates its schema
    (under an advisory lock), opens PostgreSQL and Redis, starts the outbox relay and the
    stream consumers; `stop()` undoes it in reverse, letting in-flight work finish."""

    settings: Settings
    name: str
    migrations: str | None  # package of NNN_name.sql files
    subscribe: Subscriber | None = None  # registers the service's stream handlers
    publishes: bool = True
    on_start: Sequence[Hook] = ()
    on_stop: Sequence[Hook] = ()
    pool: asyncpg.Pool = field(init=False)
    redis: Redis = field(init=False)
    relay: OutboxRelay | None = field(init=False, default=None)
    consumer: EventConsumer | None = field(init=False, default=None)
    state: dict[str, Any] = field(init=False, default_factory=dict)  # service's own objects

    @property
    def schema(self) -> str:
        return self.settings.schema(self.name)

    async def start(self) -> None:
        await migrate(self.settings.database_url, self.schema, self.migrations)
        self.pool = await pool_from_settings(self.settings, self.name)
        self.redis = make_redis(self.settings.redis_url)
        for hook in self.on_start:
            await hook(self)
        if self.publishes:
            self.relay = OutboxRelay.from_settings(self.settings, self.pool, self.redis, service=self.name)
            await self.relay.start()
        if self.subscribe is not None:
            self.consumer = EventConsumer(self.settings, service=self.name, pool=self.pool)
            self.subscribe(self, self.consumer)
            await self.consumer.start()
        log.info("service started", service=self.name, schema=self.schema)

    async def stop(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()
        if self.relay is not None:
            await self.relay.stop()
        for hook in self.on_stop:
            await hook(self)
        await self.redis.aclose()
        await self.pool.close()
        log.info("service stopped", service=self.name)

    def wake_relay(self) -> None:
        """Publish soon: called after a commit that enqueued events (NOTIFY is a hint too)."""
        if self.relay is not None:
            self.relay.wake()


def create_service_app(
    runtime: ServiceRuntime,
    routers: Sequence[APIRouter],
    *,
    title: str,
    extra_checks: Mapping[str, Callable[[ServiceRuntime], Check]] | None = None,
) -> FastAPI:
    """The service's ASGI app. Its routes are relative (`/v1/...`); it is mounted under
    `/<service>` by `inovasi up` and `inovasi serve`, so URLs are the same in both."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        checks: dict[str, Check] = {"postgres": postgres_check(runtime.pool), "redis": redis_check(runtime.redis)}
        for name, make in (extra_checks or {}).items():
            checks[name] = make(runtime)
        app.state.checks.update(checks)
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=title, lifespan=lifespan)
    app.state.runtime = runtime
    secret = runtime.settings.auth_secret
    if secret is None:
        raise RuntimeError("INOVASI_AUTH_SECRET is not set: the services refuse to start without it")
    app.state.auth_secret = secret.get_secret_value()
    app.state.checks = {}
    install_error_handlers(app)
    app.add_middleware(CorrelationIdMiddleware)
    app.include_router(health_router(_LazyChecks(app)))
    for router in routers:
        app.include_router(router)
    return app


class _LazyChecks(Mapping[str, Check]):
    """The readiness checks exist only once the lifespan has opened the connections."""

    def __init__(self, app: FastAPI):
        self._app = app

    def __getitem__(self, key: str) -> Check:
        return self._app.state.checks[key]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._app.state.checks)

    def __len__(self) -> int:
        return len(self._app.state.checks)


def runtime_of(request: Request) -> ServiceRuntime:
    """FastAPI dependency: the service's runtime (pool, redis, settings, state)."""
    return request.app.state.runtime
