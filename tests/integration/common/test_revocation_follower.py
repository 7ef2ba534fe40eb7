"""The revocations follower against a private Redis that the test stops and starts: it
catches up with web.events at start, follows it, survives Redis being down (at start and
while following, logging the outage once) and stops at once even while blocked in a read."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from redis.asyncio import Redis

from services.common import events as ev
from services.common import revocations as module
from services.common.revocations import RevocationFollower, Revocations
from tests.support import events as samples
from tests.support.infra import RedisServer, wait_until

pytestmark = pytest.mark.integration
STREAM = "t.web.events"


class RecordingLog:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __getattr__(self, level: str) -> Any:
        return lambda message, **_kw: self.calls.append((level, message))

    def count(self, level: str) -> int:
        return sum(1 for lvl, _ in self.calls if lvl == level)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> RecordingLog:
    log = RecordingLog()
    monkeypatch.setattr(module, "log", log)
    return log


def disabled(account: str, version: int = 2) -> ev.AccountEnvelope:
    return samples.account("account.disabled", account, version=version)


async def test_it_catches_up_at_start_follows_and_rides_out_redis_outages(recorded: RecordingLog) -> None:
    server = RedisServer(appendonly=True)
    server.start()
    redis = Redis.from_url(server.url)
    revocations = Revocations()
    follower = RevocationFollower(revocations, server.url, STREAM, catch_up_timeout_s=2.0)
    try:
        await redis.xadd(STREAM, ev.to_entry(disabled("acc-before")))
        await follower.start()
        assert revocations.is_disabled("acc-before")  # known before start() returns

        await redis.xadd(STREAM, ev.to_entry(samples.token_revoked("tok-live")))
        await wait_until(lambda: _true(revocations.is_revoked("tok-live")), timeout=5)

        server.stop()
        await wait_until(lambda: _true(recorded.count("warning") >= 1), timeout=10)
        await asyncio.sleep(3)  # several failed rounds (backoff up to 2 s), one warning
        assert recorded.count("warning") == 1
        assert revocations.is_disabled("acc-before")  # what it knew stays in force

        server.start()
        await redis.aclose()
        redis = Redis.from_url(server.url)  # the old connections died with the server
        await redis.xadd(STREAM, ev.to_entry(disabled("acc-after")))
        await wait_until(lambda: _true(revocations.is_disabled("acc-after")), timeout=5)
        assert recorded.count("warning") == 1 and any("again" in m for _, m in recorded.calls)

        started = time.monotonic()
        await follower.stop()  # while blocked in XREAD
        assert time.monotonic() - started < 0.5
    finally:
        await follower.stop()
        await redis.aclose()
        server.stop()
        server.close()


async def test_a_service_starts_with_redis_down_and_catches_up_when_it_is_back(recorded: RecordingLog) -> None:
    server = RedisServer(appendonly=True)
    revocations = Revocations()
    follower = RevocationFollower(revocations, server.url, STREAM, catch_up_timeout_s=2.0,
                                  backoff_initial_s=0.05, backoff_max_s=0.5)
    try:
        started = time.monotonic()
        await follower.start()  # nothing answers: no error, no long wait
        assert time.monotonic() - started < 2.5
        assert recorded.count("warning") == 1
        server.start()
        redis = Redis.from_url(server.url)
        try:
            await redis.xadd(STREAM, ev.to_entry(disabled("acc-1")))
            await wait_until(lambda: _true(revocations.is_disabled("acc-1")), timeout=5)
        finally:
            await redis.aclose()
    finally:
        await follower.stop()
        server.stop()
        server.close()


async def _true(value: bool) -> bool:
    return value

