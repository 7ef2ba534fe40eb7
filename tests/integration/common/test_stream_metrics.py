"""`inovasi_stream_lag` and `inovasi_stream_pending` against real Redis: sampled from XINFO
GROUPS on a timer (services/common/metrics.py `StreamGroupGauges`), for every group a service
consumes (services/common/service.py), through a Redis outage without raising, and removed
at stop."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from services.common import events as ev
from services.common.bus import EventConsumer, ensure_group, make_redis
from services.common.db import Connection
from services.common.metrics import StreamGroupGauges
from services.common.service import Infrastructure, ServiceRuntime, ServiceSpec
from services.common.settings import Settings
from tests.support import events as samples
from tests.support.infra import RedisServer, wait_until

pytestmark = pytest.mark.integration

INTAKE = ev.INTAKE_STREAM
TICK_S = 0.05


def gauge(name: str, stream: str, group: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"stream": stream, "group": group})


def lag_and_pending(group: str, stream: str = INTAKE) -> tuple[float | None, float | None]:
    return gauge("inovasi_stream_lag", stream, group), gauge("inovasi_stream_pending", stream, group)


async def until_sampled(group: str, expected: tuple[float | None, float | None], timeout: float = 5.0) -> None:
    async def sampled() -> bool:
        return lag_and_pending(group) == expected

    await wait_until(sampled, timeout=timeout, interval=0.02)


async def add_entries(redis: Redis, key: str, n: int) -> None:
    for i in range(n):
        await redis.xadd(key, ev.to_entry(samples.innovation(innovation_id=f"inn-{i}")))


@asynccontextmanager
async def sampling(
    url: str, groups: Sequence[tuple[str, str]], settings: Settings
) -> AsyncIterator[StreamGroupGauges]:
    client = make_redis(url, socket_timeout=1.0, socket_connect_timeout=0.5)
    gauges = StreamGroupGauges(client, groups, stream_prefix=settings.stream_prefix, interval_s=TICK_S)
    await gauges.start()
    try:
        yield gauges
    finally:
        await gauges.stop()
        await client.aclose()


async def test_lag_and_pending_of_a_group_follow_reads_and_acks(settings: Settings, redis: Redis) -> None:
    group = f"g-{secrets.token_hex(3)}"
    key = settings.stream(INTAKE)
    await add_entries(redis, key, 5)
    await ensure_group(redis, key, group)  # at id 0: it has all 5 to read
    async with sampling(settings.redis_url, [(INTAKE, group)], settings) as gauges:
        await until_sampled(group, (5, 0))

        read = await redis.xreadgroup(group, "c1", {key: ">"}, count=2)  # read, not acknowledged
        await until_sampled(group, (3, 2))

        await add_entries(redis, key, 4)
        await until_sampled(group, (7, 2))

        ((_, entries),) = read
        await redis.xack(key, group, entries[0][0])
        await redis.xreadgroup(group, "c1", {key: ">"})  # the 7 others
        await until_sampled(group, (0, 8))
        assert gauges.running
    assert lag_and_pending(group) == (None, None)  # removed at stop


async def test_a_stream_or_group_that_disappears_is_no_longer_reported(settings: Settings, redis: Redis) -> None:
    group, other = f"g-{secrets.token_hex(3)}", f"g-{secrets.token_hex(3)}"
    key = settings.stream(INTAKE)
    await add_entries(redis, key, 2)
    await ensure_group(redis, key, group)
    await ensure_group(redis, key, other)
    async with sampling(settings.redis_url, [(INTAKE, group), (INTAKE, other)], settings) as gauges:
        await until_sampled(group, (2, 0))
        await until_sampled(other, (2, 0))
        await redis.xgroup_destroy(key, other)
        await wait_until(lambda: _true(lag_and_pending(other) == (None, None)), timeout=5, interval=0.02)
        assert lag_and_pending(group) == (2, 0)
        await redis.delete(key)
        await until_sampled(group, (None, None))
        assert gauges.running


async def test_a_redis_outage_neither_raises_nor_leaves_stale_figures(settings: Settings) -> None:
    server = RedisServer(appendonly=True)  # the test's own Redis, which it may stop
    server.start()
    admin = Redis.from_url(server.url)
    group = f"g-{secrets.token_hex(3)}"
    key = settings.stream(INTAKE)
    try:
        await add_entries(admin, key, 3)
        await ensure_group(admin, key, group)
        async with sampling(server.url, [(INTAKE, group)], settings) as gauges:
            await until_sampled(group, (3, 0))

            await asyncio.to_thread(server.stop)  # Redis down: the samples fail, quietly
            await until_sampled(group, (None, None))
            await asyncio.sleep(TICK_S * 5)  # several failed ticks
            assert gauges.running
            with pytest.raises(Exception):  # noqa: B017 (whichever connection error)
                await gauges.sample()  # a sample by hand says why; the loop never does

            await asyncio.to_thread(server.start)  # back, with its stream and group (AOF)
            await until_sampled(group, (3, 0), timeout=10)

            await asyncio.to_thread(server.stop)
            began = time.monotonic()
        assert time.monotonic() - began < 3  # stopped promptly, Redis down or not
    finally:
        await admin.aclose()
        server.close()


async def test_a_sampler_that_never_reaches_redis_starts_and_stops(settings: Settings) -> None:
    server = RedisServer()  # never started: connection refused
    group = f"g-{secrets.token_hex(3)}"
    try:
        async with sampling(server.url, [(INTAKE, group)], settings) as gauges:
            await asyncio.sleep(TICK_S * 4)
            assert gauges.running
            assert lag_and_pending(group) == (None, None)
    finally:
        server.close()


async def test_a_service_reports_the_groups_it_consumes(settings: Settings, schema: str, redis: Redis) -> None:
    """The runtime samples every group its consumers read; a handler kept busy holds the
    entries read pending, and the rest wait as lag."""
    release = asyncio.Event()

    async def handle(_event: ev.Envelope, _conn: Connection) -> None:
        await release.wait()

    @asynccontextmanager
    async def no_dependencies(_infrastructure: Infrastructure[Settings]) -> AsyncIterator[None]:
        yield None

    def subscribe(consumer: EventConsumer, _deps: None) -> None:
        consumer.subscribe(INTAKE, handle)

    spec: ServiceSpec[Settings, None] = ServiceSpec(
        name="svc", migrations=None, dependencies=no_dependencies, subscribe=subscribe, publishes=False
    )
    runtime: ServiceRuntime[None] = ServiceRuntime(spec, settings)
    runtime.stream_sample_s = TICK_S
    key = settings.stream(INTAKE)
    await add_entries(redis, key, settings.consumer_max_records + 5)
    await runtime.start()
    try:
        # One read of max_records entries, whose first handler waits: pending; the others: lag.
        await until_sampled("svc", (5, settings.consumer_max_records))
    finally:
        release.set()
        await runtime.stop()
    assert lag_and_pending("svc") == (None, None)


async def _true(value: bool) -> bool:
    return value
