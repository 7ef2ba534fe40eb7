"""The fan-out hub against real Redis: one reader (and a few connections) for any number of
subscribers, each getting every entry after its position in order; a subscriber that does not
take what it is sent is dropped without holding up the others; a resume is served from memory
when the ring holds it and from Redis when it is older; a Redis outage is reported to the
subscribers and reading resumes where it stopped; ending is prompt."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from contextlib import suppress
from typing import Any

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from services.common import events as ev
from services.common.fanout import Batch, Delivery, Dropped, Idle, StreamHub, StreamItem, StreamUnreachable
from services.common.settings import Settings
from tests.support import events as samples
from tests.support.infra import RedisServer, wait_until

pytestmark = pytest.mark.integration


def entry_ids(item: StreamItem) -> str:
    return item.entry_id


async def publish(redis: Redis, key: str, n: int, *, start: int = 0) -> list[str]:
    ids = []
    for k in range(start, start + n):
        entry = ev.to_entry(samples.spd_answer_set("spd-01", 1 + k % 3, version=k + 1))
        ids.append((await redis.xadd(key, entry)).decode())
    return ids


class Collector:
    """Takes a subscription's deliveries in the background."""

    def __init__(self, deliveries: AsyncGenerator[Delivery[Any]]) -> None:
        self.deliveries = deliveries
        self.items: list[Any] = []
        self.idle: list[Idle] = []
        self.dropped: Dropped | None = None
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for delivery in self.deliveries:
            if isinstance(delivery, Batch):
                self.items.extend(delivery.items)
            elif isinstance(delivery, Idle):
                self.idle.append(delivery)
            else:
                self.dropped = delivery

    async def close(self) -> None:
        self.task.cancel()
        with suppress(asyncio.CancelledError):
            await self.task
        await self.deliveries.aclose()


async def subscribed(hub: StreamHub, after: str | None = None, select: Callable[[StreamItem], Any] = entry_ids,
                     *, idle_s: float = 5.0) -> Collector:
    subscription = await hub.subscribe(select, after=after)
    collector = Collector(subscription.deliveries(idle_s=idle_s))
    await asyncio.sleep(0)  # it registers when first iterated
    return collector


def drops(label: str) -> float:
    return REGISTRY.get_sample_value("inovasi_feed_clients_dropped_total", {"stream": label}) or 0.0


async def connections_named(redis: Redis, prefix: str) -> int:
    return sum(1 for client in await redis.client_list() if client.get("name", "").startswith(prefix))


async def test_one_reader_feeds_every_subscriber_every_entry_in_order(settings: Settings, redis: Redis):
    key = settings.stream("fan.events")
    await publish(redis, key, 3)  # before anyone subscribed: not delivered
    hub = StreamHub(settings.redis_url, key)
    try:
        collectors = [await subscribed(hub) for _ in range(200)]
        await wait_until(lambda: _equals(hub.subscribers, 200))
        ids = await publish(redis, key, 50)
        await wait_until(lambda: _all(len(c.items) == 50 for c in collectors), timeout=20)
        assert all(c.items == ids for c in collectors)
        # One reader and a few connections for subscribing, whatever the number of subscribers.
        assert await connections_named(redis, f"inovasi-fanout-reader:{key}") == 1
        assert await connections_named(redis, f"inovasi-fanout:{key}") <= 4
        for c in collectors:
            await c.close()
        assert hub.subscribers == 0
    finally:
        await hub.aclose()


async def test_routed_subscribers_are_offered_their_regions_score_updates_and_every_unrouted_entry(
    settings: Settings, redis: Redis
):
    """`routes` only spares `select` the entries routed to other regions: a subscriber of 62.10
    is offered 62.10's score updates and every entry that is not a score update, in stream
    order; one of 62.10 and 62.11 both regions'; one without routes everything."""
    key = settings.stream("fan.routed")
    hub = StreamHub(settings.redis_url, key)
    try:
        offered: dict[str, list[str]] = {"62.10": [], "both": [], "all": []}

        def recording(name: str) -> Callable[[StreamItem], str]:
            def select(item: StreamItem) -> str:
                offered[name].append(item.entry_id)
                return item.entry_id
            return select

        collectors = [
            Collector((await hub.subscribe(recording("62.10"), routes=frozenset({"62.10"}))).deliveries(idle_s=5)),
            Collector((await hub.subscribe(recording("both"), routes=frozenset({"62.10", "62.11"})))
                      .deliveries(idle_s=5)),
            Collector((await hub.subscribe(recording("all"))).deliveries(idle_s=5)),
        ]
        await wait_until(lambda: _equals(hub.subscribers, 3))
        published: list[tuple[str, str]] = []  # (entry id, what it concerns)
        for event, concerns in [
            (samples.score_updated(region="62.10"), "62.10"), (samples.score_updated(region="62.11"), "62.11"),
            (samples.ranking_changed(region="62.11"), "any"), (samples.score_updated(region="62.71"), "62.71"),
            (samples.score_updated(region="62.10"), "62.10"), (samples.spd_answer_set("spd-01", 2, version=9), "any"),
        ]:
            published.append(((await redis.xadd(key, ev.to_entry(event))).decode(), concerns))
        await wait_until(lambda: _all(len(c.items) >= want for c, want in zip(collectors, (4, 5, 6), strict=True)))
        await asyncio.sleep(0.2)  # nothing more comes
        expected = {
            "62.10": [i for i, c in published if c in ("62.10", "any")],
            "both": [i for i, c in published if c in ("62.10", "62.11", "any")],
            "all": [i for i, _ in published],
        }
        assert offered == expected
        assert [c.items for c in collectors] == [expected["62.10"], expected["both"], expected["all"]]
        for c in collectors:
            await c.close()
        assert hub.subscribers == 0 and hub._routed == {}
    finally:
        await hub.aclose()


async def test_a_subscriber_that_takes_nothing_is_dropped_and_the_others_get_everything(
    settings: Settings, redis: Redis,
):
    key = settings.stream("fan.events")
    hub = StreamHub(settings.redis_url, key, queue_size=5)
    before = drops(key)
    try:
        readers = [await subscribed(hub) for _ in range(3)]
        stuck = (await hub.subscribe(entry_ids)).deliveries(idle_s=60)
        first = asyncio.ensure_future(anext(stuck))  # registered, then never asked again
        await wait_until(lambda: _equals(hub.subscribers, 4))
        ids = []
        for _ in range(10):  # one entry at a time, so each read hands over one
            ids += await publish(redis, key, 1)
            count = len(ids)
            await wait_until(lambda n=count: _all(len(r.items) == n for r in readers))
        assert all(r.items == ids for r in readers)
        assert hub.subscribers == 3 and drops(key) == before + 1
        # What it gets when it reads again: what it had taken, then why it was dropped, then the end.
        assert (await first) == Batch([ids[0]])
        dropped = await anext(stuck)
        assert isinstance(dropped, Dropped) and "Last-Event-ID" in dropped.reason
        with pytest.raises(StopAsyncIteration):
            await anext(stuck)
        for r in readers:
            await r.close()
    finally:
        await hub.aclose()


async def test_a_recent_resume_is_served_from_memory(settings: Settings, redis: Redis):
    key = settings.stream("fan.events")
    hub = StreamHub(settings.redis_url, key, ring_size=4)
    try:
        live = await subscribed(hub)
        ids = await publish(redis, key, 10)
        await wait_until(lambda: _equals(len(live.items), 10))
        await redis.xdel(key, *ids[6:])  # the ring holds the last 4: now only memory has them
        recent = await subscribed(hub, after=ids[6])
        await wait_until(lambda: _equals(len(recent.items), 3))
        assert recent.items == ids[7:]
        ids += await publish(redis, key, 1)  # then live
        await wait_until(lambda: _equals(len(recent.items), 4))
        assert recent.items == ids[7:]
        for c in (live, recent):
            await c.close()
    finally:
        await hub.aclose()


async def test_an_older_resume_is_served_from_redis_then_from_memory_each_entry_once(
    settings: Settings, redis: Redis,
):
    key = settings.stream("fan.events")
    hub = StreamHub(settings.redis_url, key, ring_size=4)
    hub.PAGE = 2  # several pages from Redis before the ring takes over
    try:
        live = await subscribed(hub)
        ids = await publish(redis, key, 10)
        await wait_until(lambda: _equals(len(live.items), 10))
        older = await subscribed(hub, after=ids[1])  # 2..5 are in Redis only, 6..9 in the ring too
        await wait_until(lambda: _equals(len(older.items), 8))
        ids += await publish(redis, key, 1)
        await wait_until(lambda: _equals(len(older.items), 9))
        assert older.items == ids[2:]
        # An entry deleted from Redis that the ring no longer holds is gone; the rest still come.
        await redis.xdel(key, ids[3])
        gap = await subscribed(hub, after=ids[2])
        await wait_until(lambda: _equals(len(gap.items), 7))
        assert gap.items == ids[4:]
        for c in (live, older, gap):
            await c.close()
    finally:
        await hub.aclose()


async def test_a_subscription_starts_after_the_newest_entry_and_a_future_id_skips_until_it(
    settings: Settings, redis: Redis,
):
    key = settings.stream("fan.events")
    old = await publish(redis, key, 2)
    hub = StreamHub(settings.redis_url, key)
    try:
        subscription = await hub.subscribe(entry_ids)
        assert subscription.position == old[-1]  # the snapshot a client reads next is as new
        fresh = Collector(subscription.deliveries(idle_s=5))
        ahead = await subscribed(hub, after=_after(old[-1], 2))
        ids = await publish(redis, key, 3)
        await wait_until(lambda: _equals(len(fresh.items), 3))
        assert fresh.items == ids
        assert ahead.items == [i for i in ids if _key(i) > _key(_after(old[-1], 2))]
        await fresh.close()
        await ahead.close()
    finally:
        await hub.aclose()


async def test_subscribers_hear_of_an_outage_and_reading_resumes_where_it_stopped(settings: Settings):
    server = RedisServer(appendonly=True)
    server.start()
    redis = Redis.from_url(server.url)
    key = "fan.events"
    hub = StreamHub(server.url, key)
    hub.BACKOFF_MAX_S = 0.2
    try:
        collector = await subscribed(hub, idle_s=30)
        ids = await publish(redis, key, 2)
        await wait_until(lambda: _equals(len(collector.items), 2))
        server.stop()
        # Told at once (not after the idle interval), and a new subscriber is refused at once.
        await wait_until(lambda: _at_least(len(collector.idle), 1), timeout=5)
        assert collector.idle[0].stream_unavailable and not hub.readable
        with pytest.raises(StreamUnreachable):
            await hub.subscribe(entry_ids)
        server.start()
        await redis.aclose()
        redis = Redis.from_url(server.url)
        await wait_until(lambda: _true(hub.readable), timeout=10)
        ids += await publish(redis, key, 2)
        await wait_until(lambda: _equals(len(collector.items), 4), timeout=10)
        assert collector.items == ids and collector.task.done() is False
        await collector.close()
    finally:
        await hub.aclose()
        await redis.aclose()
        server.close()


async def test_ending_the_subscriptions_ends_every_delivery_at_once(settings: Settings, redis: Redis):
    key = settings.stream("fan.events")
    hub = StreamHub(settings.redis_url, key)
    collectors = [await subscribed(hub, idle_s=60) for _ in range(50)]
    await wait_until(lambda: _equals(hub.subscribers, 50))
    hub.end_subscriptions()
    await asyncio.wait_for(asyncio.gather(*(c.task for c in collectors)), 2)  # generous: they end at once
    late = await hub.subscribe(entry_ids)  # made while stopping: ends at once, no Redis asked
    assert [d async for d in late.deliveries(idle_s=60)] == []
    await asyncio.wait_for(hub.aclose(), 2)
    await wait_until(lambda: _equals_async(connections_named(redis, f"inovasi-fanout-reader:{key}"), 0))


def _key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq)


def _after(entry_id: str, ms: int = 1) -> str:
    return f"{_key(entry_id)[0] + ms}-0"


async def _equals(a: object, b: object) -> bool:
    return a == b


async def _equals_async(a: Any, b: object) -> bool:
    return (await a) == b


async def _at_least(a: int, b: int) -> bool:
    return a >= b


async def _all(values: Any) -> bool:
    return all(values)


async def _true(value: bool) -> bool:
    return value
