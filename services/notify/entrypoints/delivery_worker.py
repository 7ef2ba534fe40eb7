"""The delivery worker: a background loop of the notify service that sends due webhook
deliveries until stopped.

Each round claims up to a batch of due deliveries (FOR UPDATE SKIP LOCKED, so several
workers or processes share the work without sending one attempt twice) and sends them
concurrently, outside any transaction. Between rounds it waits until the next delivery is
due, a NOTIFY announces new ones, or the poll interval passes. `stop()` lets the attempts in
flight finish (each is bounded by the webhook timeout; all by the graceful timeout)."""

from __future__ import annotations

import asyncio
import random
import time

import asyncpg

from services.common.background import BackgroundLoop
from services.common.logging import get_logger
from services.notify.adapters import store
from services.notify.adapters.webhook_sender import WebhookSender
from services.notify.handlers import DeliveryPolicy, attempt_delivery
from services.notify.settings import NotifySettings

log = get_logger(__name__)
MAX_FAILURE_BACKOFF_S = 30.0


class DeliveryWorker:
    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: NotifySettings,
        *,
        schema: str,
        sender: WebhookSender | None = None,
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.channel = f"{schema}.deliveries"  # matches deliveries_notify() in 001_webhooks.sql
        self.sender = sender or WebhookSender(
            timeout_s=settings.notify_webhook_timeout_s,
            allow_private_targets=settings.notify_allow_private_targets,
        )
        self.policy = DeliveryPolicy(
            max_attempts=settings.notify_max_attempts,
            backoff_initial_s=settings.notify_backoff_initial_s,
            backoff_max_s=settings.notify_backoff_max_s,
        )
        self._random = random.SystemRandom()
        self._loop = BackgroundLoop(
            f"notify-delivery-{self.channel}",
            self._round,
            backoff_initial_s=settings.notify_delivery_poll_s,
            backoff_max_s=MAX_FAILURE_BACKOFF_S,
            # Unfinished attempts keep their lease and are retried after it ends.
            stop_timeout_s=settings.graceful_timeout_s,
            listen=(settings.database_url, self.channel),
            on_failure=self._failed,
        )

    async def deliver_due(self) -> int:
        """Claim and send one batch of due deliveries; return how many were attempted."""
        async with self.pool.acquire() as conn, conn.transaction():
            claims = await store.claim_due(
                conn, limit=self.settings.notify_delivery_batch_size, lease_s=self.settings.notify_lease_s
            )
        if claims:
            results = await asyncio.gather(
                *(
                    attempt_delivery(
                        self.pool, self.sender, claim, self.policy, now=time.time(), jitter=self._random.random()
                    )
                    for claim in claims
                ),
                return_exceptions=True,
            )
            for claim, result in zip(claims, results, strict=True):
                if isinstance(result, BaseException):  # e.g. database down: the lease brings it back
                    log.warning("delivery attempt not recorded", delivery=claim.id, error=repr(result))
        return len(claims)

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        """Finish the attempts in flight (bounded by the graceful timeout), then stop."""
        await self._loop.stop()
        await self.sender.aclose()

    def wake(self) -> None:
        self._loop.wake()

    async def _round(self) -> float:
        if await self.deliver_due() >= self.settings.notify_delivery_batch_size:
            return 0.0  # more may be due right now
        async with self.pool.acquire() as conn:
            due_in = await store.seconds_until_next_due(conn)
        wait = self.settings.notify_delivery_poll_s
        return wait if due_in is None else min(wait, max(due_in, 0.0))

    async def _failed(self, error: Exception, retry_in_s: float) -> None:
        # PostgreSQL unavailable: the deliveries wait in it.
        log.warning("delivery worker cannot reach its database; will retry", error=repr(error), retry_in_s=retry_in_s)
