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
    "Handler runs that raised; the entry stays pending for the reclaimer.",
    ["stream", "group", "type"],
)
HANDLER_SECONDS = Histogram(
    "inovasi_handler_seconds",
    "Time to handle one event, transaction included.",
    ["stream", "group"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
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
