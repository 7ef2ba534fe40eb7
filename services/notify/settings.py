"""The notify service's settings: the common ones plus how webhooks are delivered.

Field names start with `notify_` because `inovasi up` runs every service from one
environment (INOVASI_NOTIFY_WEBHOOK_TIMEOUT_S, ...)."""

from __future__ import annotations

from pydantic import Field

from services.common.settings import Settings


class NotifySettings(Settings):
    # Run the delivery worker in this process (off: the API and consumer only).
    notify_deliver: bool = True
    # Per attempt, connect to last byte; a receiver should answer fast and work later.
    notify_webhook_timeout_s: float = Field(5.0, gt=0, le=60)
    # Attempts per delivery before it is marked failed (the first attempt counts).
    notify_max_attempts: int = Field(8, ge=1, le=50)
    # Retry n waits about initial * 2^(n-1), capped at max, with jitter (see domain/retry.py).
    notify_backoff_initial_s: float = Field(10.0, gt=0)
    notify_backoff_max_s: float = Field(3600.0, gt=0)
    # Deliveries claimed at most per query of the worker (it claims again as attempts end).
    notify_delivery_batch_size: int = Field(20, ge=1, le=500)
    # Deliveries being sent (or waiting for their receiver's turn) at once per process.
    notify_delivery_concurrency: int = Field(64, ge=1, le=2000)
    # Attempts in flight at once per receiver (a URL's scheme://host:port) per process: a
    # slow receiver holds at most this many of the above, the rest go on to the others.
    notify_target_concurrency: int = Field(4, ge=1, le=100)
    # Polling fallback when no NOTIFY arrives; also the longest sleep between rounds.
    notify_delivery_poll_s: float = Field(1.0, gt=0)
    # Bounds the fan-out a single region can cause.
    notify_max_subscriptions_per_region: int = Field(20, ge=1)
    # Off: webhooks go to public addresses only — subscriptions to localhost or a loopback,
    # link-local (169.254.169.254), private, unspecified, multicast or reserved IP are
    # refused, and an attempt whose host resolves to one fails. A region admin could
    # otherwise probe the platform's own network and read the answers in the delivery log.
    # On: for development and tests, whose receivers listen on 127.0.0.1.
    notify_allow_private_targets: bool = False

    @property
    def notify_lease_s(self) -> float:
        """How long a claimed delivery stays invisible to other workers: longer than any
        attempt, so only a crashed worker's claim expires and gets retried."""
        return 2 * self.notify_webhook_timeout_s + 30.0


def notify_settings(settings: Settings | None) -> NotifySettings:
    """The notify view of any Settings (the CLI and tests build plain `Settings`); notify's
    own fields (INOVASI_NOTIFY_*) come from the environment unless given."""
    if isinstance(settings, NotifySettings):
        return settings
    if settings is None:
        return NotifySettings()
    # Only the common fields are passed: an init argument would hide the environment, and
    # a plain Settings has no notify_* fields, so each of them is read from the environment.
    common = settings.model_dump(include=set(Settings.model_fields))
    return NotifySettings(**common)
