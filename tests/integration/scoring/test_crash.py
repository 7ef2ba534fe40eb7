"""The scoring consumer as a real process, SIGKILLed with entries pending: after a restart
every event is applied exactly once and the scores equal a fresh recomputation."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest
from redis.asyncio import Redis

from services.common import events as ev
from tests.support.history import random_history
from tests.support.infra import free_port, wait_until
from tests.support.platform import cleanup, isolated_settings

pytestmark = pytest.mark.integration
REGIONS = ["62.10", "62.11", "62.71", "62", "11.01"]


def start_scoring(settings, log: Path) -> subprocess.Popen:
    env = {**os.environ, "INOVASI_LOG_JSON": "true"}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        value = value.get_secret_value() if hasattr(value, "get_secret_value") else value
        env[f"INOVASI_{name.upper()}"] = str(value)
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "scoring", "--host", "127.0.0.1", "--port", str(free_port())],
        env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )


async def test_sigkill_with_pending_entries_then_restart_applies_every_event_once(tmp_path):
    settings = isolated_settings(consumer_max_records=50, reclaim_idle_ms=2_000, reclaim_poll_ms=300)
    history = random_history(seed=11, regions=REGIONS, steps=1500)
    redis = Redis.from_url(settings.redis_url)
    schema = settings.schema_of("scoring")
    log = tmp_path / "scoring.log"
    process = start_scoring(settings, log)
    try:
        conn = await wait_until(lambda: _connect(settings.database_url), timeout=30)

        async def handled() -> int:
            try:
                return await conn.fetchval(f"SELECT count(*) FROM {schema}.inbox")
            except asyncpg.UndefinedTableError:
                return 0

        async def consumer_ready():
            # The groups are created when the consumer starts (at id 0, so nothing
            # published afterwards is missed).
            streams = [settings.stream(s) for s in (ev.INTAKE_STREAM, ev.EVIDENCE_STREAM)]
            if not all([await redis.exists(s) for s in streams]):
                return False
            return all([any(g["name"] == b"scoring" for g in await redis.xinfo_groups(s)) for s in streams])

        await wait_until(consumer_ready, timeout=30)
        async with redis.pipeline(transaction=False) as pipe:
            for event in history.events:
                pipe.xadd(settings.stream(ev.stream_of(event.producer)), ev.to_entry(event))
            await pipe.execute()

        await wait_until(lambda: _at_least(handled, 150), timeout=60)
        pending_before = await _pending(redis, settings)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        assert pending_before > 0, "the kill must leave entries pending"
        handled_at_kill = await handled()
        assert handled_at_kill < len(history.events)
        # The dead consumer's entries are still pending: nothing acknowledged them.
        assert await _pending(redis, settings) > 0

        process = start_scoring(settings, log)
        unique = len({e.event_id for e in history.events})
        await wait_until(lambda: _at_least(handled, unique), timeout=120, interval=0.5)
        await wait_until(lambda: _pending_is(redis, settings, 0), timeout=30)

        rows = await conn.fetch(f"SELECT event_id, count(*) AS n FROM {schema}.inbox GROUP BY event_id")
        assert {r["event_id"] for r in rows} == {e.event_id for e in history.events}
        assert all(r["n"] == 1 for r in rows)
        # Each applied event produced exactly one score version per region, no gaps, no repeats.
        versions = await conn.fetch(
            f"SELECT region, array_agg(version ORDER BY version) AS v FROM {schema}.scores GROUP BY region")
        for row in versions:
            assert row["v"] == list(range(1, len(row["v"]) + 1))
        current = {
            r["region"]: {"claimed": str(r["iid_claimed"]), "provisional": str(r["iid_provisional"]),
                          "validated": str(r["iid_validated"])}
            for r in await conn.fetch(f"SELECT * FROM {schema}.current_scores")
        }
        assert current == history.expected_iids()
        await conn.close()
    finally:
        process.kill()
        process.wait(timeout=10)
        await redis.aclose()
        await cleanup(settings)


async def _connect(dsn: str):
    try:
        return await asyncpg.connect(dsn)
    except OSError:
        return None


async def _at_least(count, n: int) -> bool:
    return (await count()) >= n


async def _pending(redis: Redis, settings) -> int:
    total = 0
    for stream in (ev.INTAKE_STREAM, ev.EVIDENCE_STREAM):
        summary = await redis.xpending(settings.stream(stream), "scoring")
        total += summary["pending"]
    return total


async def _pending_is(redis: Redis, settings, n: int) -> bool:
    return await _pending(redis, settings) == n
