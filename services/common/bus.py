"""Stream consumers: FastStream RedisBroker wiring with inbox, reclaimer and dead letters.

    consumer = EventConsumer(settings, service="scoring", pool=pool)
    consumer.subscribe("intake.events", handle)          # async def handle(event, conn) -> None
    consumer.subscribe_batch("intake.events", handle_all)  # async def handle_all(events, conn) -> None
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

Handling = one PostgreSQL transaction: inbox check, then the handler with the events that are
new; XACK only after commit. A failure rolls back and leaves the entries pending.

  * `subscribe`: one entry at a time (the reader's `max_workers` may run several at once),
    one transaction and one XACK each; with `batched=True`, read as below, the handler
    called for each new event of the read in order, each bound as the cause of what it makes.
  * `subscribe_batch`: FastStream's batch reader hands over every entry of one XREADGROUP
    (up to `max_records`), and the whole read is one transaction: one inbox statement for all
    (`first_deliveries`), the handler once with the new events in stream order (a duplicate
    within the read is passed once), one XACK for all. If that transaction fails with
    PostgreSQL answering, the entries are handled again one at a time, each in its own
    transaction, so a poison entry is isolated: the others are applied and acknowledged, it
    stays pending for the reclaimer and goes to the DLQ after `max_deliveries` as above.
    Reclaimed entries are handled one at a time (a batch of one). A batch handler sets the
    correlation and causation ids of the events it causes itself (no single event is bound).
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
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import asyncpg
import structlog
from faststream import AckPolicy
from faststream.redis import RedisBroker, RedisStreamMessage, StreamSub
from faststream.redis.annotations import RedisBatchStreamMessage
from faststream.redis.message import FAKE_CONSUMER
from faststream.redis.message import RedisBatchStreamMessage as BatchStreamMessage
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from services.common.db import Connection
from services.common.dlq import ALL, DeadLetter, dead_letter, dlq_list, dlq_replay
from services.common.events import (
    ENVELOPE_STREAMS,
    BaseEnvelope,
    Envelope,
    StreamEntry,
    UndecodableEntry,
    from_entry,
)
from services.common.inbox import first_deliveries
from services.common.logging import bind_event, get_logger
from services.common.metrics import BATCH_ENTRIES, DLQ_MOVES, EVENT_FAILURES, EVENTS_HANDLED, HANDLER_SECONDS

if TYPE_CHECKING:
    from services.common.settings import Settings

__all__ = [
    "ALL",
    "BatchHandler",
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
BatchHandler = Callable[[Sequence[Envelope], Connection], Awaitable[None]]


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
) -> tuple[str, list[tuple[str, BaseEnvelope]]]:
    """Group-less XREAD for fan-out readers (the SSE feed, the revocations follower). Returns
    (position, events):
    the events after entry id `after` as (entry id, event), and the id to pass as `after`
    next time. The entry id is the SSE event id, so `Last-Event-ID` resumes where a client
    left off. Entries that are not events are skipped (logged) but still advance the
    position."""
    response = cast(
        "list[tuple[bytes, list[StreamEntry]]] | None", await redis.xread({stream: after}, count=count, block=block_ms)
    )
    position = after
    events: list[tuple[str, BaseEnvelope]] = []
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
    # Every subscription runs as a batch handler: a one-at-a-time handler is wrapped, and
    # is only ever given one event.
    handler: BatchHandler
    types: frozenset[str] | None  # None = every type on the stream
    batched: bool = False  # read with FastStream's batch reader (subscribe_batch)

    @property
    def inbox_consumer(self) -> str:
        # Event ids are unique across streams, so the group alone keys the inbox.
        return self.group


@dataclass(frozen=True, slots=True)
class _Entry:
    """A stream entry that holds an event of the contract, to be handled."""

    entry_id: str
    fields: Any
    event: Envelope


class _Stopping(Exception):
    """The consumer stopped while waiting out an outage: the entries stay pending."""


async def _entries_as_read(message: Mapping[str, Any], _parser: Any) -> BatchStreamMessage:
    """FastStream's parser for the readers: the entries as Redis returned them, which is all
    the handlers read (`raw_message`). FastStream's own decodes every entry's fields as JSON
    and, for a batch, dumps them again as one body: a tenth of a busy consumer's CPU for
    nothing. Acknowledging is ours (after the commit), so the message needs no consumer."""
    return BatchStreamMessage(raw_message=message, body=b"", consumer=FAKE_CONSUMER, group=None)


def _each_bound(handler: Handler) -> BatchHandler:
    """A one-event handler as a batch handler: called per event, in order, each bound for
    logs and as the cause of the events it makes."""

    async def handle(events: Sequence[Envelope], conn: Connection) -> None:
        for event in events:
            with bind_event(event):
                await handler(event, conn)

    return handle


class EventConsumer:
    """One service's stream consumers. Register with `subscribe` / `subscribe_batch` (or the
    `handler` decorator) before `start()`; `stop()` lets in-flight handlers finish (up to
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
        batched: bool = False,
    ) -> Subscription:
        """Handle every event of logical `stream` in consumer group `group` (default: the
        service name), one at a time. With `types`, other event types are acknowledged
        unhandled. `batched`: read like `subscribe_batch` (a read's entries in one
        transaction, one XACK), `handler` called for each new event of it in stream order,
        with the event bound for logs and as the cause of the events it makes — the same
        effects as one at a time, for a handler of many small events."""
        return self._register(stream, _each_bound(handler), group=group, types=types, batched=batched)

    def subscribe_batch(
        self,
        stream: str,
        handler: BatchHandler,
        *,
        group: str | None = None,
        types: Iterable[str] | None = None,
    ) -> Subscription:
        """Like `subscribe`, but each read of up to `consumer_max_records` entries is handled
        in one transaction: `handler(events, conn)` gets the new events of the read, in
        stream order, without duplicates (see the module's docstring)."""
        return self._register(stream, handler, group=group, types=types, batched=True)

    def _register(
        self,
        stream: str,
        handler: BatchHandler,
        *,
        group: str | None,
        types: Iterable[str] | None,
        batched: bool,
    ) -> Subscription:
        if stream not in ENVELOPE_STREAMS:
            # web.events (accounts) is read without a group: services.common.revocations.
            raise ValueError(f"unknown stream {stream!r}; expected one of {', '.join(ENVELOPE_STREAMS)}")
        group = group or self.service
        if any(s.stream == stream and s.group == group for s in self.subscriptions):
            raise ValueError(f"{stream} is already subscribed in group {group}")
        sub = Subscription(stream, group, handler, frozenset(types) if types is not None else None, batched)
        self.subscriptions.append(sub)

        key = self.settings.stream(stream)
        s = self.settings

        if batched:

            @self.broker.subscriber(
                stream=StreamSub(
                    key,
                    group=group,
                    consumer=self.name,
                    batch=True,
                    max_records=s.consumer_max_records,
                    polling_interval=s.consumer_block_ms,
                ),
                ack_policy=AckPolicy.MANUAL,  # we XACK after the PostgreSQL commit
                parser=_entries_as_read,
                title=f"{group}:{stream}",
            )
            async def read_batch() -> None:
                await self._process_batch(sub, self._message())

        else:

            @self.broker.subscriber(
                stream=StreamSub(
                    key,
                    group=group,
                    consumer=self.name,
                    max_records=s.consumer_max_records,
                    polling_interval=s.consumer_block_ms,
                ),
                ack_policy=AckPolicy.MANUAL,  # we XACK after the PostgreSQL commit
                parser=_entries_as_read,
                max_workers=s.consumer_max_workers,
                title=f"{group}:{stream}",
            )
            async def read() -> None:
                await self._process(sub, self._message(), reclaimed=False)

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
        async def reclaim() -> None:
            await self._process(sub, self._message(), reclaimed=True)

        return sub

    def _message(self) -> Any:
        """The message being handled, from FastStream's context. Declared as a parameter
        (`msg: RedisStreamMessage`) it would be resolved by fast_depends in a worker thread:
        a thread hop for every message."""
        return self.broker.context.get_local("message")

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
            f"{s.group}:{s.stream}" + (" (batches)" if s.batched else "") for s in self.subscriptions
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
        """One entry: read by a one-at-a-time reader, or reclaimed (for any subscription)."""
        raw = msg.raw_message
        entry_id = _text(raw["message_ids"][0])
        with structlog.contextvars.bound_contextvars(
            stream=sub.stream, group=sub.group, entry_id=entry_id
        ):
            deliveries = await msg.get_delivery_count() if reclaimed else 1
            await self._consume(sub, [(entry_id, raw["data"])], deliveries)

    async def _process_batch(self, sub: Subscription, msg: RedisBatchStreamMessage) -> None:
        """Every entry of one read (first deliveries), in one transaction."""
        raw = msg.raw_message
        read = [(_text(entry_id), fields) for entry_id, fields in zip(raw["message_ids"], raw["data"], strict=True)]
        with structlog.contextvars.bound_contextvars(
            stream=sub.stream, group=sub.group, entry_ids=f"{read[0][0]}..{read[-1][0]}" if read else ""
        ):
            await self._consume(sub, read, 1)

    async def _consume(self, sub: Subscription, read: list[tuple[str, Any]], deliveries: int) -> None:
        """Handle the events among `read` (entry id, fields) in one transaction, then XACK
        them with the entries of other types; entries that are not events of the contract go
        to the DLQ. If the transaction fails, each event is handled alone (see the module's
        docstring); one that fails on its `max_deliveries`-th delivery is dead-lettered."""
        entries: list[_Entry] = []
        skipped: list[str] = []  # types not subscribed: acknowledged unhandled
        for entry_id, fields in read:
            try:
                event = from_entry(fields)
            except UndecodableEntry as exc:
                await self._dead_letter(sub, entry_id, fields, deliveries, "undecodable", str(exc))
                continue
            if not isinstance(event, Envelope):  # an account event on a stream of cycle events
                reason = f"{event.type} is not an event of a cycle and region"
                await self._dead_letter(sub, entry_id, fields, deliveries, "undecodable", reason)
                continue
            if sub.types is not None and event.type not in sub.types:
                skipped.append(entry_id)
                EVENTS_HANDLED.labels(sub.stream, sub.group, event.type, "skipped").inc()
                continue
            entries.append(_Entry(entry_id, fields, event))
        done = skipped
        try:
            if not entries:
                return
            error = await self._attempt(sub, entries, deliveries)
            if error is None:
                done += [entry.entry_id for entry in entries]
                return
            if len(entries) == 1:
                await self._give_up_or_wait(sub, entries[0], deliveries, error)
                return
            log.warning("batch failed: handling its entries one at a time", entries=len(entries), error=repr(error))
            for entry in entries:
                error = await self._attempt(sub, [entry], deliveries)
                if error is None:
                    done.append(entry.entry_id)
                else:
                    await self._give_up_or_wait(sub, entry, deliveries, error)
        except _Stopping:
            pass  # the entries not handled stay pending for the reclaimer
        finally:
            await self._ack(sub, done)

    async def _give_up_or_wait(self, sub: Subscription, entry: _Entry, deliveries: int, error: Exception) -> None:
        """A failed entry stays pending for the reclaimer, until its `max_deliveries`-th
        delivery fails: then it moves to the DLQ."""
        if deliveries >= self.settings.max_deliveries:
            await self._dead_letter(
                sub, entry.entry_id, entry.fields, deliveries, "max_deliveries",
                f"failed {deliveries} deliveries; last error: {error!r}"[:2000],
            )

    async def _attempt(self, sub: Subscription, entries: list[_Entry], deliveries: int) -> Exception | None:
        """The transaction, run again in place while PostgreSQL is unreachable (an outage is
        not a poison message). Returns the error of a failure with PostgreSQL answering;
        raises _Stopping if the consumer stops meanwhile."""
        error = await self._transaction(sub, entries, deliveries)
        while error is not None and await self._during_outage(error):
            log.warning("database unreachable: handling again as soon as it answers", entries=len(entries))
            if not await self._database_back():
                raise _Stopping
            error = await self._transaction(sub, entries, deliveries)
        return error

    async def _transaction(self, sub: Subscription, entries: list[_Entry], deliveries: int) -> Exception | None:
        """Inbox check and handler in one transaction. Returns the error when it failed (the
        entries then stay pending)."""
        if len(entries) == 1:  # the event's ids on every log line, as its correlation id
            with bind_event(entries[0].event, delivery=deliveries):
                return await self._run(sub, entries)
        return await self._run(sub, entries)

    async def _run(self, sub: Subscription, entries: list[_Entry]) -> Exception | None:
        started = time.perf_counter()
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                fresh_ids = await first_deliveries(conn, sub.inbox_consumer, [e.event.event_id for e in entries])
                fresh: list[Envelope] = []
                for entry in entries:
                    if entry.event.event_id in fresh_ids:
                        fresh_ids.discard(entry.event.event_id)  # a duplicate within the read: once
                        fresh.append(entry.event)
                if fresh:
                    await sub.handler(fresh, conn)
        except Exception as exc:
            for entry in entries:
                EVENT_FAILURES.labels(sub.stream, sub.group, entry.event.type).inc()
            log.exception("event handler failed; entries stay pending", entries=len(entries))
            return exc
        finally:
            HANDLER_SECONDS.labels(sub.stream, sub.group).observe(time.perf_counter() - started)
        if sub.batched:
            BATCH_ENTRIES.labels(sub.stream, sub.group).observe(len(entries))
        handled = {id(event) for event in fresh}
        for entry in entries:
            outcome = "handled" if id(entry.event) in handled else "duplicate"
            EVENTS_HANDLED.labels(sub.stream, sub.group, entry.event.type, outcome).inc()
        if len(entries) == 1:
            log.info("event handled" if fresh else "duplicate event skipped")
        else:
            log.info("events handled", entries=len(entries), handled=len(fresh),
                     event_ids=[str(event.event_id) for event in fresh])
        return None

    async def _ack(self, sub: Subscription, entry_ids: Sequence[str]) -> None:
        """One XACK for every entry whose effects are committed (or that needs none)."""
        if not entry_ids:
            return
        try:
            await self.redis.xack(self.settings.stream(sub.stream), sub.group, *entry_ids)
        except Exception as exc:
            # Effects are committed; the entries will be reclaimed and hit the inbox.
            log.warning("XACK failed; entries will be redelivered as duplicates", error=repr(exc))

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
            entry_id=entry_id,
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
