"""A read of score.updated events handled in one go (`handle_score_updates`: the regions
locked and read in one statement, the newest seen written in one, the deliveries queued in
at most two) does what handling them one after the other does: the same deliveries, with the
same bodies, in the same order, and the same newest score seen per region — over reads that
mix regions of two provinces, with replays, stale versions and category changes. Each
handling runs in a transaction that is rolled back, so both see the same subscriptions."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import pytest

from services.common import events as ev
from services.notify.handlers import handle_score_updates
from tests.integration.notify.test_delivery_worker import notify_without_worker
from tests.support import events as sample
from tests.support.platform import token

pytestmark = pytest.mark.integration

CATEGORIES = ("kurang_inovatif", "inovatif", "sangat_inovatif")
GUNUNG_MAS, KOTAWARINGIN_BARAT, ACEH_SELATAN = "62.10", "62.01", "11.01"
SEQUENCES = 40


def score(region: str, version: int, validated: str) -> ev.ScoreUpdated:
    base = sample.score_updated(region=region, version=version)
    figure = base.data.validated.model_copy(update={"category": validated})
    return base.model_copy(update={"data": base.data.model_copy(update={"validated": figure})})


def a_read(rng: random.Random) -> list[ev.ScoreUpdated]:
    """Score updates of three regions: mostly newer versions, some replayed (the same event
    again, or an older version) and categories that sometimes change."""
    versions = dict.fromkeys((GUNUNG_MAS, KOTAWARINGIN_BARAT, ACEH_SELATAN), 0)
    read: list[ev.ScoreUpdated] = []
    for _ in range(rng.randint(1, 12)):
        if read and rng.random() < 0.15:
            read.append(rng.choice(read))  # the same event again
            continue
        region = rng.choice(list(versions))
        if versions[region] and rng.random() < 0.2:
            version = rng.randint(1, versions[region])  # stale: not newer than one seen
        else:
            versions[region] += rng.randint(1, 2)
            version = versions[region]
        read.append(score(region, version, rng.choice(CATEGORIES)))
    return read


async def outcome(conn: Any, reads: Sequence[Sequence[ev.Envelope]]) -> tuple[list[tuple], list[tuple]]:
    """Deliveries (in the order queued) and newest scores seen after handling `reads`, each
    in its own transaction inside one that is rolled back."""
    transaction = conn.transaction()
    await transaction.start()
    try:
        for read in reads:
            async with conn.transaction():
                await handle_score_updates(read, conn)
        deliveries = await conn.fetch(
            """SELECT s.url, d.event_id, d.event_type, d.kind, d.cycle, d.region, d.body, d.target, d.status
               FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id ORDER BY d.id"""
        )
        seen = await conn.fetch("SELECT cycle, region, version, categories, event_id FROM seen_scores ORDER BY 1, 2")
        return [tuple(row) for row in deliveries], [tuple(row) for row in seen]
    finally:
        await transaction.rollback()


async def test_a_read_handled_at_once_queues_what_one_at_a_time_would() -> None:
    async with notify_without_worker() as (client, runtime, _):
        for url, scope, kinds, region in (
            ("http://127.0.0.1:9001/all", {"region": GUNUNG_MAS}, ["score.updated", "category.changed"], GUNUNG_MAS),
            ("http://127.0.0.1:9002/province", {"province": "62"}, ["category.changed"], "62"),
            ("http://127.0.0.1:9003/scores", {"region": KOTAWARINGIN_BARAT}, ["score.updated"], KOTAWARINGIN_BARAT),
        ):  # Aceh Selatan (11.01) has none: its scores are seen, nothing is queued for them
            response = await client.post(
                "/v1/subscriptions", json={"url": url, "scope": scope, "kinds": kinds},
                headers=token("region_admin", region),
            )
            assert response.status_code == 201, response.text

        rng = random.Random(20261130)
        kinds: set[str] = set()
        async with runtime.pool.acquire() as conn:
            for _ in range(SEQUENCES):
                reads = [a_read(rng) for _ in range(rng.randint(1, 3))]
                at_once = await outcome(conn, reads)
                one_by_one = await outcome(conn, [[event] for read in reads for event in read])
                assert at_once == one_by_one, reads
                kinds |= {row[3] for row in at_once[0]}
                seen_regions = {row[1] for row in at_once[1]}
                assert seen_regions == {event.region for read in reads for event in read}
        # The reads exercised both kinds of alert, through both kinds of scope.
        assert kinds == {"score.updated", "category.changed"}
