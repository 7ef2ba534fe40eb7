"""Notify's Prometheus metrics (default registry, served at /metrics with the shared ones)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

WEBHOOK_ATTEMPTS = Counter(
    "inovasi_notify_webhook_attempts_total",
    "Webhook POSTs made, by kind and outcome (delivered, retry, failed).",
    ["kind", "outcome"],
)
WEBHOOK_SECONDS = Histogram(
    "inovasi_notify_webhook_seconds",
    "Time of one webhook POST, until the answer or the error.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
DELIVERIES_QUEUED = Counter(
    "inovasi_notify_deliveries_queued_total",
    "Pending deliveries created from events, by kind.",
    ["kind"],
)
DELIVERY_BACKLOG = Gauge(
    "inovasi_notify_delivery_backlog",
    "Pending webhook deliveries: due now (status=due), or all, retries scheduled later included "
    "(status=pending). Sampled every 15 s by the delivery worker.",
    ["status"],
)
DELIVERIES_IN_FLIGHT = Gauge(
    "inovasi_notify_deliveries_in_flight",
    "Deliveries this process has claimed and not finished: being sent, waiting for their "
    "receiver's turn, or being recorded.",
)
