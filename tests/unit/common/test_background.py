"""The background loop under the outbox relay and the webhook delivery worker: rounds, early
wake-ups, backoff after failures, and a stop that waits for the round in flight, but not for
ever."""

from __future__ import annotations

import asyncio
import time

from services.common.background import BackgroundLoop


def loop_of(work, **kwargs) -> BackgroundLoop:  # type: ignore[no-untyped-def]
    options = {"backoff_initial_s": 0.05, "backoff_max_s": 0.2, "stop_timeout_s": 1.0}
    options.update(kwargs)
    return BackgroundLoop("test", work, **options)


async def until(condition, timeout: float = 2.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


async def test_a_round_asking_no_wait_is_followed_at_once_and_a_wait_is_cut_short_by_wake() -> None:
    rounds: list[float] = []

    async def work() -> float:
        rounds.append(time.monotonic())
        return 0.0 if len(rounds) < 3 else 30.0  # three rounds back to back, then a long wait

    loop = loop_of(work)
    await loop.start()
    try:
        await until(lambda: len(rounds) == 3)
        assert rounds[2] - rounds[0] < 0.5
        await asyncio.sleep(0.1)
        assert len(rounds) == 3  # waiting its 30 s
        loop.wake()
        await until(lambda: len(rounds) == 4)
        assert loop.running
    finally:
        await loop.stop()
    assert not loop.running


async def test_failures_back_off_exponentially_up_to_the_cap_and_are_not_cut_short() -> None:
    failures: list[float] = []
    attempts: list[float] = []

    async def work() -> float:
        attempts.append(time.monotonic())
        raise ConnectionError("server down")

    async def on_failure(error: Exception, retry_in_s: float) -> None:
        assert isinstance(error, ConnectionError)
        failures.append(retry_in_s)

    loop = loop_of(work, on_failure=on_failure)
    await loop.start()
    try:
        await until(lambda: len(failures) >= 2)
        loop.wake()  # a hint during a backoff does not shorten it
        await until(lambda: len(failures) >= 5)
    finally:
        await loop.stop()
    assert failures[:5] == [0.05, 0.1, 0.2, 0.2, 0.2]
    gaps = [later - earlier for earlier, later in zip(attempts, attempts[1:], strict=False)]
    assert all(gap >= backoff * 0.9 for gap, backoff in zip(gaps, failures, strict=False))


async def test_the_backoff_starts_again_after_a_round_succeeds() -> None:
    outcomes = iter([ConnectionError(), ConnectionError(), None, ConnectionError()])
    failures: list[float] = []

    async def work() -> float:
        outcome = next(outcomes, None)
        if outcome is not None:
            raise outcome
        return 0.0 if failures else 30.0

    async def on_failure(error: Exception, retry_in_s: float) -> None:
        failures.append(retry_in_s)

    loop = loop_of(work, on_failure=on_failure)
    await loop.start()
    try:
        await until(lambda: len(failures) == 3)
    finally:
        await loop.stop()
    assert failures == [0.05, 0.1, 0.05]


async def test_stop_lets_the_round_in_flight_finish() -> None:
    finished = asyncio.Event()

    async def work() -> float:
        await asyncio.sleep(0.2)
        finished.set()
        return 30.0

    loop = loop_of(work)
    await loop.start()
    await asyncio.sleep(0.05)  # the first round is under way
    await loop.stop()
    assert finished.is_set() and not loop.running


async def test_stop_cancels_a_round_that_outlasts_the_stop_timeout() -> None:
    cancelled = asyncio.Event()

    async def work() -> float:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return 0.0

    loop = loop_of(work, stop_timeout_s=0.1)
    await loop.start()
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await loop.stop()
    assert cancelled.is_set() and time.monotonic() - started < 1.0 and not loop.running
