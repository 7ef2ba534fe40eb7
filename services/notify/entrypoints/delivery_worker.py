"""The delivery worker: a background task of the notify runtime that sends due webhook
deliveries until stopped.

Each round claims up to a batch of due deliveries (FOR UPDATE SKIP LOCKED, so several
workers or processes share the work without sending one attempt twice) and sends them
concurrently, outside any transaction. Between rounds it sleeps until the next delivery
is due, a NOTIFY announces new ones, or the poll interval passes. `stop()` lets the
attempts in flight finish (each is bounded by the webhook timeout)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time

import asyncpg

from services.common.db import WakeupListener
from services.common.logging import get_logger
from services.common.service import ServiceRuntime
from services.notify.adapters import store
from services.notify.adapters.webhook_sender import WebhookSender
from services.notify.handlers import DeliveryPolicy, attempt_delivery
from services.notify.settings import NotifySettings

log = get_logger(__name__)
STATE_KEY = "delivery_worker"


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
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._listener = WakeupListener(settings.database_url, self.channel, self._wakeup, owner="delivery worker")

    # --- one round ----------------------------------------------------------------------

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

    # --- loop ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name=f"notify-delivery-{self.channel}")

    async def stop(self) -> None:
        """Finish the attempts in flight (bounded by the graceful timeout), then stop."""
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), self.settings.graceful_timeout_s)
            except TimeoutError:
                # Unfinished attempts keep their lease and are retried after it ends.
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
        await self.sender.aclose()

    def wake(self) -> None:
        self._wakeup.set()

    async def _run(self) -> None:
        failure_backoff = self.settings.notify_delivery_poll_s
        try:
            while not self._stopping:
                self._wakeup.clear()
                await self._listener.ensure()
                try:
                    attempted = await self.deliver_due()
                    if attempted >= self.settings.notify_delivery_batch_size:
                        continue  # more may be due right now
                    async with self.pool.acquire() as conn:
                        due_in = await store.seconds_until_next_due(conn)
                except Exception as exc:  # PostgreSQL unavailable: deliveries wait in it
                    log.warning("delivery worker cannot reach its database; will retry", error=repr(exc))
                    await self._sleep(failure_backoff)
                    failure_backoff = min(failure_backoff * 2, 30.0)
                    continue
                failure_backoff = self.settings.notify_delivery_poll_s
                wait = self.settings.notify_delivery_poll_s
                if due_in is not None:
                    wait = min(wait, max(due_in, 0.0))
                if wait > 0:
                    await self._sleep(wait)
        finally:
            await self._listener.close()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), seconds)


async def start_worker(runtime: ServiceRuntime) -> None:
    """on_start hook: run the worker in this process when the settings say so."""
    settings = runtime.settings
    assert isinstance(settings, NotifySettings)
    if not settings.notify_deliver:
        return
    worker = DeliveryWorker(runtime.pool, settings, schema=runtime.schema)
    runtime.state[STATE_KEY] = worker
    await worker.start()


async def stop_worker(runtime: ServiceRuntime) -> None:
    worker = runtime.state.pop(STATE_KEY, None)
    if worker is not None:
        await worker.stop()
