"""One way to run background work in a service: the outbox relay and the webhook delivery
worker are both a `BackgroundLoop`.

A loop runs `work()` round after round until stopped. `work()` returns how long to wait
before the next round (0: at once, e.g. after a full batch). While waiting, `wake()` — or a
PostgreSQL NOTIFY on the loop's channel, a hint that new work was committed — starts the
next round early. When `work()` raises (PostgreSQL or Redis unreachable), the loop backs off
exponentially, without being woken early, and tries again. `stop()` lets the round in flight
finish, for at most `stop_timeout_s`, then cancels it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

from services.common.db import WakeupListener
from services.common.logging import get_logger

log = get_logger(__name__)

Work = Callable[[], Awaitable[float]]
FailureHook = Callable[[Exception, float], Awaitable[None]]


class BackgroundLoop:
    def __init__(
        self,
        name: str,
        work: Work,
        *,
        backoff_initial_s: float,
        backoff_max_s: float,
        stop_timeout_s: float,
        listen: tuple[str, str] | None = None,
        on_failure: FailureHook | None = None,
    ) -> None:
        """`listen`: (PostgreSQL DSN, channel) whose NOTIFYs wake the loop (a hint only: it
        also polls). `on_failure(error, retry_in_s)` is told of every failed round."""
        self.name = name
        self._work = work
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.stop_timeout_s = stop_timeout_s
        self._on_failure = on_failure
        self._wakeup = asyncio.Event()
        self._listener = (
            WakeupListener(listen[0], listen[1], self._wakeup, owner=name) if listen is not None else None
        )
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def wake(self) -> None:
        """Start the next round now rather than after the wait (in-process NOTIFY)."""
        self._wakeup.set()

    async def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Let the round in flight finish (at most `stop_timeout_s`), then stop."""
        self._stopping = True
        self._wakeup.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), self.stop_timeout_s)
        except TimeoutError:
            log.warning("background work did not finish in time; cancelled", loop=self.name)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        backoff = self.backoff_initial_s
        try:
            while not self._stopping:
                self._wakeup.clear()  # a hint arriving during the round triggers another one
                if self._listener is not None:
                    await self._listener.ensure()
                try:
                    wait = await self._work()
                except Exception as exc:
                    await self._failed(exc, backoff)
                    await self._sleep(backoff, wake_early=False)
                    backoff = min(backoff * 2, self.backoff_max_s)
                    continue
                backoff = self.backoff_initial_s
                if wait > 0:
                    await self._sleep(wait, wake_early=True)
        finally:
            if self._listener is not None:
                await self._listener.close()

    async def _failed(self, error: Exception, retry_in_s: float) -> None:
        if self._on_failure is None:
            log.warning("background work failed; will retry", loop=self.name, error=repr(error), retry_in_s=retry_in_s)
            return
        try:
            await self._on_failure(error, retry_in_s)
        except Exception:
            log.exception("failure hook failed", loop=self.name)

    async def _sleep(self, seconds: float, *, wake_early: bool) -> None:
        # stop() always interrupts; wake() and NOTIFY only while waiting for work, not while
        # backing off from a failure.
        deadline = time.monotonic() + seconds
        while not self._stopping:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            if wake_early or self._stopping:
                return
            self._wakeup.clear()
