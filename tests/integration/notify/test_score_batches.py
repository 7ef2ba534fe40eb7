"""A read of score.updated events handled in one go (`handle_score_updates`: the regions
locked and read in one statement, the newest seen written in one, the deliveries queued in
at most two) does what handling them one after the other does: the same deliveries, with the
same bodies, in the same order, and the same newest score seen per region — over reads that
mix regions of two provinces, with replays, stale versions and category changes. Each
handling runs in a transaction that is rolled back, so both see the same subscriptions."""

from __future__ import annotations

import json
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
CYCLES = (sample.CYCLE, sample.CYCLE + 1)
ALL, ALL_TOO, PROVINCE, SCORES, GONE = (
    f"http://127.0.0.1:{port}/{path}" for port, path in
    ((9001, "all"), (9004, "all-too"), (9002, "province"), (9003, "scores"), (9005, "gone"))
)


def score(region: str, version: int, validated: str, cycle: int = sample.CYCLE) -> ev.ScoreUpdated:
    base = sample.score_updated(region=region, version=version, cycle=cycle)
    figure = base.data.validated.model_copy(update={"category": validated})
    return base.model_copy(update={"data": base.data.model_copy(update={"validated": figure})})


def a_read(rng: random.Random) -> list[ev.ScoreUpdated]:
    """Score updates of three regions: mostly newer versions, some replayed (the same event
    again, or an older version) and categories that sometimes change."""
    versions = {(cycle, region): 0 for cycle in CYCLES for region in (GUNUNG_MAS, KOTAWARINGIN_BARAT, ACEH_SELATAN)}
    read: list[ev.ScoreUpdated] = []
    for _ in range(rng.randint(1, 12)):
        if read and rng.random() < 0.15:
            read.append(rng.choice(read))  # the same event again
            continue
        cycle, region = key = rng.choice(list(versions))
        if versions[key] and rng.random() < 0.2:
            version = rng.randint(1, versions[key])  # stale: not newer than one seen
        else:
            versions[key] += rng.randint(1, 2)
            version = versions[key]
        read.append(score(region, version, rng.choice(CATEGORIES), cycle))
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


async def subscribed(client: Any) -> None:
    """Two subscriptions of Gunung Mas to both kinds (queued in the order they were made), the
    province's to category changes, Kotawaringin Barat's to score updates and a deleted one of
    it; Aceh Selatan (11.01) has none: its scores are seen, nothing is queued for them. Aceh
    Selatan's score 3 of the cycle was seen before."""
    for url, scope, kinds, region in (
        (ALL, {"region": GUNUNG_MAS}, ["score.updated", "category.changed"], GUNUNG_MAS),
        (PROVINCE, {"province": "62"}, ["category.changed"], "62"),
        (SCORES, {"region": KOTAWARINGIN_BARAT}, ["score.updated"], KOTAWARINGIN_BARAT),
        (ALL_TOO, {"region": GUNUNG_MAS}, ["category.changed", "score.updated"], GUNUNG_MAS),
        (GONE, {"region": KOTAWARINGIN_BARAT}, ["score.updated"], KOTAWARINGIN_BARAT),
    ):
        response = await client.post(
            "/v1/subscriptions", json={"url": url, "scope": scope, "kinds": kinds},
            headers=token("region_admin", region),
        )
        assert response.status_code == 201, response.text
    gone = response.json()["id"]
    response = await client.delete(f"/v1/subscriptions/{gone}", headers=token("region_admin", KOTAWARINGIN_BARAT))
    assert response.status_code == 204, response.text


async def test_a_read_handled_at_once_queues_what_one_at_a_time_would() -> None:
    async with notify_without_worker() as (client, runtime, _):
        await subscribed(client)
        rng = random.Random(20261130)
        kinds: set[str] = set()
        async with runtime.pool.acquire() as conn:
            await handle_score_updates([score(ACEH_SELATAN, 3, "inovatif")], conn)  # seen before
            for _ in range(SEQUENCES):
                reads = [a_read(rng) for _ in range(rng.randint(1, 3))]
                at_once = await outcome(conn, reads)
                one_by_one = await outcome(conn, [[event] for read in reads for event in read])
                assert at_once == one_by_one, reads
                kinds |= {row[3] for row in at_once[0]}
                seen_regions = {(row[0], row[1]) for row in at_once[1]}
                assert seen_regions == {(event.cycle, event.region) for read in reads for event in read} | {
                    (sample.CYCLE, ACEH_SELATAN)
                }
                assert not {row[0] for row in at_once[0]} & {GONE}
        # The reads exercised both kinds of alert, through both kinds of scope.
        assert kinds == {"score.updated", "category.changed"}


async def test_one_read_queues_the_deliveries_written_out_here() -> None:
    """The same, against the deliveries expected, written out by hand."""
    async with notify_without_worker() as (client, runtime, _):
        await subscribed(client)
        first = score(GUNUNG_MAS, 1, "inovatif")
        neighbour = score(KOTAWARINGIN_BARAT, 1, "inovatif")
        changed = score(GUNUNG_MAS, 3, "sangat_inovatif")
        stale = score(GUNUNG_MAS, 2, "kurang_inovatif")
        aceh_old, aceh_new = score(ACEH_SELATAN, 2, "sangat_inovatif"), score(ACEH_SELATAN, 4, "sangat_inovatif")
        async with runtime.pool.acquire() as conn:
            await handle_score_updates([score(ACEH_SELATAN, 3, "inovatif")], conn)  # seen before
            deliveries, seen = await outcome(conn, [[first, neighbour, changed, stale, first, aceh_old, aceh_new]])
        assert [(url, event_id, kind) for url, event_id, _, kind, *_ in deliveries] == [
            (ALL, first.event_id, "score.updated"),
            (ALL_TOO, first.event_id, "score.updated"),
            (SCORES, neighbour.event_id, "score.updated"),
            (ALL, changed.event_id, "score.updated"),
            (ALL_TOO, changed.event_id, "score.updated"),
            (ALL, changed.event_id, "category.changed"),
            (PROVINCE, changed.event_id, "category.changed"),
            (ALL_TOO, changed.event_id, "category.changed"),
        ]
        change = [{"figure": "validated", "from": "inovatif", "to": "sangat_inovatif"}]
        bodies = {(url, kind): json.loads(body) for url, event_id, _, kind, _, _, body, *_ in deliveries
                  if event_id == changed.event_id}
        assert bodies[(PROVINCE, "category.changed")]["changes"] == change
        assert bodies[(ALL, "score.updated")]["version"] == 3 and "changes" not in bodies[(ALL, "score.updated")]
        assert {(region, version, event_id) for _, region, version, _, event_id in seen} == {
            (GUNUNG_MAS, 3, changed.event_id), (KOTAWARINGIN_BARAT, 1, neighbour.event_id),
            (ACEH_SELATAN, 4, aceh_new.event_id),
        }
