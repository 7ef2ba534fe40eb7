"""How a service is assembled and run, the same way for all four.

A service describes itself with a `ServiceSpec`: its name, its migrations, how it builds its
typed dependencies from what every service opens (`Infrastructure`: settings, schema,
PostgreSQL pool, Redis, outbox relay, the live clients' fan-out), which streams it consumes, and its extra readiness
checks. `ServiceRuntime.start()` migrates its schema (under an advisory lock), opens
PostgreSQL and Redis, catches up with `web.events` and keeps following it (disabled accounts
and revoked tokens: `runtime.revocations`, which authentication checks), builds the
dependencies, starts the outbox relay and the stream consumers (and samples their groups' lag
and pending entries for /metrics every `stream_sample_s`); `stop()` undoes it in
reverse, letting in-flight work finish (the consumers, the relay and a service's own
background work each for at most INOVASI_GRACEFUL_TIMEOUT_S).
Handlers receive the dependencies (`runtime.deps`), never the runtime.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import asyncpg
from redis.asyncio import Redis

from services.common.bus import EventConsumer, make_redis
from services.common.db import migrate, pool_from_settings
from services.common.fanout import Fanout
from services.common.health import Check, postgres_check, redis_check
from services.common.logging import get_logger
from services.common.metrics import StreamGroupGauges
from services.common.outbox import OutboxRelay
from services.common.revocations import RevocationFollower, Revocations
from services.common.settings import Settings

log = get_logger(__name__)

D = TypeVar("D")
S = TypeVar("S", bound=Settings)


@dataclass(frozen=True)
class Infrastructure(Generic[S]):
    """What every service opens before it builds its own dependencies."""

    settings: S
    schema: str
    pool: asyncpg.Pool
    redis: Redis
    relay: OutboxRelay | None  # None for a service that publishes nothing
    # Set when the service begins to shut down (before in-flight requests are waited for):
    # long-lived responses such as the live feed end on it.
    stopping: asyncio.Event
    # One reader per stream for every live client of this process (services/common/fanout.py);
    # its subscriptions end when the service begins to shut down.
    fanout: Fanout

    def wake_relay(self) -> None:
        """Publish soon: called after a commit that enqueued events (NOTIFY is a hint too)."""
        if self.relay is not None:
            self.relay.wake()


@dataclass(frozen=True)
class ServiceSpec(Generic[S, D]):
    name: str
    migrations: str | None  # package of NNN_name.sql files
    # Builds the service's typed dependencies; what it opens, it closes on exit.
    dependencies: Callable[[Infrastructure[S]], AbstractAsyncContextManager[D]]
    # Registers the service's stream handlers.
    subscribe: Callable[[EventConsumer, D], None] | None = None
    publishes: bool = True
    checks: Callable[[D], Mapping[str, Check]] = field(default=lambda _deps: {})


class ServiceRuntime(Generic[D]):
    # How often the lag and pending entries of the groups the service consumes are sampled
    # (inovasi_stream_lag, inovasi_stream_pending); set on an instance before start() to change.
    STREAM_SAMPLE_S = 5.0

    def __init__(self, spec: ServiceSpec[S, D], settings: S) -> None:
        self.spec = spec
        self.stream_sample_s = self.STREAM_SAMPLE_S
        self.settings = settings
        self.name = spec.name
        self._stack: AsyncExitStack | None = None
        self._infrastructure: Infrastructure[Any] | None = None
        self._deps: D | None = None
        self.checks: dict[str, Check] = {}
        self.stopping = asyncio.Event()
        # Disabled accounts and revoked tokens, from web.events (kept across restarts: the
        # follower replays the stream from its start, and applying an event twice is harmless).
        self.revocations = Revocations()
        self._fanout: Fanout | None = None

    @property
    def schema(self) -> str:
        return self.settings.schema_of(self.name)

    @property
    def deps(self) -> D:
        if self._deps is None:
            raise RuntimeError(f"the {self.name} service is not started")
        return self._deps

    @property
    def pool(self) -> asyncpg.Pool:
        return self._started().pool

    @property
    def redis(self) -> Redis:
        return self._started().redis

    def _started(self) -> Infrastructure[Any]:
        if self._infrastructure is None:
            raise RuntimeError(f"the {self.name} service is not started")
        return self._infrastructure

    def begin_shutdown(self) -> None:
        """The server is about to stop: end long-lived responses now, so it need not wait."""
        self.stopping.set()
        if self._fanout is not None:
            self._fanout.end_subscriptions()

    async def start(self) -> None:
        self.stopping.clear()
        spec, settings = self.spec, self.settings
        await migrate(settings.database_url, self.schema, spec.migrations)
        async with AsyncExitStack() as stack:
            pool = await pool_from_settings(settings, self.name)
            stack.push_async_callback(pool.close)
            redis = make_redis(settings.redis_url, max_connections=settings.redis_max_connections)
            stack.push_async_callback(redis.aclose)
            follower = RevocationFollower.from_settings(settings, self.revocations)
            await follower.start()
            stack.push_async_callback(follower.stop)
            relay = None
            if spec.publishes:  # on connections of its own: no number of live clients can starve it
                relay_redis = make_redis(settings.redis_url)
                stack.push_async_callback(relay_redis.aclose)
                relay = OutboxRelay.from_settings(settings, pool, relay_redis, service=self.name)
            self._fanout = fanout = Fanout.from_settings(settings)
            stack.push_async_callback(fanout.aclose)
            infrastructure = Infrastructure(settings, self.schema, pool, redis, relay, self.stopping, fanout)
            deps = await stack.enter_async_context(spec.dependencies(infrastructure))
            if relay is not None:
                await relay.start()
                stack.push_async_callback(relay.stop)
            if spec.subscribe is not None:
                consumer = EventConsumer(settings, service=self.name, pool=pool)
                spec.subscribe(consumer, deps)
                await consumer.start()
                stack.push_async_callback(consumer.stop)  # stopped first: in-flight events finish
                # The groups' lag and pending entries, on a connection of its own (the HTTP
                # pool's clients cannot starve it); stopped before the consumers.
                gauges_redis = make_redis(
                    settings.redis_url, socket_timeout=2.0, client_name=f"inovasi-stream-gauges:{self.name}"
                )
                stack.push_async_callback(gauges_redis.aclose)
                gauges = StreamGroupGauges(
                    gauges_redis,
                    [(sub.stream, sub.group) for sub in consumer.subscriptions],
                    stream_prefix=settings.stream_prefix,
                    interval_s=self.stream_sample_s,
                )
                await gauges.start()
                stack.push_async_callback(gauges.stop)
            self.checks = {"postgres": postgres_check(pool), "redis": redis_check(redis), **spec.checks(deps)}
            self._infrastructure, self._deps = infrastructure, deps
            self._stack = stack.pop_all()
        log.info("service started", service=self.name, schema=self.schema)

    async def stop(self) -> None:
        self.begin_shutdown()
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()
        self._infrastructure, self._deps, self.checks = None, None, {}
        log.info("service stopped", service=self.name)

