"""Redis being down delays events, it never loses them: intake keeps accepting writes while
Redis (a private one, on its own port) is stopped, and their events reach scoring after it
is back. The live feed, which cannot work without Redis, says so at once (503)."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx
import pytest

from services.platform import create_platform_app
from tests.support.infra import RedisServer, wait_until
from tests.support.journeys import Journey
from tests.support.platform import cleanup, isolated_settings
from tests.support.s3 import moto_s3_server
from tests.support.servers import serve

pytestmark = pytest.mark.integration
REGION = "62.10"


async def test_intake_accepts_writes_while_redis_is_down_and_scoring_catches_up():
    redis_server = RedisServer(appendonly=True)
    redis_server.start()
    with moto_s3_server() as s3:
        settings = isolated_settings(
            redis_url=redis_server.url, s3_endpoint=s3.netloc, s3_access_key=s3.access_key,
            s3_secret_key=s3.secret_key, s3_bucket="redis-down",
        )
        db = await asyncpg.connect(settings.database_url)
        intake_schema, scoring_schema = settings.schema_of("intake"), settings.schema_of("scoring")
        try:
            app = create_platform_app(["intake", "scoring"], settings)
            async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
                journey = Journey(client, REGION)
                await journey.register_agency()
                before = await journey.create_innovation("Sebelum gangguan")

                async def scoring_knows(ids: set[str]):
                    rows = await db.fetch(f"SELECT id FROM {scoring_schema}.innovations")
                    return ids <= {r["id"] for r in rows}

                await wait_until(lambda: scoring_knows({before["id"]}), timeout=20)

                redis_server.stop()
                # The live feed cannot follow the stream: a JSON 503 with Retry-After, at once,
                # for a new dashboard and for one resuming.
                for resume in ({}, {"Last-Event-ID": "1-0"}):
                    started = time.perf_counter()
                    feed = await client.get(f"/scoring/v1/cycles/2026/stream?region={REGION}",
                                            headers={**journey.viewer, **resume})
                    assert time.perf_counter() - started < 3
                    assert feed.status_code == 503 and feed.json()["error"] == "unavailable", feed.text
                    assert int(feed.headers["Retry-After"]) >= 1
                # Writes keep being accepted: each 2xx is state + event committed in PostgreSQL.
                during = [await journey.create_innovation(f"Saat gangguan {k}") for k in range(3)]
                during[0] = await journey.answer(during[0], "sid-16", 3)
                for indicator, level in (("spd-01", 3), ("spd-06", 2)):
                    await journey.set_spd(indicator, level)
                backlog = await db.fetchval(f"SELECT count(*) FROM {intake_schema}.outbox WHERE published_at IS NULL")
                assert backlog >= 6  # 3 created + 1 updated + 2 SPD answers, waiting for Redis
                await asyncio.sleep(1.5)  # the relay keeps retrying meanwhile
                assert not await scoring_knows({i["id"] for i in during})

                redis_server.start()
                await wait_until(lambda: scoring_knows({i["id"] for i in during}), timeout=45, interval=0.2)

                async def spd_arrived():
                    rows = await db.fetch(f"SELECT indicator, level FROM {scoring_schema}.spd_answers")
                    return {r["indicator"]: r["level"] for r in rows} == {"spd-01": 3, "spd-06": 2}

                await wait_until(spd_arrived, timeout=30)
                answers = await db.fetchval(
                    f"SELECT answers FROM {scoring_schema}.innovations WHERE id = $1", during[0]["id"])
                assert '"sid-16": 3' in str(answers) or answers == {"sid-16": 3}
                assert await db.fetchval(f"SELECT count(*) FROM {intake_schema}.outbox WHERE published_at IS NULL") == 0
        finally:
            await db.close()
            if not redis_server.running:
                redis_server.start()  # to clean up the test's keys
            await cleanup(settings)
            redis_server.close()
