"""The live feed: Server-Sent Events over a real HTTP server. A client that connects first gets
the current score of every region it follows, then the updates, filtered by region or
province; rank changes reach it too; with Last-Event-ID it resumes without missing anything;
and open feeds end at once when the server begins to stop."""

from __future__ import annotations

import asyncio
import time
from contextlib import AsyncExitStack

import httpx
import pytest
from redis.asyncio import Redis

from services.common import events as ev
from services.common.data.regions import load_regions
from services.common.tokens import issue_token
from services.scoring.app import create_app
from tests.support import events as sample
from tests.support.infra import wait_until
from tests.support.platform import AUTH_SECRET, cleanup, isolated_settings, token
from tests.support.servers import listen_sse, serve

pytestmark = pytest.mark.integration
PROVINCE_62 = [code for code, info in load_regions().items() if info.province_code == "62"]


def scores(feed) -> list[dict]:  # type: ignore[no-untyped-def]
    return [e.json() for e in feed.events if e.event == "score.updated"]


async def publish(redis: Redis, settings, events: list[ev.Envelope]) -> None:  # type: ignore[no-untyped-def]
    for event in events:
        await redis.xadd(settings.stream(ev.stream_of(event.producer)), ev.to_entry(event))


async def test_sse_starts_with_current_scores_filters_and_resumes_with_last_event_id():
    settings = isolated_settings()
    redis = Redis.from_url(settings.redis_url)
    try:
        async with serve(create_app(settings)) as base, httpx.AsyncClient(base_url=base) as client:
            url = "/v1/cycles/2026/stream?province=62"
            async with listen_sse(client, url, token("viewer")) as feed:
                # First, the current score of every region of the province (none scored yet).
                await wait_until(lambda: _at_least(scores(feed), len(PROVINCE_62)), timeout=15)
                snapshot = scores(feed)
                assert [s["region"] for s in snapshot] == PROVINCE_62
                assert all(s["version"] == 0 and s["validated"]["category"] == "tidak_dapat_dinilai" for s in snapshot)
                assert snapshot[0]["validated"]["ranks"]["type"] is not None
                await publish(redis, settings, sample.spd_with_evidence("spd-01", 3, region="62.10"))
                await publish(redis, settings, sample.spd_with_evidence("spd-01", 3, region="11.01"))  # elsewhere
                await publish(redis, settings, sample.spd_with_evidence("spd-01", 2, region="62.71"))
                await wait_until(lambda: _at_least(scores(feed), len(PROVINCE_62) + 2), timeout=15)
                first = list(feed.events)
            updates = scores(feed)[len(PROVINCE_62):]
            assert [u["region"] for u in updates] == ["62.10", "62.71"]
            assert all(e.id for e in first)
            # 62.10's first score moved the province's unscored regions down a place.
            moved = [e.json() for e in first if e.event == "ranking.changed" and e.json()["region"] == "62.10"]
            assert moved and {m["region"] for m in moved[0]["validated"]} <= set(PROVINCE_62)
            assert "11.01" not in {m["region"] for m in moved[0]["validated"]}
            # Disconnected: more updates happen, one of them in the province.
            await publish(redis, settings, sample.spd_with_evidence("spd-06", 3, region="62.10"))
            await publish(redis, settings, sample.spd_with_evidence("spd-06", 3, region="11.01"))
            scoring = settings.stream(ev.SCORING_STREAM)
            await wait_until(lambda: _xlen_at_least(redis, scoring, 7), timeout=15)
            resume = {**token("viewer"), "Last-Event-ID": first[-1].id}
            async with listen_sse(client, url, resume) as feed:
                await wait_until(lambda: _at_least(scores(feed), 1), timeout=15)
                missed = scores(feed)
            assert [m["region"] for m in missed] == ["62.10"]  # no snapshot when resuming
            assert missed[0]["version"] == 2  # the region's second score: nothing skipped
    finally:
        await redis.aclose()
        await cleanup(settings)


async def test_open_feeds_end_at_once_when_the_server_begins_to_stop():
    settings = isolated_settings()
    try:
        app = create_app(settings)
        async with serve(app) as base, httpx.AsyncClient(base_url=base) as client, AsyncExitStack() as feeds:
            listeners = [
                await feeds.enter_async_context(listen_sse(client, "/v1/cycles/2026/stream", token("viewer")))
                for _ in range(20)
            ]
            started = time.monotonic()
            app.state.begin_shutdown()
            await asyncio.wait_for(asyncio.gather(*(f.task for f in listeners), return_exceptions=True), 3)
            assert time.monotonic() - started < 2.0
            assert all(f.task.done() and not f.task.cancelled() for f in listeners)  # ended by the server
    finally:
        await cleanup(settings)


async def test_province_admins_and_national_principals_follow_the_feed():
    """Scores are every role's to read: a province admin follows its province (or anything a
    viewer may), a national principal — which has no region — any region, or everything."""
    settings = isolated_settings()
    try:
        async with serve(create_app(settings)) as base, httpx.AsyncClient(base_url=base) as client:
            for url, headers, regions in (
                ("/v1/cycles/2026/stream?province=62", token("province_admin", "62"), PROVINCE_62),
                ("/v1/cycles/2026/stream?region=62.10", token("province_admin", "62"), ["62.10"]),
                ("/v1/cycles/2026/stream?region=63.01", token("national", None), ["63.01"]),
                ("/v1/cycles/2026/stream", token("national", None), sorted(load_regions())),
            ):
                expected = len(regions)
                async with listen_sse(client, url, headers) as feed:
                    await wait_until(lambda feed=feed, n=expected: _at_least(scores(feed), n), timeout=15)
                    assert sorted(s["region"] for s in scores(feed)) == sorted(regions), url
    finally:
        await cleanup(settings)


async def test_an_open_feed_ends_once_its_account_is_disabled():
    settings = isolated_settings()
    redis = Redis.from_url(settings.redis_url)
    account, other = "acc-feed-1", "acc-feed-2"

    def headers(subject: str) -> dict[str, str]:
        jwt = issue_token(AUTH_SECRET, "viewer", "62.10", subject=subject, token_id=f"tok-{subject}")
        return {"Authorization": f"Bearer {jwt}"}

    try:
        async with serve(create_app(settings)) as base, httpx.AsyncClient(base_url=base) as client:
            url = "/v1/cycles/2026/stream?region=62.10"
            async with listen_sse(client, url, headers(account)) as feed, \
                    listen_sse(client, url, headers(other)) as kept:
                await wait_until(lambda: _at_least(scores(feed), 1), timeout=15)
                disabled = sample.account("account.disabled", account, version=2,
                                          data={"role": "viewer", "agency": None, "status": "disabled"})
                await redis.xadd(settings.stream(ev.WEB_STREAM), ev.to_entry(disabled))
                started = time.monotonic()
                await asyncio.wait_for(asyncio.shield(feed.task), 10)  # the server ended the response
                assert time.monotonic() - started < 7  # one keep-alive interval (5 s) and a little
                assert not kept.task.done()  # another account's feed goes on
    finally:
        await redis.aclose()
        await cleanup(settings)


async def _at_least(items: list, n: int) -> bool:
    return len(items) >= n


async def _xlen_at_least(redis: Redis, key: str, n: int) -> bool:
    return await redis.xlen(key) >= n
