"""Stream consumers against the real Redis and PostgreSQL: wire format, inbox, reclaimer,
dead letters, replay and graceful shutdown."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest
from faststream.redis import RedisBroker, RedisStreamMessage, StreamSub
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from services.common import events as ev
from services.common.bus import (
    ALL,
    EventConsumer,
    dlq_list,
    dlq_replay,
    ensure_group,
    prune_consumers,
    read_events,
    stream_position,
)
from services.common.ids import current_correlation_id
from services.common.outbox import OutboxRelay, enqueue
from services.common.settings import Settings
from tests.support import events as samples
from tests.support.infra import free_port, wait_until

pytestmark = pytest.mark.integration

GROUP = "svc"
INTAKE = ev.INTAKE_STREAM


@pytest.fixture
async def handled_table(pool: asyncpg.Pool) -> str:
    async with pool.acquire() as conn:
        await conn.execute(
            "CREATE TABLE handled (event_id uuid PRIMARY KEY, type text, subject text, "
            "at timestamptz DEFAULT clock_timestamp())"
        )
    return "handled"


async def record(event: ev.Envelope, conn: asyncpg.Connection) -> None:
    # A plain insert: a second application of one event would violate the primary key.
    await conn.execute(
        "INSERT INTO handled (event_id, type, subject) VALUES ($1, $2, $3)",
        event.event_id, event.type, event.subject,
    )


async def publish(settings: Settings, pool: asyncpg.Pool, redis: Redis, events: list[ev.Envelope]) -> None:
    """The producer's path: outbox in a transaction, then one relay round."""
    async with pool.acquire() as conn, conn.transaction():
        for event in events:
            await enqueue(conn, event)
    relay = OutboxRelay.from_settings(settings, pool, redis, service="svc")
    while await relay.publish_batch():
        pass


async def handled_subjects(pool: asyncpg.Pool) -> list[str]:
    async with pool.acquire() as conn:
        return [r["subject"] for r in await conn.fetch("SELECT subject FROM handled ORDER BY at")]


async def pending(redis: Redis, key: str, group: str = GROUP) -> int:
    return (await redis.xpending(key, group))["pending"]


@pytest.fixture
async def make_consumer(
    settings: Settings, pool: asyncpg.Pool
) -> AsyncIterator[Callable[..., Awaitable[EventConsumer]]]:
    started: list[EventConsumer] = []

    async def make(handler=record, *, stream: str = INTAKE, **kw) -> EventConsumer:
        consumer = EventConsumer(settings, service="svc", pool=pool)
        consumer.subscribe(stream, handler, **kw)
        await consumer.start()
        started.append(consumer)
        return consumer

    yield make
    for consumer in started:
        if consumer.broker.running:
            await consumer.stop()


# --- wire format -------------------------------------------------------------------------


async def test_envelope_round_trip_through_redis_for_group_and_plain_readers(
    settings: Settings, pool: asyncpg.Pool, redis: Redis, schema: str
) -> None:
    events = samples.one_of_each()
    for event in events:  # each on its producer's stream, as the relay writes it
        async with pool.acquire() as conn, conn.transaction():
            await enqueue(conn, event)
    relay = OutboxRelay.from_settings(settings, pool, redis, service="svc")
    assert await relay.publish_batch() == len(events)

    # 1. A plain XREAD reader (the SSE feed): entry id + envelope from the `__data__` field.
    score_key = settings.stream(ev.SCORING_STREAM)
    ((_, entries),) = await redis.xread({score_key: "0"})
    assert [ev.from_entry(fields) for _, fields in entries] == [e for e in events if e.producer == "scoring"]

    # 2. A FastStream group subscriber with its own decoding accepts the plain JSON field.
    intake_key = settings.stream(INTAKE)
    await ensure_group(redis, intake_key, "plain")
    received: list[dict] = []
    broker = RedisBroker(settings.redis_url)

    @broker.subscriber(stream=StreamSub(intake_key, group="plain", consumer="c", max_records=10,
                                        polling_interval=100))
    async def on_event(body: dict, msg: RedisStreamMessage) -> None:
        received.append(body)

    await broker.start()
    try:
        expected = [e for e in events if e.producer == "intake"]
        await wait_until(lambda: _true(len(received) == len(expected)), timeout=5)
    finally:
        await broker.stop()
    assert [ev.parse_event(body) for body in received] == expected
    assert await pending(redis, intake_key, "plain") == 0


async def _true(value: bool) -> bool:
    return value


async def test_fan_out_reader_resumes_from_an_entry_id_and_skips_non_events(
    settings: Settings, redis: Redis
) -> None:
    key = settings.stream(ev.SCORING_STREAM)
    old = samples.score_updated(version=1)
    await redis.xadd(key, ev.to_entry(old))
    start = await stream_position(redis, key)  # a client connecting now: only new events
    assert await read_events(redis, key, start) == (start, [])

    first, second = samples.score_updated(version=2), samples.score_updated(version=3)
    first_id = (await redis.xadd(key, ev.to_entry(first))).decode()
    junk_id = (await redis.xadd(key, {"__data__": "garbage"})).decode()
    second_id = (await redis.xadd(key, ev.to_entry(second))).decode()

    position, events = await read_events(redis, key, start, count=10)
    assert events == [(first_id, first), (second_id, second)]
    assert position == second_id
    # Reconnect with Last-Event-ID = first: exactly what came after it.
    assert await read_events(redis, key, first_id) == (second_id, [(second_id, second)])
    # Only junk after the position: skipped, but the position moves past it.
    assert await read_events(redis, key, first_id, count=1) == (junk_id, [])
    assert (await read_events(redis, key, junk_id))[1] == [(second_id, second)]
    assert await read_events(redis, key, second_id, block_ms=50) == (second_id, [])


# --- consuming ---------------------------------------------------------------------------


async def test_consumer_handles_backlog_from_before_its_group_existed_and_new_entries(
    settings: Settings, pool: asyncpg.Pool, redis: Redis, handled_table: str, make_consumer
) -> None:
    await publish(settings, pool, redis, [samples.innovation(innovation_id="early")])
    consumer = await make_consumer()  # group created now, at id 0: "early" is not missed
    await publish(settings, pool, redis, [samples.innovation(innovation_id="late")])
    await wait_until(lambda: _has(pool, ["early", "late"]), timeout=5)
    await consumer.stop()

    # A new process joins the existing group (FastStream must keep reading ">").
    await publish(settings, pool, redis, [samples.innovation(innovation_id="after-restart")])
    await make_consumer()
    await wait_until(lambda: _has(pool, ["early", "late", "after-restart"]), timeout=5)
    key = settings.stream(INTAKE)
    # XACK follows the commit, so the ack may trail the row by a moment.
    await wait_until(lambda: _pending_is(redis, key, 0), timeout=5)
    async with pool.acquire() as conn:
        inbox = await conn.fetch("SELECT consumer FROM inbox")
    assert [r["consumer"] for r in inbox] == [GROUP] * 3


async def _has(pool: asyncpg.Pool, subjects: list[str]) -> bool:
    return sorted(await handled_subjects(pool)) == sorted(subjects)


async def test_a_redelivered_event_is_applied_once(
    settings: Settings, pool: asyncpg.Pool, redis: Redis, handled_table: str, make_consumer
) -> None:
    event = samples.innovation()
    key = settings.stream(INTAKE)
    for _ in range(3):  # e.g. the relay crashed between XADD and its commit, twice
        await redis.xadd(key, ev.to_entry(event))
    await redis.xadd(key, ev.to_entry(samples.innovation(innovation_id="next")))
    await make_consumer()
    await wait_until(lambda: _has(pool, ["inn-1", "next"]), timeout=5)
    await wait_until(lambda: _pending_is(redis, key, 0), timeout=5)  # duplicates acked too


async def test_a_batched_subscription_applies_a_redelivered_event_once_within_and_across_reads(
    settings: Settings, pool: asyncpg.Pool, redis: Redis, handled_table: str, make_consumer
) -> None:
    event = samples.innovation()
    key = settings.stream(INTAKE)
    for _ in range(3):  # duplicates in one read
        await redis.xadd(key, ev.to_entry(event))
    await make_consumer(batched=True)
    await wait_until(lambda: _has(pool, ["inn-1"]), timeout=5)
    await redis.xadd(key, ev.to_entry(event))  # and in a later read (the inbox has it)
    await redis.xadd(key, ev.to_entry(samples.innovation(innovation_id="next")))
    await wait_until(lambda: _has(pool, ["inn-1", "next"]), timeout=5)
    # `record` inserts with a primary key: a second application would fail and stay pending.
    await wait_until(lambda: _pending_is(redis, key, 0), timeout=5)


async def _pending_is(redis: Redis, key: str, n: int) -> bool:
    return await pending(redis, key) == n


async def test_types_filter_acks_other_types_without_handling(
    settings: Settings, pool: asyncpg.Pool, redis: Redis, handled_table: str, make_consumer
) -> None:
    await make_consumer(types={"innovation.submitted"})
    await publish(settings, pool, redis, [
        samples.innovation("innovation.created", innovation_id="a"),
        samples.innovation("innovation.submitted", innovation_id="b"),
        samples.spd_answer_set(),
    ])
    key = settings.stream(INTAKE)
    await wait_until(lambda: _has(pool, ["b"]), timeout=5)
    await wait_until(lambda: _pending_is(redis, key, 0), timeout=5)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM inbox") == 1


async def test_a_batched_subscription_handles_each_event_of_a_read_in_one_transaction_in_order(
    settings: Settings, pool: asyncpg.Pool, redis: Redis, handled_table: str, make_consumer
) -> None:
    """`subscribe(batched=True)`: the handler sees each new event, in stream order, with that
    event's correlation id bound (what the events it makes carry); a duplicate in the read
    is handled once; the read commits as one transaction."""
    seen: list[tuple[str, str | None, int]] = []

    async def record_bound(event: ev.Envelope, conn: asyncpg.Connection) -> None:
        seen.append((event.subject, current_correlation_id(), await conn.fetchval("SELECT txid_current()")))
        await record(event, conn)

    events = [samples.innovation(innovation_id=f"b{n}", correlation_id=f"corr-{n}") for n in range(5)]
    key = settings.stream(INTAKE)
    for event in [*events[:3], events[1], *events[3:]]:  # a duplicate among them
        await redis.xadd(key, ev.to_entry(event))
    await make_consumer(record_bound, batched=True)
    await wait_until(lambda: _has(pool, [f"b{n}" for n in range(5)]), timeout=5)
    await wait_until(lambda: _pending_is(redis, key, 0), timeout=5)
    assert [(subject, correlation) for subject, correlation, _ in seen] == [(f"b{n}", f"corr-{n}") for n in range(5)]
    assert len({transaction for *_, transaction in seen}) == 1  # one read, one transaction


# --- poison entries, dead letters, replay -----------------------------------------------------


async def test_poison_entry_goes_to_dlq_after_the_cap_while_others_flow_and_replay_brings_it_back(
    settings: Settings, pool: asyncpg.Pool, redis: Redis, handled_table: str, make_consumer
) -> None:
    attempts: list[str] = []
    broken = True

    async def handler(event: ev.Envelope, conn: asyncpg.Connection) -> None:
        attempts.append(event.subject)
        await record(event, conn)  # written, then rolled back by the failure below
        if event.subject == "poison" and broken:
            raise ValueError("cannot score this innovation")

    def dlq_moves() -> float:
        labels = {"stream": INTAKE, "group": GROUP, "reason": "max_deliveries"}
        return REGISTRY.get_sample_value("inovasi_dlq_moves_total", labels) or 0.0

    moves_before = dlq_moves()
    consumer = await make_consumer(handler)
    key = settings.stream(INTAKE)
    await publish(settings, pool, redis, [
        samples.innovation(innovation_id="ok-1"),
        samples.innovation(innovation_id="poison"),
        samples.innovation(innovation_id="ok-2"),
    ])
    # Later entries are not held up by the failing one.
    await wait_until(lambda: _has(pool, ["ok-1", "ok-2"]), timeout=5)
    await publish(settings, pool, redis, [samples.innovation(innovation_id="ok-3")])

    dead = await wait_until(lambda: dlq_list(redis, key), timeout=10)
    assert len(dead) == 1
    letter = dead[0]
    assert letter.group == GROUP
    assert letter.deliveries == settings.max_deliveries
    assert letter.event_type == "innovation.submitted"
    assert ev.from_entry(letter.fields).subject == "poison"
    assert "max_deliveries" in letter.reason and "cannot score this innovation" in letter.reason
    assert attempts.count("poison") == settings.max_deliveries  # capped, not looping
    assert dlq_moves() == moves_before + 1
    await wait_until(lambda: _has(pool, ["ok-1", "ok-2", "ok-3"]), timeout=5)
    await wait_until(lambda: _pending_is(redis, key, 0), timeout=5)  # all acked, poison too
    original_ids = [entry_id.decode() for entry_id, _ in await redis.xrange(key)]
    assert letter.original_id == original_ids[1]

    broken = False  # the bug is fixed and deployed; the operator replays
    new_ids = await dlq_replay(redis, key, letter.entry_id)
    assert len(new_ids) == 1
    await wait_until(lambda: _has(pool, ["ok-1", "ok-2", "ok-3", "poison"]), timeout=5)
    assert await dlq_list(redis, key) == []
    assert consumer.broker.running


async def test_undecodable_entries_go_to_the_dlq_at_once(
    settings: Settings, pool: asyncpg.Pool, redis: Redis, handled_table: str, make_consumer
) -> None:
    key = settings.stream(INTAKE)
    await redis.xadd(key, {"__data__": "not json"})
    await redis.xadd(key, {"something": "else"})
    await redis.xadd(key, {"__data__": '{"type": "innovation.exploded"}'})
    await make_consumer()
    await publish(settings, pool, redis, [samples.innovation(innovation_id="fine")])
    dead = await wait_until(lambda: _at_least(dlq_list(redis, key), 3), timeout=5)
    assert [d.deliveries for d in dead] == [1, 1, 1]  # no retries: they can never succeed
    assert all(d.reason.startswith("undecodable") for d in dead)
    await wait_until(lambda: _has(pool, ["fine"]), timeout=5)
    # XACK follows the commit, so the ack may trail the row by a moment.
    await wait_until(lambda: _pending_is(redis, key, 0), timeout=5)


async def _at_least(listing: Awaitable[list], n: int) -> list | None:
    items = await listing
    return items if len(items) >= n else None


async def test_dlq_replay_all_and_unknown_id(settings: Settings, redis: Redis) -> None:
    key = settings.stream(INTAKE)
    await ensure_group(redis, key, GROUP)
    from services.common.dlq import dead_letter

    events = [samples.innovation(innovation_id=f"i{n}") for n in range(3)]
    for event in events:
        entry_id = await redis.xadd(key, ev.to_entry(event))
        await redis.xreadgroup(GROUP, "c", {key: ">"}, count=1)
        await dead_letter(redis, key, entry_id.decode(), ev.to_entry(event), group=GROUP,
                          deliveries=4, reason="test")
    # XACK follows the commit, so the ack may trail the row by a moment.
    await wait_until(lambda: _pending_is(redis, key, 0), timeout=5)
    assert len(await dlq_list(redis, key)) == 3
    with pytest.raises(LookupError):
        await dlq_replay(redis, key, "1-1")
    assert len(await dlq_replay(redis, key, ALL)) == 3
    assert await dlq_list(redis, key) == []
    replayed = [ev.from_entry(f) for _, f in await redis.xrange(key)][3:]
    assert replayed == events  # same envelopes (same event ids) back in order


async def test_pg_outage_does_not_dead_letter(
    settings: Settings, pool: asyncpg.Pool, redis: Redis, handled_table: str
) -> None:
    """With PostgreSQL unreachable the entry stays pending, whatever the cap (an outage is not
    a poison message): its handler waits for PostgreSQL instead of being delivered again and
    again, and stopping the consumer leaves the entry for the reclaimer."""
    dead_pool = await asyncpg.create_pool("postgresql://root@127.0.0.1:1/postgres", min_size=0)
    strict = settings.model_copy(update={"max_deliveries": 1})  # any failure would dead-letter
    consumer = EventConsumer(strict, service="svc", pool=dead_pool)
    consumer.subscribe(INTAKE, record)
    key = settings.stream(INTAKE)
    await publish(settings, pool, redis, [samples.innovation()])
    await consumer.start()
    try:
        await wait_until(lambda: _delivered_at_least(redis, key, 1), timeout=10)
        await asyncio.sleep(10 * settings.reclaim_idle_ms / 1000)  # many reclaim periods
        assert await dlq_list(redis, key) == []
        assert await pending(redis, key) == 1
        # Waiting, not spinning: the reclaimer took it once at most, then waits too.
        assert not await _delivered_at_least(redis, key, 3)
    finally:
        await consumer.stop()
        await dead_pool.close()
    assert await pending(redis, key) == 1


async def _delivered_at_least(redis: Redis, key: str, n: int) -> bool:
    entries = await redis.xpending_range(key, GROUP, "-", "+", 10)
    return bool(entries) and entries[0]["times_delivered"] >= n


# --- lifecycle ------------------------------------------------------------------------


async def test_stop_finishes_in_flight_work_then_acks(
    settings: Settings, pool: asyncpg.Pool, redis: Redis, handled_table: str
) -> None:
    started = asyncio.Event()

    async def slow(event: ev.Envelope, conn: asyncpg.Connection) -> None:
        started.set()
        await asyncio.sleep(1.0)
        await record(event, conn)

    consumer = EventConsumer(settings, service="svc", pool=pool)
    consumer.subscribe(INTAKE, slow)
    await consumer.start()
    await publish(settings, pool, redis, [samples.innovation()])
    await asyncio.wait_for(started.wait(), 5)
    await consumer.stop()  # while the handler sleeps
    assert await handled_subjects(pool) == ["inn-1"]
    assert await pending(redis, settings.stream(INTAKE)) == 0


async def test_consumer_names_are_unique_and_idle_empty_consumers_are_pruned(
    settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> None:
    a = EventConsumer(settings, service="svc", pool=pool)
    b = EventConsumer(settings, service="svc", pool=pool)
    assert a.name != b.name and a.name.startswith("svc-")
    await a.redis.aclose()
    await b.redis.aclose()

    key = settings.stream(INTAKE)
    await ensure_group(redis, key, GROUP)
    assert await ensure_group(redis, key, GROUP) is False  # BUSYGROUP ignored
    await redis.xadd(key, {"x": "1"})
    await redis.xadd(key, {"x": "2"})
    await redis.xreadgroup(GROUP, "holds-pending", {key: ">"}, count=1)
    ((_, ((entry_id, _),)),) = await redis.xreadgroup(GROUP, "idle-empty", {key: ">"}, count=1)
    await redis.xack(key, GROUP, entry_id)
    await asyncio.sleep(0.05)
    removed = await prune_consumers(redis, key, GROUP, idle_ms=20)
    assert removed == ["idle-empty"]
    names = [c["name"].decode() for c in await redis.xinfo_consumers(key, GROUP)]
    assert names == ["holds-pending"]


async def test_entries_failed_during_a_long_pg_outage_are_handled_when_it_is_over(
    settings: Settings, redis: Redis
) -> None:
    """A real outage of a private PostgreSQL, long enough for entries to be delivered past
    the cap: once it is back they are handled, none is dead-lettered."""
    import shutil
    import tempfile
    from pathlib import Path

    from devtools.embedded import EmbeddedPostgres
    from services.common.db import create_pool, migrate

    # Not pytest's tmp_path (0700): PostgreSQL runs as an unprivileged user under root.
    data_dir = Path(tempfile.mkdtemp(prefix="inovasi-outage-"))
    postgres = EmbeddedPostgres(data_dir, port=free_port())  # the same port after a restart
    dsn = postgres.start()
    schema = settings.schema_of("svc")
    await migrate(dsn, schema, None)
    pool = await create_pool(dsn, schema, min_size=1, max_size=4)
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE handled (event_id uuid PRIMARY KEY, type text, subject text, "
                           "at timestamptz DEFAULT clock_timestamp())")
    # A reclaimer that would take a minute: what is handled sooner was not left to it.
    slow_reclaim = settings.model_copy(update={"reclaim_idle_ms": 60_000})
    consumer = EventConsumer(slow_reclaim, service="svc", pool=pool)
    consumer.subscribe(INTAKE, record)
    key = settings.stream(INTAKE)
    await consumer.start()
    try:
        postgres.stop()
        for k in range(3):
            await redis.xadd(key, ev.to_entry(samples.innovation(innovation_id=f"during-{k}")))
        await wait_until(lambda: _delivered_at_least(redis, key, 1), timeout=20)
        await asyncio.sleep(1.5)  # an outage of a while
        assert await dlq_list(redis, key) == []
        postgres.start()
        restarted = time.monotonic()
        await wait_until(lambda: _has(pool, ["during-0", "during-1", "during-2"]), timeout=30)
        await wait_until(lambda: _pending_is(redis, key, 0), timeout=10)
        # Handled as soon as PostgreSQL answered, not after a reclaimer's idle time.
        assert time.monotonic() - restarted < 2.0
        assert await dlq_list(redis, key) == []
    finally:
        await consumer.stop()
        await pool.close()
        postgres.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
