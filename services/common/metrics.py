"""Prometheus metrics shared by all services (default registry, served at /metrics).

Stream labels use logical names ("intake.events"), without the deployment's prefix.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
