"""Several scoring consumers in one group: regions are the unit of locking, so whatever
consumer handles which event, every event is applied once and the scores equal a fresh
recomputation."""

from __future__ import annotations

import asyncpg
import pytest
from redis.asyncio import Redis

from services.common import events as ev
from services.scoring.app import create_app
from tests.support.history import random_history
from tests.support.infra import wait_until
from tests.support.platform import cleanup, isolated_settings, running

pytestmark = pytest.mark.integration


async def test_three_consumers_share_the_work_and_agree_with_the_engine():
    settings = isolated_settings(consumer_max_records=5)
    history = random_history(seed=5, regions=["62.10", "62.11", "62.71", "63.01"], steps=400)
    redis = Redis.from_url(settings.redis_url)
    schema = settings.schema_of("scoring")
    db = await asyncpg.connect(settings.database_url)
    try:
        async with running(create_app(settings)), running(create_app(settings)), running(create_app(settings)):
            async with redis.pipeline(transaction=False) as pipe:
                for event in history.events:
                    pipe.xadd(settings.stream(ev.stream_of(event.producer)), ev.to_entry(event))
                await pipe.execute()

            async def all_handled():
                return await db.fetchval(f"SELECT count(*) FROM {schema}.inbox") == len(history.events)

            await wait_until(all_handled, timeout=60, interval=0.2)
            consumers = {c["name"] for c in await redis.xinfo_consumers(settings.stream(ev.INTAKE_STREAM), "scoring")}
            assert len([c for c in consumers if not c.endswith(b"-reclaimer")]) == 3
            current = {
                r["region"]: {"claimed": str(r["iid_claimed"]), "provisional": str(r["iid_provisional"]),
                              "validated": str(r["iid_validated"])}
                for r in await db.fetch(f"SELECT * FROM {schema}.current_scores")
            }
            assert current == history.expected_iids()
            versions = f"SELECT array_agg(version ORDER BY version) AS v FROM {schema}.scores GROUP BY region"
            for row in await db.fetch(versions):
                assert row["v"] == list(range(1, len(row["v"]) + 1))
    finally:
        await db.close()
        await redis.aclose()
        await cleanup(settings)
