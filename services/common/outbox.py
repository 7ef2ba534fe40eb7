"""Transactional outbox: events commit with the state that caused them, a relay publishes.

A service calls `enqueue(conn, event)` (or `enqueue_many`) inside the transaction of its
business write, so a 2xx means both are committed. `OutboxRelay` moves committed rows to
Redis: it claims unpublished rows by leasing them for `lease_s` (one statement, `FOR UPDATE
SKIP LOCKED`: several relays share the work, none takes a row another holds), XADDs them in
id order (one pipeline) and stamps them published (one statement). No transaction is held
open across the XADDs. If Redis is down the relay gives its lease back and the rows wait; a
relay that dies holding a lease leaves its rows to be claimed again once the lease runs out,
and one that dies between XADD and stamp publishes a row twice, which consumers absorb
through their inbox. Rows from transactions committing out of id order may be published out
of order; consumers order by `version`, not by arrival. The XADDs of a round are bounded to
half the lease, so a stalled Redis cannot keep rows past their lease while another relay
takes them; a round cancelled at shutdown keeps its lease, and its rows wait for it to run out.

A round costs two PostgreSQL round trips (claim, stamp) however many rows it carries, so the
relay lets rows gather: woken by a commit (NOTIFY, or `wake()` in process),
it waits `coalesce_s` before claiming (a full batch is followed at once by the next). The
backlog gauge is sampled at most every BACKLOG_SAMPLE_S, off the path of a round that
publishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import asyncpg

from services.common.background import BackgroundLoop
from services.common.db import Connection, check_schema_name
from services.common.events import STREAMS, WEB_STREAM, BaseEnvelope, entry_fields, stream_of
from services.common.logging import get_logger
from services.common.metrics import OUTBOX_BACKLOG, OUTBOX_PUBLISHED

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from services.common.settings import Settings

log = get_logger(__name__)


async def enqueue(conn: Connection, event: BaseEnvelope, stream: str | None = None) -> None:
    """Insert `event` into this schema's outbox, in the caller's transaction.

    `stream` is the logical stream (default: the producer's); the relay adds the prefix.
    """
    if not conn.is_in_transaction():
        raise RuntimeError("enqueue must run inside the transaction of the business write")
    stream = _checked_stream(event, stream)
    await conn.execute(
        "INSERT INTO outbox (event_id, stream, type, payload) VALUES ($1, $2, $3, $4)",
        event.event_id,
        stream,
        event.type,
        event.model_dump_json(),
    )


def _checked_stream(event: BaseEnvelope, stream: str | None) -> str:
    stream = stream or stream_of(event.producer)
    if stream not in STREAMS:
        raise ValueError(f"unknown stream {stream!r}; expected one of {', '.join(STREAMS)}")
    return stream


def insert_for_each(source: str, first_parameter: int) -> str:
    """SQL that enqueues one event for each row of `source` — a data-modifying CTE of the same
    statement, usually the business write's `UPDATE … RETURNING` — with the event in the
    four parameters from `$first_parameter` on (`outbox_parameters`). A write that changes
    nothing enqueues nothing, and a single statement is its own transaction: the state and
    its event commit together in one round trip, without BEGIN and COMMIT."""
    n = first_parameter
    return (
        "INSERT INTO outbox (event_id, stream, type, payload) "
        f"SELECT ${n}::uuid, ${n + 1}::text, ${n + 2}::text, ${n + 3}::json FROM {source}"
    )


def outbox_parameters(event: BaseEnvelope, stream: str | None = None) -> tuple[Any, str, str, str]:
    """The parameters of `insert_for_each`: the event's id, stream, type and wire JSON."""
    return event.event_id, _checked_stream(event, stream), event.type, event.model_dump_json()


def insert_many(first_parameter: int) -> str:
    """SQL that enqueues several events in one statement, in their order, each on its
    producer's stream: the four array parameters from `$first_parameter` on
    (`many_parameters`). Usable as a data-modifying CTE of a larger statement."""
    n = first_parameter
    return (
        "INSERT INTO outbox (event_id, stream, type, payload) SELECT event_id, stream, type, payload "
        f"FROM unnest(${n}::uuid[], ${n + 1}::text[], ${n + 2}::text[], ${n + 3}::json[]) WITH ORDINALITY "
        "AS e(event_id, stream, type, payload, n) ORDER BY n"
    )


def many_parameters(events: Sequence[BaseEnvelope]) -> tuple[list[Any], list[str], list[str], list[str]]:
    """The parameters of `insert_many`: the events' ids, streams, types and wire JSON."""
    return (
        [event.event_id for event in events],
        [stream_of(event.producer) for event in events],
        [event.type for event in events],
        [event.model_dump_json() for event in events],
    )


async def enqueue_many(conn: Connection, events: Sequence[BaseEnvelope]) -> None:
    """Insert `events` into this schema's outbox in one statement, in the caller's
    transaction and in this order, each on its producer's stream."""
    if not conn.is_in_transaction():
        raise RuntimeError("enqueue_many must run inside the transaction of the business write")
    if not events:
        return
    await conn.execute(insert_many(1), *many_parameters(events))


class OutboxRelay:
    """Publishes one schema's outbox to Redis until stopped: a `BackgroundLoop` whose round
    is `publish_batch()`. `start()` / `stop()`, or `await publish_batch()` to drive it by
    hand (tests, the CLI)."""

    BACKLOG_SAMPLE_S = 5.0  # how often a drained relay counts the backlog for the gauge
    # How long a claim holds its rows: far longer than a round takes (a pipeline of XADDs),
    # and as long as the rows of a relay that died wait before another takes them.
    LEASE_S = 10.0

    def __init__(
        self,
        pool: asyncpg.Pool,
        redis: Redis,
        *,
        schema: str,
        dsn: str | None = None,
        stream_prefix: str = "",
        batch_size: int = 100,
        poll_interval: float = 1.0,
        backoff_initial: float = 0.2,
        backoff_max: float = 10.0,
        stream_maxlen: int | None = None,
        retention_s: float = 7 * 24 * 3600,
        purge_every_s: float = 300.0,
        stop_timeout_s: float = 30.0,
        coalesce_s: float = 0.0,
    ) -> None:
        self.pool = pool
        self.redis = redis
        self.schema = check_schema_name(schema)
        self.stream_prefix = stream_prefix
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.stream_maxlen = stream_maxlen
        self.retention_s = retention_s
        self.purge_every_s = purge_every_s
        self.coalesce_s = coalesce_s
        self.channel = f"{schema}.outbox"  # matches outbox_notify() in sql/001_outbox_inbox.sql
        self._purged_at = float("-inf")
        self._sampled_at = float("-inf")
        self._drained = True  # the previous round left nothing: the next one was woken
        self._loop = BackgroundLoop(
            f"outbox-relay-{self.schema}",
            self._round,
            backoff_initial_s=backoff_initial,
            backoff_max_s=backoff_max,
            stop_timeout_s=stop_timeout_s,
            listen=(dsn, self.channel) if dsn is not None else None,  # None: polling only
            on_failure=self._failed,
        )

    @classmethod
    def from_settings(
        cls, settings: Settings, pool: asyncpg.Pool, redis: Redis, *, service: str
    ) -> OutboxRelay:
        return cls(
            pool,
            redis,
            schema=settings.schema_of(service),
            dsn=settings.database_url,
            stream_prefix=settings.stream_prefix,
            batch_size=settings.outbox_batch_size,
            poll_interval=settings.outbox_poll_s,
            backoff_initial=settings.outbox_backoff_initial_s,
            backoff_max=settings.outbox_backoff_max_s,
            stream_maxlen=settings.stream_maxlen,
            retention_s=settings.outbox_retention_s,
            stop_timeout_s=settings.graceful_timeout_s,
            coalesce_s=settings.outbox_coalesce_ms / 1000,
        )

    # --- one step ---------------------------------------------------------------------

    async def publish_batch(self) -> int:
        """Publish up to batch_size unpublished rows; return how many. Raises (and leaves
        the rows unpublished) when Redis or PostgreSQL fails."""
        async with self.pool.acquire() as conn:
            claimed = await conn.fetch(
                f"""UPDATE {self.schema}.outbox SET lease_until = now() + make_interval(secs => $2)
                    WHERE id IN (
                        SELECT id FROM {self.schema}.outbox
                        WHERE published_at IS NULL AND (lease_until IS NULL OR lease_until < now())
                        ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
                    RETURNING id, event_id, stream, type, payload, lease_until""",
                self.batch_size, self.LEASE_S,
            )
            if not claimed:
                return 0
            rows = sorted(claimed, key=lambda row: row["id"])  # RETURNING has no order
            ids = [row["id"] for row in rows]
            lease = rows[0]["lease_until"]  # one value for the whole claim: now() is the statement's
            try:
                # Well within the lease, or another relay could take the rows while these
                # XADDs still wait for a stalled Redis (with its client's retries).
                async with asyncio.timeout(self.LEASE_S / 2), self.redis.pipeline(transaction=False) as pipe:
                    for row in rows:
                        pipe.xadd(
                            self.stream_prefix + row["stream"],
                            entry_fields(row["payload"], row["type"], str(row["event_id"])),  # type: ignore[arg-type]
                            # web.events is never trimmed: services replay it whole at start-up
                            # to know every disabled account and revoked token.
                            maxlen=None if row["stream"] == WEB_STREAM else self.stream_maxlen,
                            approximate=True,
                        )
                    entry_ids = await pipe.execute()
            except Exception:
                # Redis failed: the rows are free for the next round at once. (If PostgreSQL
                # failed too, the lease runs out.)
                # Only the lease this round holds: not one another relay took since.
                with contextlib.suppress(Exception):
                    await conn.execute(
                        f"""UPDATE {self.schema}.outbox SET lease_until = NULL
                            WHERE id = ANY($1::bigint[]) AND lease_until = $2""",
                        ids, lease,
                    )
                raise
            await conn.execute(
                f"""UPDATE {self.schema}.outbox o SET published_at = now(), entry_id = p.entry_id
                    FROM unnest($1::bigint[], $2::text[]) AS p(id, entry_id) WHERE o.id = p.id""",
                ids,
                [_text(entry_id) for entry_id in entry_ids],
            )
        OUTBOX_PUBLISHED.labels(self.schema).inc(len(rows))
        return len(rows)

    async def backlog(self) -> int:
        """Count the unpublished rows (a `count(*)`: not on every round) and set the gauge."""
        self._sampled_at = time.monotonic()
        async with self.pool.acquire() as conn:
            count = await conn.fetchval(
                f"SELECT count(*) FROM {self.schema}.outbox WHERE published_at IS NULL"
            )
        OUTBOX_BACKLOG.labels(self.schema).set(count)
        return int(count)

    async def purge(self) -> int:
        """Delete rows published longer than retention_s ago."""
        async with self.pool.acquire() as conn:
            status = await conn.execute(
                f"""DELETE FROM {self.schema}.outbox
                    WHERE published_at < now() - make_interval(secs => $1)""",
                float(self.retention_s),
            )
        return int(status.split()[-1])

    # --- loop -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._loop.running

    def wake(self) -> None:
        """Publish now rather than at the next poll (in-process alternative to NOTIFY)."""
        self._loop.wake()

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        """Finish the batch in flight (for at most the graceful timeout; a batch cut short
        is published again, which consumers absorb through their inbox), then stop."""
        await self._loop.stop()

    async def _round(self) -> float:
        if self._drained and self.coalesce_s > 0:
            # Woken by a commit (or the poll): let the rows of the commits just behind it
            # gather, so that one round carries them all.
            await asyncio.sleep(self.coalesce_s)
        published = await self.publish_batch()
        self._drained = published < self.batch_size
        if not self._drained:
            return 0.0  # more may be waiting
        if time.monotonic() - self._sampled_at >= self.BACKLOG_SAMPLE_S:
            await self.backlog()
        if time.monotonic() - self._purged_at >= self.purge_every_s:
            self._purged_at = time.monotonic()
            await self.purge()
        return self.poll_interval  # drained: wait for a hint or the poll

    async def _failed(self, error: Exception, retry_in_s: float) -> None:
        # Redis or PostgreSQL unavailable: the rows wait.
        with contextlib.suppress(Exception):
            await self.backlog()  # keep the gauge growing for alerts
        log.warning(
            "outbox relay cannot publish; will retry", schema=self.schema, error=repr(error), retry_in_s=retry_in_s
        )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
