"""Prometheus metrics shared by all services (default registry, served at /metrics), and
`StreamGroupGauges`, which samples the consumer groups' lag and pending entries.

Stream labels use logical names ("intake.events"), without the deployment's prefix.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter, Gauge, Histogram

from services.common.background import BackgroundLoop
from services.common.logging import get_logger

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = get_logger(__name__)

HTTP_REQUEST_SECONDS = Histogram(
    "inovasi_http_request_seconds",
    "Time from a request's arrival to its response's start (status and headers): the whole "
    "answer for most routes, only the opening of a stream (the live feed, SSE) or of a download. "
    "`route` is the route's path template, or `unmatched` (no route: 404s, slash redirects, "
    "bodies refused by their Content-Length before routing).",
    ["service", "route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

EVENTS_HANDLED = Counter(
    "inovasi_events_handled_total",
    "Stream entries a consumer group finished: handled, duplicate (inbox hit) or skipped "
    "(type not subscribed).",
    ["stream", "group", "type", "outcome"],
)
EVENT_FAILURES = Counter(
    "inovasi_event_failures_total",
    "Entries whose handling raised (each entry of a failed batch once); they stay pending "
    "for the reclaimer.",
    ["stream", "group", "type"],
)
HANDLER_SECONDS = Histogram(
    "inovasi_handler_seconds",
    "Time to handle one entry, or one batch of entries, transaction included.",
    ["stream", "group"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BATCH_ENTRIES = Histogram(
    "inovasi_consumer_batch_entries",
    "Entries handled in one transaction by a batch subscription (one read of the stream).",
    ["stream", "group"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)
SCORING_COALESCED = Histogram(
    "inovasi_scoring_events_per_recompute",
    "Events applied to a region by one recomputation (one batch): how much a batch coalesces.",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)
INTAKE_WRITE_GROUP = Histogram(
    "inovasi_intake_changes_per_write",
    "Answer and status changes intake wrote in one statement (services/intake/adapters/"
    "grouped_writes.py): 1 when requests come one at a time, more under a rush.",
    buckets=(1, 2, 5, 10, 20, 50, 100),
)
DLQ_MOVES = Counter(
    "inovasi_dlq_moves_total",
    "Entries moved to a dead-letter stream.",
    ["stream", "group", "reason"],
)
OUTBOX_BACKLOG = Gauge(
    "inovasi_outbox_backlog",
    "Outbox rows not yet published to Redis.",
    ["schema"],
)
OUTBOX_PUBLISHED = Counter(
    "inovasi_outbox_published_total",
    "Outbox rows published to Redis.",
    ["schema"],
)
FEED_CLIENTS = Gauge(
    "inovasi_feed_clients",
    "Live feed (SSE) clients this process is sending a stream's events to (services/common/fanout.py).",
    ["stream"],
)
FEED_DROPS = Counter(
    "inovasi_feed_clients_dropped_total",
    "Live feed clients dropped for reading too slowly (their queue of events to send overflowed); "
    "they resume with Last-Event-ID.",
    ["stream"],
)
STREAM_LAG = Gauge(
    "inovasi_stream_lag",
    "Entries of a stream its consumer group has not read yet (XINFO GROUPS `lag`), sampled every "
    "few seconds by each process consuming it; absent when Redis cannot tell (before Redis 7, or "
    "after entries were deleted) or cannot be reached.",
    ["stream", "group"],
)
STREAM_PENDING = Gauge(
    "inovasi_stream_pending",
    "Entries a consumer group has read but not acknowledged yet (XINFO GROUPS `pending`): being "
    "handled, or left by a failed handler or a dead process for the reclaimer; sampled with "
    "inovasi_stream_lag.",
    ["stream", "group"],
)


class StreamGroupGauges:
    """Samples the lag and pending entries of consumer groups (one pipelined XINFO GROUPS per
    stream, every `interval_s`) into `inovasi_stream_lag` and `inovasi_stream_pending`.

    A `BackgroundLoop` on a Redis client of its own (no number of HTTP requests can starve
    it). A sample that fails (Redis unreachable) never raises: it is logged (a warning once
    per outage, then at debug), the gauges are removed until a sample succeeds again (absent
    rather than stale), and the next tick tries again. `stop()` removes them too."""

    def __init__(
        self,
        redis: Redis,
        groups: Iterable[tuple[str, str]],
        *,
        stream_prefix: str = "",
        interval_s: float = 5.0,
        stop_timeout_s: float = 1.0,
    ) -> None:
        """`groups`: (logical stream, group) pairs; the keys are `stream_prefix + stream`."""
        self.redis = redis
        self.stream_prefix = stream_prefix
        self.interval_s = interval_s
        self._groups: dict[str, list[str]] = {}
        for stream, group in groups:
            names = self._groups.setdefault(stream, [])
            if group not in names:
                names.append(group)
        self._failing = False
        self._loop = BackgroundLoop(
            "stream-group-gauges",
            self._round,
            backoff_initial_s=interval_s,  # a failed sample: the next tick tries again
            backoff_max_s=interval_s,
            stop_timeout_s=stop_timeout_s,
            on_failure=self._failed,
        )

    @property
    def running(self) -> bool:
        return self._loop.running

    async def start(self) -> None:
        if self._groups:
            await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
        self._forget()

    async def sample(self) -> None:
        """One sample of every group: sets the gauges. Raises when Redis cannot be reached."""
        streams = list(self._groups)
        async with self.redis.pipeline(transaction=False) as pipe:
            for stream in streams:
                pipe.xinfo_groups(self.stream_prefix + stream)
            replies = await pipe.execute(raise_on_error=False)
        for stream, reply in zip(streams, replies, strict=True):
            if isinstance(reply, Exception):  # e.g. the stream was deleted
                log.debug("cannot sample the groups of a stream", stream=stream, error=repr(reply))
                self._forget(stream)
                continue
            found: dict[str, dict[str, Any]] = {_text(info["name"]): info for info in reply}
            for group in self._groups[stream]:
                info = found.get(group)
                if info is None:
                    self._forget(stream, group)
                    continue
                STREAM_PENDING.labels(stream, group).set(int(info["pending"]))
                lag = info.get("lag")
                if lag is None:
                    _remove(STREAM_LAG, stream, group)
                else:
                    STREAM_LAG.labels(stream, group).set(int(lag))

    async def _round(self) -> float:
        await self.sample()
        if self._failing:
            self._failing = False
            log.info("consumer groups sampled again")
        return self.interval_s

    async def _failed(self, error: Exception, retry_in_s: float) -> None:
        self._forget()
        if self._failing:
            log.debug("cannot sample the consumer groups", error=repr(error), retry_in_s=retry_in_s)
            return
        self._failing = True
        log.warning(
            "cannot sample the consumer groups' lag; will retry", error=repr(error), retry_in_s=retry_in_s
        )

    def _forget(self, stream: str | None = None, group: str | None = None) -> None:
        for name, groups in self._groups.items():
            if stream is not None and name != stream:
                continue
            for each in groups:
                if group is None or each == group:
                    _remove(STREAM_LAG, name, each)
                    _remove(STREAM_PENDING, name, each)


def _remove(gauge: Gauge, *labels: str) -> None:
    with contextlib.suppress(KeyError):
        gauge.remove(*labels)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
