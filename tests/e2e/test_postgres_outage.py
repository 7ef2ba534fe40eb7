"""PostgreSQL going away answers clearly and comes back quickly: with a private PostgreSQL
stopped under running services, reads and writes get a JSON 503 with Retry-After within
seconds (never a plain-text 500 or a dropped connection), nothing is changed, and once it is
back requests succeed and the events that failed meanwhile are handled within 2 s — not
after the reclaimer's idle time."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from devtools.embedded import EmbeddedPostgres
from services.common import events as ev
from services.platform import create_platform_app
from tests.support import events as sample
from tests.support.infra import free_port, wait_until
from tests.support.journeys import CYCLE, Journey
from tests.support.platform import cleanup, isolated_settings
from tests.support.servers import serve

pytestmark = pytest.mark.integration
REGION = "62.10"
ANSWER_WITHIN_S = 3.0
RECOVERED_WITHIN_S = 2.0


def accepting(dsn: str):  # type: ignore[no-untyped-def]
    async def connects() -> bool:
        try:
            conn = await asyncpg.connect(dsn, timeout=1)
        except Exception:
            return False
        await conn.close()
        return True

    return connects


async def timed(request) -> tuple[httpx.Response, float]:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    response = await request
    return response, time.monotonic() - started


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"] == "unavailable"
    assert int(response.headers["retry-after"]) >= 1


async def test_reads_and_writes_answer_503_during_an_outage_and_recover_within_2_s() -> None:
    # Not pytest's tmp_path (0700): PostgreSQL runs as an unprivileged user under root.
    data_dir = Path(tempfile.mkdtemp(prefix="inovasi-pg-outage-"))
    postgres = EmbeddedPostgres(data_dir, port=free_port())  # the same port after a restart
    dsn = postgres.start()
    # A reclaimer that would wait a minute: an event handled sooner was not left to it.
    settings = isolated_settings(database_url=dsn, reclaim_idle_ms=60_000)
    redis = Redis.from_url(settings.redis_url)
    try:
        app = create_platform_app(["intake", "scoring"], settings)
        async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
            journey = Journey(client, REGION)
            await journey.register_agency()
            innovation = await journey.create_innovation("Sebelum gangguan")
            read = f"/intake/v1/cycles/{CYCLE}/innovations/{innovation['id']}"
            answer = f"{read}/answers/sid-16"
            score = f"/scoring/v1/cycles/{CYCLE}/regions/{REGION}/score"

            postgres.stop()
            latencies = []
            for request in (
                client.get(read, headers=journey.operator),
                client.put(answer, json={"level": 3}, headers={**journey.operator, "If-Match": "1"}),
                client.get(score, headers=journey.viewer),
            ):
                response, took = await timed(request)
                assert_unavailable(response)
                latencies.append(took)
            assert max(latencies) < ANSWER_WITHIN_S, latencies
            # Events scoring cannot apply while PostgreSQL is down: an SPD answer and its evidence.
            for event in sample.spd_with_evidence("spd-01", 3, region=REGION):
                await redis.xadd(settings.stream(ev.stream_of(event.producer)), ev.to_entry(event))

            postgres.start()
            # The 2 s are the platform's, from when PostgreSQL accepts connections again: its own
            # recovery after the stop (replaying WAL) can take seconds on a slow machine.
            await wait_until(accepting(dsn), timeout=30, interval=0.05)
            restarted = time.monotonic()

            async def read_ok() -> bool:
                return (await client.get(read, headers=journey.operator)).status_code == 200

            async def spd_scored() -> bool:
                response = await client.get(score, headers=journey.viewer)
                return response.status_code == 200 and response.json()["claimed"]["spd"] != "0.0000"

            async def nothing_pending() -> bool:
                # Every entry scoring read, also one whose handling PostgreSQL's stop broke
                # off, is handled and acknowledged: none is left to the reclaimer (60 s).
                pending = [await redis.xpending(settings.stream(s), "scoring")
                           for s in (ev.INTAKE_STREAM, ev.EVIDENCE_STREAM)]
                return all(p["pending"] == 0 for p in pending)

            await wait_until(read_ok, timeout=10, interval=0.05)
            await wait_until(spd_scored, timeout=10, interval=0.05)
            await wait_until(nothing_pending, timeout=10, interval=0.05)
            recovered = time.monotonic() - restarted
            assert recovered < RECOVERED_WITHIN_S, recovered
            # The refused write changed nothing: the innovation is still at version 1.
            assert (await client.get(read, headers=journey.operator)).json()["version"] == 1
            print(f"\n503 during the outage in {[round(t * 1000) for t in latencies]} ms; "
                  f"recovered {recovered * 1000:.0f} ms after the restart")
    finally:
        await redis.aclose()
        await cleanup(settings)
        postgres.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
