"""Fan-out of a Redis stream to every subscriber in this process: one reader per stream.

    fanout = Fanout.from_settings(settings)            # one per service runtime (Infrastructure.fanout)
    hub = fanout.hub("scoring.events")                  # a logical stream; the same hub each time
    subscription = await hub.subscribe(select, after=last_event_id)   # StreamUnreachable: Redis is down
    subscription.position                               # the entry id it delivers after
    async for delivery in subscription.deliveries(idle_s=5.0):
        ...  # Batch(items) | Idle(stream_unavailable) | Dropped(reason); ends when the service stops
    fanout.end_subscriptions(); await fanout.aclose()   # at shutdown (ServiceRuntime does both)

A hub reads its stream with one blocking group-less XREAD loop on a Redis connection of its
own, started by the first subscription, and keeps the newest entries in memory (a ring of
`ring_size`), parsed once. Each subscriber gives a `select` function, called by the reader
for every new entry: what the subscriber wants of it (a typed item), or None. It must be
cheap and pure; `StreamItem.shared` lets subscribers that make the same thing of an entry
share one object (and the rendering of it). A subscriber that names the regions it follows
(`routes`) is not even asked about another region's score update (`routes_of`): with
thousands of dashboards, each update concerns few of them. What a subscriber selected waits in its own
bounded queue (`queue_size`); a subscriber whose queue is full — a client that does not read
what it is sent — is dropped (`Dropped` with the reason, then the end), never waited for:
the reader and the other subscribers go on at their pace. A dropped client resumes with the
last entry id it received.

`after` resumes after an entry: from the ring when it holds everything after it, else from
Redis (XRANGE pages, on a small pool of its own) until the ring takes over. Without `after`,
a subscription starts after the stream's newest entry, asked of Redis when subscribing (so a
service that cannot reach the stream says so at once). When Redis fails, the reader retries
with backoff (the outage logged once) and subscribers are told (`Idle(stream_unavailable=
True)`); nothing in memory is lost and reading resumes where it stopped.

Connections: the reader's one, plus at most `control_connections` for subscribing and
resuming — whatever the number of subscribers, and none shared with the outbox relay or the
consumers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from services.common.bus import read_events, stream_position
from services.common.events import BaseEnvelope, ScoreUpdated, StreamEntry, UndecodableEntry, from_entry
from services.common.logging import get_logger
from services.common.metrics import FEED_CLIENTS, FEED_DROPS

if TYPE_CHECKING:
    from services.common.settings import Settings

__all__ = [
    "Batch",
    "Delivery",
    "Dropped",
    "Fanout",
    "Idle",
    "StreamHub",
    "StreamItem",
    "StreamUnreachable",
    "Subscription",
    "entry_key",
]

log = get_logger(__name__)
T = TypeVar("T")
EntryKey = tuple[int, int]
_MISSING = object()


def entry_key(entry_id: str) -> EntryKey:
    """A stream entry id ("1796025949566-0") as a comparable pair."""
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds), int(sequence or 0)


class StreamUnreachable(Exception):
    """Redis did not answer when subscribing."""


@dataclass(slots=True)
class StreamItem:
    """One stream entry, parsed once and shared by every subscriber."""

    entry_id: str
    event: BaseEnvelope
    key: EntryKey
    _memo: dict[Hashable, Any] = field(default_factory=dict, repr=False)
    # The regions it concerns (see `routes_of`); None: any subscriber may want it.
    routes: frozenset[str] | None = field(init=False)

    def __post_init__(self) -> None:
        self.routes = routes_of(self.event)

    def shared(self, key: Hashable, make: Callable[[], T]) -> T:
        """What `make()` returns, made once per entry and `key`: subscribers that select the
        same thing of an entry (the same filter) get the same object."""
        found = self._memo.get(key, _MISSING)
        if found is _MISSING:
            found = self._memo[key] = make()
        return cast(T, found)


@dataclass(frozen=True, slots=True)
class Batch(Generic[T]):
    """What the subscriber selected of new entries, in stream order."""

    items: list[T]


@dataclass(frozen=True, slots=True)
class Idle:
    """Nothing for `idle_s`, or the stream has just become unreadable (`stream_unavailable`)."""

    stream_unavailable: bool = False


@dataclass(frozen=True, slots=True)
class Dropped:
    """The subscriber fell too far behind and was dropped; its deliveries end after this."""

    reason: str


def routes_of(event: BaseEnvelope) -> frozenset[str] | None:
    """The regions an entry concerns, for subscribers that name theirs (`routes`): a region's
    score update concerns that region. Anything else (a ranking change moves other regions
    too) is offered to every subscriber, whose `select` decides."""
    if isinstance(event, ScoreUpdated):
        return frozenset((event.region,))
    return None


Delivery = Batch[T] | Idle | Dropped
Select = Callable[[StreamItem], T | None]


class _Subscriber(Generic[T]):
    __slots__ = ("after", "ended", "items", "limit", "routes", "select", "wake")

    def __init__(self, select: Select[T], after: EntryKey, limit: int,
                 routes: frozenset[str] | None = None) -> None:
        self.select = select
        self.routes = routes
        self.after = after  # only entries after this one
        self.limit = limit
        self.items: deque[T] = deque()
        self.wake = asyncio.Event()
        self.ended: Dropped | None = None  # dropped; ending without a reason is `closed`


class StreamHub:
    """The fan-out of one stream (see the module's docstring)."""

    BLOCK_MS = 5_000  # one reader, so the wait costs nothing; below the socket timeout
    READ_COUNT = 500
    PAGE = 500  # entries per XRANGE when resuming from Redis
    BACKOFF_INITIAL_S = 0.2
    BACKOFF_MAX_S = 5.0

    def __init__(
        self,
        redis_url: str,
        key: str,
        *,
        label: str | None = None,
        ring_size: int = 2_000,
        queue_size: int = 500,
        control_connections: int = 4,
    ) -> None:
        self.key = key
        self.label = label or key  # the metrics' stream label
        self.ring_size = ring_size
        self.queue_size = queue_size
        self._redis_url = redis_url
        self._control_connections = control_connections
        self._reader_redis: Redis | None = None
        self._control: Redis | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ring: deque[StreamItem] = deque()
        self._complete_after = "0-0"  # the ring holds every entry after this one
        self._complete_after_key: EntryKey = (0, 0)
        self._position = "0-0"  # the reader's: the newest entry read
        self._subscribers: set[_Subscriber[Any]] = set()
        # Subscribers that named their routes, by route: an entry routed elsewhere is never
        # offered to them (with 10,000 dashboards, most entries concern few of them).
        self._routed: dict[str, set[_Subscriber[Any]]] = {}
        self._closed = False
        self._unreadable_since: float | None = None

    # --- what subscribers see -------------------------------------------------------------

    @property
    def readable(self) -> bool:
        """False while the reader cannot read the stream."""
        return self._unreadable_since is None

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    async def subscribe(
        self, select: Select[T], *, after: str | None = None, queue_size: int | None = None,
        routes: frozenset[str] | None = None,
    ) -> Subscription[T]:
        """A subscription to the entries after `after` (an entry id), or (None) after the
        stream's newest. Asks Redis once when the hub's reader is not (yet) following the stream,
        so it raises `StreamUnreachable` when Redis does not answer. Nothing is held for it
        until its `deliveries()` are iterated. `routes`: the regions whose routed entries
        `select` can want (`routes_of`); the others are not offered to it. None: every entry."""
        size = queue_size or self.queue_size
        if self._closed:
            return Subscription(self, select, after or "0-0", size, closed=True, routes=routes)
        if self._reader is not None and self.readable:
            # The reader is following the stream: what comes after the newest entry it has
            # read reaches this subscriber through it, so Redis need not be asked (a burst of
            # dashboards connecting at once costs Redis nothing).
            return Subscription(self, select, after or self._position, size, closed=False, routes=routes)
        try:
            newest = await stream_position(self._control_client(), self.key)
        except (RedisError, OSError, TimeoutError) as exc:
            raise StreamUnreachable(f"cannot read {self.label}: {exc!r}") from exc
        if self._reader is None and not self._closed:
            self._start_reader(newest)
        return Subscription(self, select, after or newest, size, closed=self._closed, routes=routes)

    # --- life cycle -----------------------------------------------------------------------

    def end_subscriptions(self) -> None:
        """End every subscription now, and any made from now on (the service is stopping)."""
        self._closed = True
        for subscriber in self._subscribers:
            subscriber.wake.set()
        self._subscribers.clear()
        self._routed.clear()

    async def aclose(self) -> None:
        """Stop reading and close the hub's connections (ends every subscription too)."""
        self.end_subscriptions()
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            # A blocking XREAD does not always end when cancelled; closing the client does.
            done, _ = await asyncio.wait({reader}, timeout=0.2)
            if not done:
                reader.add_done_callback(_discard_outcome)
        for client in (self._reader_redis, self._control):
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.aclose()
        self._reader_redis = self._control = None

    # --- the reader -----------------------------------------------------------------------

    def _start_reader(self, newest: str) -> None:
        self._position = newest
        self._complete_after, self._complete_after_key = newest, entry_key(newest)
        self._reader_redis = Redis.from_url(
            self._redis_url, socket_connect_timeout=2.0, socket_timeout=self.BLOCK_MS / 1000 + 5,
            retry=Retry(NoBackoff(), 0),  # this loop retries, and says so
            client_name=f"inovasi-fanout-reader:{self.label}",
        )
        self._reader = asyncio.create_task(self._read_loop(self._reader_redis), name=f"fanout:{self.key}")

    def _control_client(self) -> Redis:
        if self._control is None:
            pool = BlockingConnectionPool.from_url(
                self._redis_url, max_connections=self._control_connections, timeout=2.0,
                socket_connect_timeout=2.0, socket_timeout=5.0, client_name=f"inovasi-fanout:{self.label}",
            )
            self._control = Redis(connection_pool=pool, retry=Retry(NoBackoff(), 0))
        return self._control

    async def _read_loop(self, redis: Redis) -> None:
        backoff = self.BACKOFF_INITIAL_S
        while True:
            try:
                self._position, events = await read_events(
                    redis, self.key, self._position, block_ms=self.BLOCK_MS, count=self.READ_COUNT
                )
            except (RedisError, OSError, TimeoutError) as exc:
                self._unreadable(exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.BACKOFF_MAX_S)
                continue
            except Exception:  # never let the reader die: log and go on
                log.exception("fan-out reader failed; trying again", stream=self.label)
                await asyncio.sleep(self.BACKOFF_MAX_S)
                continue
            backoff = self.BACKOFF_INITIAL_S
            if self._unreadable_since is not None:
                log.info("stream readable again: live clients follow it", stream=self.label,
                         after_s=round(time.monotonic() - self._unreadable_since, 1))
                self._unreadable_since = None
            if events:
                self._take([StreamItem(entry_id, event, entry_key(entry_id)) for entry_id, event in events])

    def _unreadable(self, error: BaseException) -> None:
        if self._unreadable_since is None:
            self._unreadable_since = time.monotonic()
            log.warning("cannot read the stream: live clients wait; retrying", stream=self.label, error=repr(error))
            for subscriber in self._subscribers:
                subscriber.wake.set()  # they say so to their clients

    def _take(self, items: list[StreamItem]) -> None:
        """New entries: into the ring, and to every subscriber that wants them."""
        ring = self._ring
        for item in items:
            if len(ring) >= self.ring_size:
                evicted = ring.popleft()
                self._complete_after, self._complete_after_key = evicted.entry_id, evicted.key
            ring.append(item)
        unrouted = [item for item in items if item.routes is None]
        # The routed subscribers that some routed item concerns; the others see only `unrouted`.
        concerned = {subscriber for item in items for route in item.routes or ()
                     for subscriber in self._routed.get(route, ())}
        dropped = []
        for subscriber in self._subscribers:
            routes = subscriber.routes
            if routes is None:
                offered = items
            elif subscriber in concerned:
                offered = [item for item in items if item.routes is None or not item.routes.isdisjoint(routes)]
            elif unrouted:
                offered = unrouted
            else:
                continue
            if not self._offer(subscriber, offered):
                dropped.append(subscriber)
        for subscriber in dropped:
            self._drop(subscriber)

    def _add(self, subscriber: _Subscriber[Any]) -> None:
        self._subscribers.add(subscriber)
        for route in subscriber.routes or ():
            self._routed.setdefault(route, set()).add(subscriber)

    def _remove(self, subscriber: _Subscriber[Any]) -> None:
        self._subscribers.discard(subscriber)
        for route in subscriber.routes or ():
            followers = self._routed.get(route)
            if followers is not None:
                followers.discard(subscriber)
                if not followers:
                    del self._routed[route]

    def _offer(self, subscriber: _Subscriber[Any], items: list[StreamItem]) -> bool:
        """Queue what `subscriber` selects of `items`; False when it has not taken the `limit`
        items already waiting for it (a read's worth may come on top: a burst read at once
        drops no one that keeps up)."""
        queue, before = subscriber.items, len(subscriber.items)
        for item in items:
            if item.key <= subscriber.after:
                continue
            selected = _select(subscriber.select, item, self.label)
            if selected is None:
                continue
            if before >= subscriber.limit:
                return False
            queue.append(selected)
        if len(queue) != before:
            subscriber.wake.set()
        return True

    def _drop(self, subscriber: _Subscriber[Any]) -> None:
        self._remove(subscriber)
        subscriber.items.clear()  # the client resumes after the last entry it received
        subscriber.ended = Dropped(
            f"too slow: more than {subscriber.limit} events waiting to be sent; "
            "reconnect with Last-Event-ID to resume"
        )
        subscriber.wake.set()
        FEED_DROPS.labels(self.label).inc()

    # --- joining: from Redis, then from the ring ----------------------------------------

    async def _page(self, after: str, until: str) -> tuple[str | None, list[StreamItem]]:
        """Up to PAGE entries after `after` and up to `until`, from Redis: the last entry id
        read (None: there was none) and the entries that are events."""
        entries = cast(
            list[StreamEntry],
            await self._control_client().xrange(self.key, min=f"({after}", max=until, count=self.PAGE),
        )
        last, items = None, []
        for raw_id, fields in entries:
            last = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
            try:
                items.append(StreamItem(last, from_entry(fields), entry_key(last)))
            except UndecodableEntry as exc:
                log.warning("skipping undecodable entry", stream=self.label, entry_id=last, error=str(exc))
        return last, items

    def _join(self, subscriber: _Subscriber[Any]) -> list[StreamItem] | None:
        """If the ring holds every entry after the subscriber's position: register it and
        return the ring's entries after that position (at once, so nothing is missed or sent
        twice); else None."""
        if self._closed:
            return []
        if subscriber.after < self._complete_after_key:
            return None
        self._add(subscriber)
        return [item for item in self._ring if item.key > subscriber.after]


def _select(select: Select[T], item: StreamItem, label: str) -> T | None:
    try:
        return select(item)
    except Exception:
        log.exception("a fan-out subscriber's select failed; entry skipped for it", stream=label,
                      entry_id=item.entry_id)
        return None


class Subscription(Generic[T]):
    """What one subscriber receives (see `StreamHub.subscribe`)."""

    def __init__(self, hub: StreamHub, select: Select[T], after: str, queue_size: int, *, closed: bool,
                 routes: frozenset[str] | None = None) -> None:
        self.hub = hub
        self.position = after  # the entry id it delivers after
        self._select = select
        self._queue_size = queue_size
        self._closed = closed
        self._routes = routes

    async def deliveries(self, *, idle_s: float) -> AsyncGenerator[Delivery[T]]:
        """The entries after `position` as they come (`Batch`), `Idle` after `idle_s` without
        any, and the end when the service stops (or, after `Dropped`, when too slow)."""
        hub = self.hub
        if self._closed or hub._closed:
            return
        subscriber: _Subscriber[T] = _Subscriber(self._select, entry_key(self.position), self._queue_size,
                                                 self._routes)
        position = self.position
        while (backlog := hub._join(subscriber)) is None:  # behind the ring: from Redis first
            if hub._closed:
                return
            until = hub._complete_after  # the ring has what follows
            try:
                last, page = await hub._page(position, until)
            except (RedisError, OSError, TimeoutError):
                yield Idle(stream_unavailable=True)
                await asyncio.sleep(1)
                continue
            if last is None:  # nothing (left) in Redis up to the ring: the ring takes over
                position, subscriber.after = until, entry_key(until)
                continue
            position, subscriber.after = last, entry_key(last)
            selected = [s for item in page if (s := _select(self._select, item, hub.label)) is not None]
            if selected:
                yield Batch(selected)
        FEED_CLIENTS.labels(hub.label).inc()
        try:
            if selected := [s for item in backlog if (s := _select(self._select, item, hub.label)) is not None]:
                yield Batch(selected)
            while not hub._closed:
                if subscriber.items:
                    items = list(subscriber.items)
                    subscriber.items.clear()
                    yield Batch(items)
                    continue
                if subscriber.ended is not None:
                    yield subscriber.ended
                    return
                subscriber.wake.clear()
                try:
                    async with asyncio.timeout(idle_s):
                        await subscriber.wake.wait()
                except TimeoutError:
                    yield Idle(stream_unavailable=not hub.readable)
                    continue
                if not subscriber.items and subscriber.ended is None and not hub.readable:
                    yield Idle(stream_unavailable=True)  # woken by the reader: the stream is unreadable
        finally:
            hub._remove(subscriber)
            FEED_CLIENTS.labels(hub.label).dec()


class Fanout:
    """The hubs of one service runtime, one per stream, made on first use."""

    def __init__(self, redis_url: str, *, stream_prefix: str = "", ring_size: int = 2_000,
                 queue_size: int = 500) -> None:
        self._redis_url = redis_url
        self._stream_prefix = stream_prefix
        self._ring_size = ring_size
        self._queue_size = queue_size
        self._hubs: dict[str, StreamHub] = {}
        self._closed = False

    @classmethod
    def from_settings(cls, settings: Settings) -> Fanout:
        return cls(settings.redis_url, stream_prefix=settings.stream_prefix, ring_size=settings.feed_ring_size,
                   queue_size=settings.feed_client_queue)

    def hub(self, stream: str) -> StreamHub:
        """The hub of a logical stream ("scoring.events"); nothing is opened until subscribed."""
        found = self._hubs.get(stream)
        if found is None:
            found = self._hubs[stream] = StreamHub(
                self._redis_url, self._stream_prefix + stream, label=stream,
                ring_size=self._ring_size, queue_size=self._queue_size,
            )
            if self._closed:
                found.end_subscriptions()
        return found

    def end_subscriptions(self) -> None:
        """Every subscription ends now (the server begins to stop)."""
        self._closed = True
        for hub in self._hubs.values():
            hub.end_subscriptions()

    async def aclose(self) -> None:
        self._closed = True
        for hub in self._hubs.values():
            await hub.aclose()


def _discard_outcome(task: asyncio.Future[Any]) -> None:
    """Retrieve an abandoned read's outcome, so asyncio does not report it as lost."""
    if not task.cancelled():
        task.exception()
