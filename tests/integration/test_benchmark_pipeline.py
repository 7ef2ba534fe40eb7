"""benchmarks/pipeline.py still runs end to end on a tiny load: the platform (`inovasi up`),
its setup through the APIs, the open loop with the live feed, wrk, the ceilings, the summary —
and leaves nothing behind. Its figures are measured by running it, never asserted here."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest
from redis.asyncio import Redis

from tests.support.infra import DATABASE_URL, REDIS_URL

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed"),
]


def test_the_pipeline_benchmark_runs_and_prints_its_lines() -> None:
    done = subprocess.run(
        [sys.executable, "benchmarks/pipeline.py", "--mode", "up", "--runs", "1", "--duration", "2", "--rate", "20",
         "--operators", "4", "--connections", "4", "--regions", "2", "--clients", "1", "--ceiling-duration", "1",
         "--drain-timeout", "30", "--grace", "5"],
        cwd=ROOT, capture_output=True, text=True, timeout=170,
    )
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    out = done.stdout
    assert_lines_and_nothing_left(out, [
        r"^pipeline benchmark: \d+ CPUs",
        r"^\[up\] platform ready in",
        r"^\[up\] set up 4 operators",
        r"^\[up run 1/1\] open loop: 20/s offered for 2 s",
        r"^  offered \d+, sent \d+, accepted \(2xx\) \d+",
        r"^  write latency \(planned send → 2xx\): p50",
        r"^  write → SSE score\.updated \(planned send → update on the feed\): p50",
        r"^  2xx → SSE score\.updated: p50",
        r"^  end to end: \d+ of \d+ applied, .*\?after_event= reflected",
        r"^\[up run 1/1\] closed loop: wrk -t 2 -c 4",
        r"^  accepted \(2xx\) \d+ = \d+/s",
        r"^  end to end: \d+ applied = \d+/s; scoring done",
        r"^  \(a\) minimal FastAPI \+ PostgreSQL endpoint, same wrk command \(-c 4\): \d+/s",
        r"^  \(a\) open-loop generator .*: \d+/s 2xx \(its maximum\)",
        r"^  \(b\) redis-py XADD ×64 → XREADGROUP/XACK: \d+ entries/s",
        r"^  \(c\) asyncpg INSERT ×64 tasks on \d+ connections: \d+ rows/s",
        r"^  ratios \(-c 4\): end to end / minimal endpoint",
        r"^summary: mode up, \d+ CPUs, 1 run\(s\), min / median / max",
        r"^  answers/s end to end, wrk -c 4: ",
        r"^  end to end / minimal endpoint: ",
        r"^  end to end / raw Redis: ",
        r"^  p50 write → SSE \(ms\): .*; p99 write → SSE \(ms\): ",
    ])


def test_the_soak_benchmark_runs_samples_memory_and_leaves_nothing_behind() -> None:
    done = subprocess.run(
        [sys.executable, "benchmarks/soak.py", "--mode", "serve", "--duration", "4", "--rate", "10", "--warmup", "1",
         "--sample", "1", "--operators", "2", "--regions", "1", "--clients", "1", "--grace", "5",
         "--drain-timeout", "30"],
        cwd=ROOT, capture_output=True, text=True, timeout=170,
    )
    out = done.stdout
    assert done.returncode in (0, 1), done.stderr[-3000:] + out[-3000:]  # 1: the goal not met on so short a run
    assert_lines_and_nothing_left(out, [
        r"^soak: \d+ CPUs, mode serve, 10 answers/s for 4 s",
        r"^RSS \(MiB\) while the load ran:",
        r"^\s+[0-5]\s+\d+\.\d\s+\d+\.\d\s+\d+\.\d\s+\d+\.\d$",  # a sample: the four services
        r"^  scoring: \d+\.\d MiB after the warm-up \(1 s\), \d+\.\d at the end, highest \d+\.\d; change",
        r"^answers offered 40, accepted \(2xx\) 40, applied by scoring 40$",
        r"^memory flat over 4 s at 10 answers/s: (met|not met)$",
    ])


def assert_lines_and_nothing_left(out: str, lines: list[str]) -> None:
    """Every pattern matches a line of the output, and the run's schemas and streams (named
    by the prefix it printed) are gone."""
    for line in lines:
        assert re.search(line, out, re.MULTILINE), f"no line matching {line!r} in:\n{out}"
    prefix = re.search(r"schemas and streams prefixed (\w+)", out)
    assert prefix is not None
    assert asyncio.run(left_behind(prefix.group(1))) == ([], [])


async def left_behind(prefix: str) -> tuple[list[str], list[bytes]]:
    conn = await asyncpg.connect(DATABASE_URL)
    try:
        schemas = [r["nspname"] for r in await conn.fetch(
            "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)", prefix)]
    finally:
        await conn.close()
    redis = Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*", count=500)]
    finally:
        await redis.aclose()
    return schemas, keys
