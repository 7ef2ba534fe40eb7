"""Stream consumers: FastStream RedisBroker wiring with inbox, reclaimer and dead letters.

    consumer = EventConsumer(settings, service="scoring", pool=pool)
    consumer.subscribe("intake.events", handle)   # async def handle(event, conn) -> None
    await consumer.start(); ...; await consumer.stop()

For each subscribed (stream, group) there are two FastStream subscribers in the group:
  * a reader (XREADGROUP ">", `max_records` per read) for new entries;
  * a reclaimer (`min_idle_time`: XAUTOCLAIM only) for entries left pending by a failed
    handler or a dead process. FastStream never re-delivers a failed entry by itself.
The reclaimer reads a reclaimed entry's delivery count; when the handler fails on the
`max_deliveries`-th delivery or later, the entry moves to `<stream>.dlq`. An outage is not a
poison message: a handler that failed because PostgreSQL was unreachable is run again as soon
as PostgreSQL answers (asked every OUTAGE_POLL_S), holding its subscriber meanwhile, and such
failures never dead-letter an entry. Entries that are not events of the contract go to the
DLQ at once.

Handling = one PostgreSQL transaction: inbox check (`first_delivery`), then the handler if the
event is new; XACK only after commit. A failure rolls back and leaves the entry pending.
Groups are created at bootstrap at id 0 with MKSTREAM (so a group sees entries published
before it existed) and FastStream keeps its default `last_id` (">"): any other value on an
existing group makes FastStream spin without reading new entries.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import asyncpg
import structlog
from faststream import AckPolicy
from faststream.redis import RedisBroker, RedisStreamMessage, StreamSub
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from services.common.db import Connection
from services.common.dlq import ALL, DeadLetter, dead_letter, dlq_list, dlq_replay
from services.common.events import STREAMS, Envelope, StreamEntry, UndecodableEntry, from_entry
from services.common.inbox import first_delivery
from services.common.logging import bind_event, get_logger
from services.common.metrics import DLQ_MOVES, EVENT_FAILURES, EVENTS_HANDLED, HANDLER_SECONDS

if TYPE_CHECKING:
    from services.common.settings import Settings

__all__ = [
    "ALL",
    "DeadLetter",
    "EventConsumer",
    "Handler",
    "consumer_name",
    "dlq_list",
    "dlq_replay",
    "ensure_group",
    "make_redis",
    "prune_consumers",
    "read_events",
    "stream_position",
]

log = get_logger(__name__)
OUTAGE_POLL_S = 0.25  # how often a handler waiting out an outage asks PostgreSQL again

Handler = Callable[[Envelope, Connection], Awaitable[None]]


def consumer_name(service: str) -> str:
    """Unique per process: two processes must never share a consumer's pending list."""
    return f"{service}-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def make_redis(url: str, **kwargs: Any) -> Redis:
    """A client for admin work (groups, DLQ, relay): short timeouts so an outage surfaces
    as an error to retry rather than a hang."""
    kwargs.setdefault("socket_connect_timeout", 2.0)
    kwargs.setdefault("socket_timeout", 10.0)
    return Redis.from_url(url, **kwargs)


async def ensure_group(redis: Redis, stream: str, group: str) -> bool:
    """XGROUP CREATE <stream> <group> 0 MKSTREAM; False if the group already existed."""
    try:
        await redis.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
        return False
    return True


async def prune_consumers(redis: Redis, stream: str, group: str, *, idle_ms: int) -> list[str]:
    """Delete consumers of earlier processes that have nothing pending and have been idle
    longer than `idle_ms` (consumer names are unique per process, so they pile up)."""
    removed = []
    for consumer in await redis.xinfo_consumers(stream, group):
        name = consumer["name"].decode() if isinstance(consumer["name"], bytes) else consumer["name"]
        if int(consumer["pending"]) == 0 and int(consumer["idle"]) > idle_ms:
            await redis.xgroup_delconsumer(stream, group, name)
            removed.append(name)
    return removed


async def stream_position(redis: Redis, stream: str) -> str:
    """Id of the newest entry of `stream` (full key), "0-0" if empty: where a reader that
    wants only new events starts. (Re-sending "$" on every XREAD would miss entries added
    between two calls.)"""
    newest = cast(list[StreamEntry], await redis.xrevrange(stream, count=1))
    return _text(newest[0][0]) if newest else "0-0"


async def read_events(
    redis: Redis, stream: str, after: str, *, block_ms: int | None = None, count: int = 100
) -> tuple[str, list[tuple[str, Envelope]]]:
    """Group-less XREAD for fan-out readers (the SSE feed). Returns (position, events):
    the events after entry id `after` as (entry id, event), and the id to pass as `after`
    next time. The entry id is the SSE event id, so `Last-Event-ID` resumes where a client
    left off. Entries that are not events are skipped (logged) but still advance the
    position."""
    response = cast(
        "list[tuple[bytes, list[StreamEntry]]] | None", await redis.xread({stream: after}, count=count, block=block_ms)
    )
    position = after
    events: list[tuple[str, Envelope]] = []
    for _key, entries in response or ():
        for raw_id, fields in entries:
            position = _text(raw_id)
            try:
                events.append((position, from_entry(fields)))
            except UndecodableEntry as exc:
                log.warning("skipping undecodable entry", stream=stream, entry_id=position,
                            error=str(exc))
    return position, events


@dataclass(frozen=True)
class Subscription:
    stream: str  # logical name, e.g. "intake.events"
    group: str
    handler: Handler
    types: frozenset[str] | None  # None = every type on the stream

    @property
    def inbox_consumer(self) -> str:
        # Event ids are unique across streams, so the group alone keys the inbox.
        return self.group


class EventConsumer:
    """One service's stream consumers. Register with `subscribe` (or the `handler`
    decorator) before `start()`; `stop()` lets in-flight handlers finish (up to
    settings.graceful_timeout_s) before disconnecting."""

    def __init__(
        self,
        settings: Settings,
        *,
        service: str,
        pool: asyncpg.Pool,
        redis: Redis | None = None,
    ) -> None:
        self.settings = settings
        self.service = service
        self.pool = pool
        self.name = consumer_name(service)
        self.redis = redis or make_redis(settings.redis_url)
        self._owns_redis = redis is None
        self.broker = RedisBroker(
            settings.redis_url,
            graceful_timeout=settings.graceful_timeout_s,
            logger=logging.getLogger("inovasi.faststream"),
            # FastStream's per-message "Received"/"Processed" lines at DEBUG: we log our own.
            log_level=logging.DEBUG,
        )
        self.subscriptions: list[Subscription] = []
        self._stopping = False

    # --- registration -------------------------------------------------------------------

    def subscribe(
        self,
        stream: str,
        handler: Handler,
        *,
        group: str | None = None,
        types: Iterable[str] | None = None,
    ) -> Subscription:
        """Handle every event of logical `stream` in consumer group `group` (default: the
        service name). With `types`, other event types are acknowledged unhandled."""
        if stream not in STREAMS:
            raise ValueError(f"unknown stream {stream!r}; expected one of {', '.join(STREAMS)}")
        group = group or self.service
        if any(s.stream == stream and s.group == group for s in self.subscriptions):
            raise ValueError(f"{stream} is already subscribed in group {group}")
        sub = Subscription(stream, group, handler, frozenset(types) if types is not None else None)
        self.subscriptions.append(sub)

        key = self.settings.stream(stream)
        s = self.settings

        @self.broker.subscriber(
            stream=StreamSub(
                key,
                group=group,
                consumer=self.name,
                max_records=s.consumer_max_records,
                polling_interval=s.consumer_block_ms,
            ),
            ack_policy=AckPolicy.MANUAL,  # we XACK after the PostgreSQL commit
            max_workers=s.consumer_max_workers,
            title=f"{group}:{stream}",
        )
        async def read(msg: RedisStreamMessage) -> None:
            await self._process(sub, msg, reclaimed=False)

        @self.broker.subscriber(
            stream=StreamSub(
                key,
                group=group,
                consumer=f"{self.name}-reclaimer",
                min_idle_time=s.reclaim_idle_ms,
                polling_interval=s.reclaim_poll_ms,
            ),
            ack_policy=AckPolicy.MANUAL,
            title=f"{group}:{stream}:reclaimer",
        )
        async def reclaim(msg: RedisStreamMessage) -> None:
            await self._process(sub, msg, reclaimed=True)

        return sub

    def handler(
        self, stream: str, *, group: str | None = None, types: Iterable[str] | None = None
    ) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self.subscribe(stream, fn, group=group, types=types)
            return fn

        return register

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        self._stopping = False
        for sub in self.subscriptions:
            key = self.settings.stream(sub.stream)
            await ensure_group(self.redis, key, sub.group)
            removed = await prune_consumers(
                self.redis, key, sub.group, idle_ms=self.settings.consumer_prune_idle_ms
            )
            if removed:
                log.info("pruned idle consumers", stream=sub.stream, group=sub.group, consumers=removed)
        await self.broker.start()
        log.info("consumer started", consumer=self.name, subscriptions=[
            f"{s.group}:{s.stream}" for s in self.subscriptions
        ])

    async def stop(self) -> None:
        self._stopping = True  # handlers waiting out an outage give up; their entries stay pending
        await self.broker.stop()  # waits for in-flight handlers, up to graceful_timeout
        if self._owns_redis:
            await self.redis.aclose()
        log.info("consumer stopped", consumer=self.name)

    async def __aenter__(self) -> EventConsumer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- handling -----------------------------------------------------------------------

    async def _process(self, sub: Subscription, msg: RedisStreamMessage, *, reclaimed: bool) -> None:
        raw = msg.raw_message
        entry_id = _text(raw["message_ids"][0])
        fields = raw["data"]
        with structlog.contextvars.bound_contextvars(
            stream=sub.stream, group=sub.group, entry_id=entry_id
        ):
            deliveries = await msg.get_delivery_count() if reclaimed else 1
            try:
                event = from_entry(fields)
            except UndecodableEntry as exc:
                await self._dead_letter(sub, entry_id, fields, deliveries, "undecodable", str(exc))
                return
            if sub.types is not None and event.type not in sub.types:
                await self._ack(msg)
                EVENTS_HANDLED.labels(sub.stream, sub.group, event.type, "skipped").inc()
                return
            with bind_event(event, delivery=deliveries):
                error = await self._handle(sub, msg, event)
                while error is not None and await self._during_outage(error):
                    # An outage is not a poison message: handle the entry again as soon as
                    # PostgreSQL answers, rather than after the reclaimer's idle time.
                    log.warning("database unreachable: handling again as soon as it answers")
                    if not await self._database_back():
                        return  # stopping: the entry stays pending for the reclaimer
                    error = await self._handle(sub, msg, event)
                if error is None or deliveries < self.settings.max_deliveries:
                    return
                await self._dead_letter(
                    sub, entry_id, fields, deliveries, "max_deliveries",
                    f"failed {deliveries} deliveries; last error: {error!r}"[:2000],
                )

    async def _handle(self, sub: Subscription, msg: RedisStreamMessage, event: Envelope) -> Exception | None:
        """Inbox check and handler in one transaction, XACK after commit. Returns the error
        when it failed (the entry then stays pending for the reclaimer)."""
        started = time.perf_counter()
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                fresh = await first_delivery(conn, sub.inbox_consumer, event.event_id)
                if fresh:
                    await sub.handler(event, conn)
        except Exception as exc:
            EVENT_FAILURES.labels(sub.stream, sub.group, event.type).inc()
            log.exception("event handler failed; entry stays pending for the reclaimer")
            return exc
        finally:
            HANDLER_SECONDS.labels(sub.stream, sub.group).observe(time.perf_counter() - started)
        await self._ack(msg)
        outcome = "handled" if fresh else "duplicate"
        EVENTS_HANDLED.labels(sub.stream, sub.group, event.type, outcome).inc()
        log.info("event handled" if fresh else "duplicate event skipped")
        return None

    async def _ack(self, msg: RedisStreamMessage) -> None:
        try:
            await msg.ack()
        except Exception as exc:
            # Effects are committed; the entry will be reclaimed and hit the inbox.
            log.warning("XACK failed; entry will be redelivered as a duplicate", error=repr(exc))

    async def _dead_letter(
        self,
        sub: Subscription,
        entry_id: str,
        fields: Any,
        deliveries: int,
        kind: str,
        reason: str,
    ) -> None:
        dead_id = await dead_letter(
            self.redis,
            self.settings.stream(sub.stream),
            entry_id,
            fields,
            group=sub.group,
            deliveries=deliveries,
            reason=f"{kind}: {reason}",
            consumer=self.name,
            maxlen=self.settings.dlq_maxlen,
        )
        DLQ_MOVES.labels(sub.stream, sub.group, kind).inc()
        log.error(
            "entry moved to dead-letter stream",
            dlq_entry_id=dead_id,
            reason=reason,
            deliveries=deliveries,
            # informational copies from the entry: the envelope may be unreadable
            event_id=_text(fields.get(b"event_id", b"")),
            event_type=_text(fields.get(b"type", b"")),
        )

    async def _during_outage(self, error: Exception) -> bool:
        return _is_outage(error) or not await self._database_reachable()

    async def _database_back(self) -> bool:
        """Wait until PostgreSQL answers (True), or until the consumer stops (False)."""
        while not self._stopping:
            await asyncio.sleep(OUTAGE_POLL_S)
            if await self._database_reachable():
                return True
        return False

    async def _database_reachable(self) -> bool:
        try:
            async with self.pool.acquire(timeout=5) as conn:
                await conn.fetchval("SELECT 1", timeout=5)
        except Exception:
            return False
        return True


def _is_outage(error: Exception) -> bool:
    """A failure to reach PostgreSQL, as opposed to a failure of the event's handling."""
    return isinstance(
        error, (OSError, TimeoutError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
                asyncpg.CannotConnectNowError)
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
