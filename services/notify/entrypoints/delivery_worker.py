"""The delivery worker: a background loop of the notify service that sends due webhook
deliveries until stopped, many at once, without letting one receiver hold up the others.

* **Claims** (FOR UPDATE SKIP LOCKED, so several workers or processes share the work without
  sending one attempt twice) take what fits: at most `notify_delivery_concurrency`
  deliveries are in this process at once, being sent, waiting for their receiver's turn, or
  being recorded. A claim takes at most twice `notify_target_concurrency` deliveries of one
  receiver (a URL's `scheme://host:port`), and none of a receiver already that busy here;
  so a receiver with a long backlog gets its share of each claim, never the whole of it.
* **Sending**: each claimed delivery is its own task; per receiver at most
  `notify_target_concurrency` attempts are in flight, the others of that receiver wait for
  a turn (few, by the claim rule above, and never longer than their lease allows: one that
  would is given back unsent). A slow or dead receiver thus holds a handful of slots for at
  most the webhook timeout each, and everything else goes on. Connections are kept alive
  per receiver host name (adapters/webhook_sender.py says why that keeps "connect only to
  the checked address" and shares nothing between receivers).
* **Recording**: outcomes are stored in batches (handlers.record_attempts: one transaction
  for all attempts that ended meanwhile), then the next claim is made as slots free up.

Between claims it waits until slots free up, a NOTIFY announces new deliveries, the next
retry is due, or the poll interval passes. `stop()` claims nothing more, gives back what is
claimed but not yet sent, and lets the attempts in flight finish (each bounded by the
webhook timeout; all by the graceful timeout). The backlog gauge is sampled on a timer, not
by the delivery path."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass

import asyncpg

from services.common.background import BackgroundLoop
from services.common.logging import get_logger
from services.notify.adapters import store
from services.notify.adapters.store import AttemptOutcome, ClaimedDelivery
from services.notify.adapters.webhook_sender import WebhookSender
from services.notify.handlers import DeliveryPolicy, record_attempts, send_attempt
from services.notify.metrics import DELIVERIES_IN_FLIGHT, DELIVERY_BACKLOG
from services.notify.settings import NotifySettings

log = get_logger(__name__)
MAX_FAILURE_BACKOFF_S = 30.0
BACKLOG_SAMPLE_S = 15.0  # how often the backlog gauge is refreshed
# Waiting this long before the lease ends, a claim is given back rather than sent: its
# attempt could otherwise outlive the lease and be made twice.
LEASE_MARGIN_S = 5.0


@dataclass
class _Target:
    """One receiver's deliveries in this process: at most `slots` attempts at once."""

    slots: asyncio.Semaphore
    load: int = 0  # claimed and not finished (waiting for a slot, or sending)


class _Recorder:
    """Stores attempts' outcomes in batches: what ended while the previous batch was being
    written goes into the next one."""

    MAX_BATCH = 200

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._queue: list[tuple[AttemptOutcome, asyncio.Future[None]]] = []
        self._writing: asyncio.Task[None] | None = None

    async def record(self, attempt: AttemptOutcome) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((attempt, done))
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write())
        await asyncio.shield(done)  # a cancelled sender must not lose its outcome

    async def _write(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self.MAX_BATCH], self._queue[self.MAX_BATCH :]
            try:
                errors = await record_attempts(self.pool, [attempt for attempt, _ in batch])
            except Exception as exc:  # each waiter hears of it
                errors = [exc] * len(batch)
            for (_, done), error in zip(batch, errors, strict=True):
                if done.done():
                    continue
                if error is None:
                    done.set_result(None)
                else:
                    done.set_exception(error)


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
            keep_alive=settings.notify_target_concurrency,
        )
        self.policy = DeliveryPolicy(
            max_attempts=settings.notify_max_attempts,
            backoff_initial_s=settings.notify_backoff_initial_s,
            backoff_max_s=settings.notify_backoff_max_s,
        )
        self.concurrency = settings.notify_delivery_concurrency
        self.target_limit = settings.notify_target_concurrency
        # Deliveries of one receiver held here at once: its slots, and as many waiting for
        # them (so its slots never idle between claims); a receiver this busy is left out
        # of the next claim.
        self.target_queue = 2 * self.target_limit
        self._longest_wait_s = settings.notify_lease_s - settings.notify_webhook_timeout_s - LEASE_MARGIN_S
        # Claim again once this many slots are free (or nothing is in flight): not after
        # every single attempt, which would make a claim query per webhook.
        self._refill_at = max(1, min(settings.notify_delivery_batch_size, self.concurrency) // 2)
        self._random = random.SystemRandom()
        self._targets: dict[str, _Target] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._recorder = _Recorder(pool)
        self._stopping = False
        self._sampler: asyncio.Task[None] | None = None
        self._loop = BackgroundLoop(
            f"notify-delivery-{self.channel}",
            self._round,
            backoff_initial_s=settings.notify_delivery_poll_s,
            backoff_max_s=MAX_FAILURE_BACKOFF_S,
            stop_timeout_s=settings.graceful_timeout_s,
            listen=(settings.database_url, self.channel),
            on_failure=self._failed,
        )

    # --- one round at a time (tests, and the loop's building block) ------------------------

    async def deliver_due(self) -> int:
        """Claim what fits, send it, record every outcome; return how many were claimed.
        (The running worker does not wait for its attempts between claims; this does.)"""
        tasks = await self._claim_and_start()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        return len(tasks)

    async def _claim_and_start(self) -> list[asyncio.Task[None]]:
        free = self.concurrency - len(self._tasks)
        if free <= 0 or self._stopping:
            return []
        async with self.pool.acquire() as conn, conn.transaction():
            claims = await store.claim_due(
                conn,
                limit=min(free, self.settings.notify_delivery_batch_size),
                lease_s=self.settings.notify_lease_s,
                per_target=self.target_queue,
                skip_targets=self._busy_targets(),
            )
        return [self._start(claim) for claim in claims]

    def _busy_targets(self) -> list[str]:
        return [name for name, target in self._targets.items() if target.load >= self.target_queue]

    def _start(self, claim: ClaimedDelivery) -> asyncio.Task[None]:
        target = self._targets.get(claim.target)
        if target is None:
            target = self._targets[claim.target] = _Target(asyncio.Semaphore(self.target_limit))
        target.load += 1
        task = asyncio.create_task(self._deliver(claim, target, claimed_at=time.monotonic()))
        self._tasks.add(task)
        DELIVERIES_IN_FLIGHT.set(len(self._tasks))
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        DELIVERIES_IN_FLIGHT.set(len(self._tasks))
        if not task.cancelled() and task.exception() is not None:
            log.warning("delivery attempt not recorded", error=repr(task.exception()))
        if not self._tasks or self.concurrency - len(self._tasks) >= self._refill_at:
            self._loop.wake()  # room for another claim

    async def _deliver(self, claim: ClaimedDelivery, target: _Target, *, claimed_at: float) -> None:
        try:
            async with target.slots:
                if self._stopping or time.monotonic() - claimed_at > self._longest_wait_s:
                    await self._give_back(claim)
                    return
                attempt = await send_attempt(
                    self.sender, claim, self.policy, now=time.time(), jitter=self._random.random()
                )
        finally:
            target.load -= 1
            if target.load == 0 and self._targets.get(claim.target) is target:
                del self._targets[claim.target]
        # Recorded after the receiver's slot is free: its next webhook need not wait for this.
        await self._recorder.record(attempt)

    async def _give_back(self, claim: ClaimedDelivery) -> None:
        """A claim that will not be attempted now: due again at once, for any worker."""
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                await store.release_claims(conn, [claim])
        except Exception as exc:  # the lease brings it back all the same
            log.warning("claim not given back; its lease will end", delivery=claim.id, error=repr(exc))

    # --- the loop ----------------------------------------------------------------------

    async def start(self) -> None:
        self._stopping = False
        await self._loop.start()
        if self._sampler is None:
            self._sampler = asyncio.create_task(self._sample_backlog(), name=f"{self.channel}-backlog")

    async def stop(self) -> None:
        """Claim nothing more, give back what was claimed but not sent, let the attempts in
        flight finish (bounded by the graceful timeout), then stop."""
        self._stopping = True
        await self._loop.stop()
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler
            self._sampler = None
        if self._tasks:
            _, unfinished = await asyncio.wait(set(self._tasks), timeout=self.settings.graceful_timeout_s)
            for task in unfinished:  # their leases bring them back
                task.cancel()
            if unfinished:
                await asyncio.wait(unfinished)
        await self.sender.aclose()

    def wake(self) -> None:
        self._loop.wake()

    async def _round(self) -> float:
        requested = min(self.concurrency - len(self._tasks), self.settings.notify_delivery_batch_size)
        started = await self._claim_and_start()
        if requested > 0 and len(started) == requested:
            return 0.0  # more may be due: claim again (if slots are left, else when they are)
        wait = self.settings.notify_delivery_poll_s
        if requested <= 0:
            return wait  # every slot taken: woken when some are free again
        async with self.pool.acquire() as conn:
            due_in = await store.seconds_until_next_due(conn, self._busy_targets())
        # Due now, yet not claimed: locked by another worker, or of a busy receiver, whose
        # finishing attempts wake this loop.
        return wait if due_in is None or due_in <= 0 else min(wait, due_in)

    async def _failed(self, error: Exception, retry_in_s: float) -> None:
        # PostgreSQL unavailable: the deliveries wait in it.
        log.warning("delivery worker cannot reach its database; will retry", error=repr(error), retry_in_s=retry_in_s)

    async def _sample_backlog(self) -> None:
        """Refresh the backlog gauge every BACKLOG_SAMPLE_S (a count over the pending
        deliveries: never on the delivery path)."""
        while True:
            try:
                async with self.pool.acquire() as conn:
                    due, pending = await store.backlog(conn)
                DELIVERY_BACKLOG.labels("due").set(due)
                DELIVERY_BACKLOG.labels("pending").set(pending)
            except Exception as exc:  # noqa: BLE001 - the gauge keeps its last value
                log.debug("delivery backlog not sampled", error=repr(exc))
            await asyncio.sleep(BACKLOG_SAMPLE_S)
