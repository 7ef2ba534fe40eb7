"""Transactional outbox and relay against the real PostgreSQL and Redis."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from services.common import events as ev
from services.common.bus import make_redis
from services.common.db import create_pool
from services.common.outbox import OutboxRelay, enqueue
from services.common.settings import Settings
from tests.support import events as samples
from tests.support.infra import RedisServer, wait_until

pytestmark = pytest.mark.integration


def relay_for(settings: Settings, pool: asyncpg.Pool, redis: Redis, schema: str, **kw: object) -> OutboxRelay:
    relay = OutboxRelay.from_settings(settings, pool, redis, service="svc")
    assert relay.schema == schema
    for name, value in kw.items():
        setattr(relay, name, value)
    return relay


async def stream_events(redis: Redis, key: str) -> list[ev.Envelope]:
    return [ev.from_entry(fields) for _, fields in await redis.xrange(key)]


async def unpublished(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        return await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")


async def enqueue_committed(pool: asyncpg.Pool, events: list[ev.Envelope]) -> None:
    async with pool.acquire() as conn, conn.transaction():
        for event in events:
            await enqueue(conn, event)


async def test_relay_publishes_exactly_what_was_committed_in_order(
    settings: Settings, pool: asyncpg.Pool, redis: Redis, schema: str
) -> None:
    committed = [samples.innovation(version=v) for v in (1, 2, 3)]
    rolled_back = samples.innovation("innovation.withdrawn", version=4)
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE business (id int PRIMARY KEY)")
        async with conn.transaction():
            await conn.execute("INSERT INTO business VALUES (1)")
            for event in committed[:2]:
                await enqueue(conn, event)
        with pytest.raises(RuntimeError, match="validation failed"):
            async with conn.transaction():
                await conn.execute("INSERT INTO business VALUES (2)")
                await enqueue(conn, rolled_back)
                raise RuntimeError("validation failed")  # the request fails: nothing stays
        async with conn.transaction():
            await enqueue(conn, committed[2])

    relay = relay_for(settings, pool, redis, schema)
    assert await relay.publish_batch() == 3
    assert await relay.publish_batch() == 0  # nothing is published twice

    key = settings.stream(ev.INTAKE_STREAM)
    assert await stream_events(redis, key) == committed
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT event_id, entry_id, published_at FROM outbox ORDER BY id")
        assert await conn.fetchval("SELECT count(*) FROM business") == 1
    entry_ids = [entry_id.decode() for entry_id, _ in await redis.xrange(key)]
    assert [r["entry_id"] for r in rows] == entry_ids
    assert [r["event_id"] for r in rows] == [e.event_id for e in committed]
    assert all(r["published_at"] is not None for r in rows)
    assert await relay.backlog() == 0


async def test_enqueue_refuses_outside_a_transaction_or_an_unknown_stream(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="inside the transaction"):
            await enqueue(conn, samples.innovation())
        with pytest.raises(ValueError, match="unknown stream"):
            async with conn.transaction():
                await enqueue(conn, samples.innovation(), "t1.intake.events")


async def test_running_relay_is_woken_by_notify_at_commit(
    settings: Settings, pool: asyncpg.Pool, redis: Redis, schema: str
) -> None:
    # Polling every 30 s: only the NOTIFY from the outbox trigger can make this fast.
    relay = relay_for(settings, pool, redis, schema, poll_interval=30.0)
    await relay.start()
    try:
        await asyncio.sleep(0.3)  # let it LISTEN and go idle
        await enqueue_committed(pool, [samples.evidence()])
        key = settings.stream(ev.EVIDENCE_STREAM)
        await wait_until(lambda: redis.xlen(key), timeout=3.0)
    finally:
        await relay.stop()
    assert not relay.running


async def test_relay_survives_redis_being_down_and_loses_nothing(
    settings: Settings, pool: asyncpg.Pool, schema: str
) -> None:
    server = RedisServer()  # the test's own Redis; not started yet = connection refused
    client = make_redis(server.url, socket_connect_timeout=0.5)
    relay = relay_for(settings, pool, client, schema)
    key = settings.stream(ev.INTAKE_STREAM)
    try:
        await relay.start()
        first = [samples.innovation(version=v) for v in range(1, 6)]
        for event in first:
            await enqueue_committed(pool, [event])
        await asyncio.sleep(0.8)  # several failed rounds with backoff
        assert relay.running
        assert await unpublished(pool) == 5
        assert REGISTRY.get_sample_value("inovasi_outbox_backlog", {"schema": schema}) == 5

        server.start()
        await wait_until(lambda: _has_len(client, key, 5), timeout=5.0)
        assert await stream_events(client, key) == first
        await wait_until(lambda: _backlog_is(pool, 0), timeout=2.0)

        # Down again while writes go on, then back (empty: the test server keeps no data).
        server.stop()
        second = [samples.innovation(version=v) for v in range(6, 9)]
        await enqueue_committed(pool, second)
        await asyncio.sleep(0.5)
        assert await unpublished(pool) == 3
        server.start()
        await wait_until(lambda: _has_len(client, key, 3), timeout=5.0)
        assert await stream_events(client, key) == second
    finally:
        await relay.stop()
        await client.aclose()
        server.close()


async def _has_len(client: Redis, key: str, n: int) -> bool:
    try:
        return await client.xlen(key) == n
    except Exception:
        return False


async def _backlog_is(pool: asyncpg.Pool, n: int) -> bool:
    return await unpublished(pool) == n


async def test_concurrent_relays_publish_each_row_once(
    settings: Settings, pool: asyncpg.Pool, redis: Redis, schema: str
) -> None:
    events = [samples.innovation(innovation_id=f"inn-{i}") for i in range(60)]
    await enqueue_committed(pool, events)
    relays = [relay_for(settings, pool, redis, schema, batch_size=7) for _ in range(3)]

    async def drain(relay: OutboxRelay) -> int:
        total = 0
        while n := await relay.publish_batch():
            total += n
        return total

    counts = await asyncio.gather(*(drain(r) for r in relays))
    assert sum(counts) == 60
    published = await stream_events(redis, settings.stream(ev.INTAKE_STREAM))
    assert sorted(e.event_id for e in published) == sorted(e.event_id for e in events)


async def test_purge_deletes_only_rows_published_before_the_retention(
    settings: Settings, pool: asyncpg.Pool, redis: Redis, schema: str
) -> None:
    relay = relay_for(settings, pool, redis, schema)
    await enqueue_committed(pool, [samples.innovation(), samples.innovation()])
    await relay.publish_batch()
    await enqueue_committed(pool, [samples.innovation()])
    assert await relay.purge() == 0  # within retention
    relay.retention_s = 0
    assert await relay.purge() == 2
    assert await unpublished(pool) == 1


async def test_a_woken_relay_lets_commits_gather_and_publishes_them_in_one_round(
    settings: Settings, pool: asyncpg.Pool, redis: Redis, schema: str
) -> None:
    """Wake-ups are debounced: the commits of the coalescing window go out in one round (four
    PostgreSQL round trips however many rows), and no round counts the backlog."""
    relay = relay_for(settings, pool, redis, schema, poll_interval=30.0, coalesce_s=1.0)
    rounds: list[int] = []
    backlog_counts: list[int] = []
    publish_batch, backlog = relay.publish_batch, relay.backlog

    async def counted_publish() -> int:
        rounds.append(await publish_batch())
        return rounds[-1]

    async def counted_backlog() -> int:
        backlog_counts.append(await backlog())
        return backlog_counts[-1]

    relay.publish_batch, relay.backlog = counted_publish, counted_backlog  # type: ignore[method-assign]
    await relay.start()
    try:
        await wait_until(lambda: _true(len(rounds) == 1), timeout=5)  # the first round: nothing yet
        events = [samples.innovation(innovation_id=f"inn-{n}") for n in range(5)]
        for event in events:  # five commits, five NOTIFYs, well within the window
            await enqueue_committed(pool, [event])
        key = settings.stream(ev.INTAKE_STREAM)
        await wait_until(lambda: _has_len(redis, key, 5), timeout=10)
    finally:
        await relay.stop()
    assert 5 in rounds[1:3]  # the five rows in one round (a NOTIFY of that window may add an empty one)
    assert backlog_counts == [0]  # sampled once after the first round, not after every one


async def _true(value: bool) -> bool:
    return value


async def test_rows_a_dead_relay_leased_are_published_once_its_lease_runs_out(
    settings: Settings, pool: asyncpg.Pool, redis: Redis, schema: str
) -> None:
    events = [samples.innovation(version=v) for v in range(1, 5)]
    await enqueue_committed(pool, events)
    async with pool.acquire() as conn:  # a relay claimed the first two, then was killed
        await conn.execute(
            "UPDATE outbox SET lease_until = now() + interval '1 second'"
            " WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT 2)"
        )
    relay = relay_for(settings, pool, redis, schema)
    key = settings.stream(ev.INTAKE_STREAM)

    assert await relay.publish_batch() == 2  # only the rows no one holds
    assert await relay.publish_batch() == 0
    assert [e.version for e in await stream_events(redis, key)] == [3, 4]

    await asyncio.sleep(1.1)
    assert await relay.publish_batch() == 2
    assert [e.version for e in await stream_events(redis, key)] == [3, 4, 1, 2]  # once each
    assert await unpublished(pool) == 0


async def test_a_round_is_two_statements_however_many_rows_it_carries(
    settings: Settings, schema: str, redis: Redis
) -> None:
    statements: list[str] = []
    pool = await create_pool(settings.database_url, schema, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            conn.add_query_logger(lambda record: statements.append(record.query))
        relay = relay_for(settings, pool, redis, schema)
        await enqueue_committed(pool, [samples.innovation(version=1)])
        assert await relay.publish_batch() == 1  # the first use of a statement also looks up its types
        await enqueue_committed(pool, [samples.innovation(version=v) for v in range(2, 32)])
        statements.clear()
        assert await relay.publish_batch() == 30
        assert len(statements) == 2, [s[:60] for s in statements]
        assert await relay.publish_batch() == 0
        assert len(statements) == 3  # a round that finds nothing is one statement
    finally:
        await pool.close()
