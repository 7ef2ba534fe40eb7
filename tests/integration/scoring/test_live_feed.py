"""The live feed: Server-Sent Events of score updates over a real HTTP server, filtered by
region or province, resumed with Last-Event-ID without missing anything."""

from __future__ import annotations

import httpx
import pytest
from redis.asyncio import Redis

from services.common import events as ev
from services.scoring.app import create_app
from tests.support import events as sample
from tests.support.infra import wait_until
from tests.support.platform import cleanup, isolated_settings, token
from tests.support.servers import listen_sse, serve

pytestmark = pytest.mark.integration


async def test_sse_filters_and_resumes_with_last_event_id():
    settings = isolated_settings()
    redis = Redis.from_url(settings.redis_url)
    intake = settings.stream(ev.INTAKE_STREAM)
    try:
        async with serve(create_app(settings)) as base, httpx.AsyncClient(base_url=base) as client:
            url = "/v1/cycles/2026/stream?province=62"
            async with listen_sse(client, url, token("viewer")) as feed:
                await redis.xadd(intake, ev.to_entry(sample.spd_answer_set("spd-01", 3, region="62.10")))
                # other province
                await redis.xadd(intake, ev.to_entry(sample.spd_answer_set("spd-01", 3, region="11.01")))
                await redis.xadd(intake, ev.to_entry(sample.spd_answer_set("spd-01", 2, region="62.71")))
                await wait_until(lambda: _count(feed, 2), timeout=15)
                first = list(feed.events)
            assert [e.json()["region"] for e in first] == ["62.10", "62.71"]
            assert all(e.event == "score.updated" and e.id for e in first)
            # Disconnected: two more updates happen, one of them in the province.
            await redis.xadd(intake, ev.to_entry(sample.spd_answer_set("spd-06", 3, region="62.10")))
            await redis.xadd(intake, ev.to_entry(sample.spd_answer_set("spd-06", 3, region="11.01")))
            scoring = settings.stream(ev.SCORING_STREAM)
            await wait_until(lambda: _xlen_at_least(redis, scoring, 5), timeout=15)
            resume = {**token("viewer"), "Last-Event-ID": first[-1].id}
            async with listen_sse(client, url, resume) as feed:
                await wait_until(lambda: _count(feed, 1), timeout=15)
                missed = list(feed.events)
            assert [e.json()["region"] for e in missed] == ["62.10"]
            assert missed[0].json()["version"] == 2  # the region's second score: nothing skipped
    finally:
        await redis.aclose()
        await cleanup(settings)


async def _count(feed, n: int) -> bool:
    return len(feed.events) >= n


async def _xlen_at_least(redis: Redis, key: str, n: int) -> bool:
    return await redis.xlen(key) >= n
