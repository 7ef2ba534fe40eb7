"""A poison entry in the real scoring consumer: it goes to the dead-letter stream after the
delivery cap while later entries flow on, and `inovasi dlq list|replay` show it and bring it
back onto the stream. (That a replayed entry is then handled once its cause is fixed is
tested on the plumbing in tests/integration/common/test_bus.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from redis.asyncio import Redis

from services.common import events as ev
from services.common.dlq import dlq_list
from services.scoring.app import create_app
from tests.support import events as sample
from tests.support.infra import wait_until
from tests.support.platform import cleanup, isolated_settings, running, token

pytestmark = pytest.mark.integration


def inovasi(settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "INOVASI_REDIS_URL": settings.redis_url, "INOVASI_STREAM_PREFIX": settings.stream_prefix}
    command = [sys.executable, "-m", "services.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


async def test_poison_goes_to_the_dlq_others_flow_and_replay_brings_it_back():
    settings = isolated_settings(max_deliveries=2, reclaim_idle_ms=300, reclaim_poll_ms=100)
    redis = Redis.from_url(settings.redis_url)
    key = settings.stream(ev.INTAKE_STREAM)
    # 99.99 has the shape of a region code but is not one of the 546: scoring fails on it
    # every time.
    poison = sample.spd_answer_set("spd-01", 3, region="99.99")
    before = sample.spd_with_evidence("spd-01", 3, region="62.10")
    after = sample.spd_with_evidence("spd-01", 2, region="62.11")
    try:
        async with running(create_app(settings)) as client:
            for event in (*before, poison, *after):
                stream = settings.stream(ev.stream_of(event.producer))
                await redis.xadd(stream, ev.to_entry(event))

            async def scored(code: str):
                body = (await client.get(f"/v1/cycles/2026/regions/{code}/score", headers=token("viewer"))).json()
                return body["version"] > 0

            await wait_until(lambda: scored("62.10"), timeout=15)
            await wait_until(lambda: scored("62.11"), timeout=15)
            dead = await wait_until(lambda: dlq_list(redis, key), timeout=15)
            assert [d.event_id for d in dead] == [str(poison.event_id)]
            assert dead[0].deliveries == settings.max_deliveries
            assert "99.99" in dead[0].reason

            listed = inovasi(settings, "dlq", "list", "intake.events", "--json")
            assert listed.returncode == 0, listed.stderr
            letters = json.loads(listed.stdout)
            assert [(letter["event_id"], letter["group"]) for letter in letters] == [(str(poison.event_id), "scoring")]

            entries_before = await redis.xlen(key)
            replayed = inovasi(settings, "dlq", "replay", "intake.events", letters[0]["id"])
            assert replayed.returncode == 0, replayed.stderr
            assert await redis.xlen(key) == entries_before + 1
            newest = (await redis.xrevrange(key, count=1))[0][1]
            assert ev.from_entry(newest).event_id == poison.event_id  # the same event, back on the stream
            # It is delivered again: still failing, it returns to the DLQ after the cap.
            again = await wait_until(lambda: dlq_list(redis, key), timeout=15)
            assert [d.event_id for d in again] == [str(poison.event_id)]

            unknown = inovasi(settings, "dlq", "replay", "intake.events", "1-1")
            assert unknown.returncode == 2 and "no dead letter" in unknown.stderr
    finally:
        await redis.aclose()
        await cleanup(settings)
