"""Notify's Prometheus metrics (default registry, served at /metrics with the shared ones)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

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
