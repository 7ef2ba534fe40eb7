"""Scores change only when they change: an event that leaves a region's three figures as they
are makes no score version and no `score.updated` (its application is still recorded), and
when a region's new score moves other regions' ranks, one `ranking.changed` says which and
where they stand now."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from services.common import events as ev
from services.common.data.regions import load_regions
from services.scoring.app import create_app
from tests.support import events as sample
from tests.support.infra import wait_until
from tests.support.platform import running, token

pytestmark = pytest.mark.integration
A, B = "62.10", "62.01"  # two kabupaten of Kalimantan Tengah
KABUPATEN = sum(1 for r in load_regions().values() if r.type == "kabupaten")


def accepted_spd(region: str, indicator: str, level: int) -> list[ev.Envelope]:
    """An SPD answer with evidence accepted: it counts in all three figures."""
    answer = sample.spd_answer_set(indicator, level, region=region)
    item = {"innovation_id": None, "indicator": indicator}
    evidence_id = f"evd-{region}-{indicator}-{answer.event_id.hex[-6:]}"
    stored = sample.evidence("evidence.stored", evidence_id, data=item, region=region)
    accepted = sample.evidence("evidence.accepted", evidence_id, data=item, region=region, version=2)
    return [answer, stored, accepted]


async def publish(app, redis: Redis, settings, events: list[ev.Envelope]) -> None:  # type: ignore[no-untyped-def]
    """Publish one event at a time, each once the previous one is applied (the intake and
    evidence streams are read concurrently: without this their order is not kept)."""
    pool = app.state.runtime.pool
    for event in events:
        await redis.xadd(settings.stream(ev.stream_of(event.producer)), ev.to_entry(event))

        async def applied(event_id=event.event_id) -> bool:  # type: ignore[no-untyped-def]
            async with pool.acquire() as conn:
                return bool(await conn.fetchval("SELECT 1 FROM applied_events WHERE event_id = $1", event_id))

        await wait_until(applied, timeout=15)


async def scoring_events(redis: Redis, settings) -> list[ev.Envelope]:  # type: ignore[no-untyped-def]
    return [ev.from_entry(fields) for _, fields in await redis.xrange(settings.stream(ev.SCORING_STREAM))]


async def test_an_event_that_changes_no_figure_makes_no_version(settings, redis):
    app = create_app(settings)
    async with running(app) as client:
        draft = sample.innovation("innovation.created", "draft-1", data={"answers": {"sid-16": 3}}, region=A)
        answer_only = sample.spd_answer_set("spd-01", 3, region=A)  # no evidence: counts nowhere
        changes = accepted_spd(A, "spd-06", 2)
        await publish(app, redis, settings, [draft, answer_only, *changes])
        pool = app.state.runtime.pool

        async def applied():
            async with pool.acquire() as conn:
                rows = await conn.fetch("SELECT event_id, changed, score_version FROM applied_events")
            return rows if len(rows) == 5 else None

        rows = {row["event_id"]: row for row in await wait_until(applied, timeout=15)}
        assert not rows[draft.event_id]["changed"] and rows[draft.event_id]["score_version"] == 0
        assert not rows[answer_only.event_id]["changed"]
        # The evidence stored makes claimed and provisional count; its acceptance, validated.
        assert [rows[e.event_id]["changed"] for e in changes] == [False, True, True]
        score = (await client.get(f"/v1/cycles/2026/regions/{A}/score", headers=token("viewer"))).json()
        assert score["version"] == 2 and score["caused_by"] == str(changes[2].event_id)

        async def two_updates():
            events = [e for e in await scoring_events(redis, settings) if e.type == "score.updated"]
            return events if len(events) >= 2 else None

        updates = await wait_until(two_updates, timeout=10)
        assert [u.version for u in updates] == [1, 2]


async def test_a_new_score_that_moves_other_regions_says_which_and_where(settings, redis):
    app = create_app(settings)
    async with running(app) as client:
        await publish(app, redis, settings, accepted_spd(A, "spd-01", 3))  # A: first score, above everyone

        async def ranking_changes(n: int):
            found = [e for e in await scoring_events(redis, settings) if e.type == "ranking.changed"]
            return found if len(found) >= n else None

        # Two changes: pending evidence moves A in claimed and provisional, its acceptance in
        # validated. Every other kabupaten (at 0) now ranks behind A.
        pending, first = await wait_until(lambda: ranking_changes(2), timeout=15)
        assert pending.data.claimed and not pending.data.validated
        assert first.region == A and first.subject == f"{A}/ranking" and not first.data.claimed
        moved = {m.region: m.ranks for m in first.data.validated}
        assert len(moved) == KABUPATEN - 1 and A not in moved
        assert moved[B].type == ev.Rank(position=2, of=KABUPATEN)
        assert moved["11.01"].province is not None and moved["11.01"].province.position == 1  # Aceh: alone at 0
        assert moved[B].province is not None and moved[B].province.position == 2

        await publish(app, redis, settings, accepted_spd(B, "spd-01", 1))  # B: below A, above the rest
        await publish(app, redis, settings, accepted_spd(B, "spd-06", 3))  # B: past A
        changes = await wait_until(lambda: ranking_changes(6), timeout=15)
        last = changes[-1]
        assert last.region == B
        # B went from below A to above it: only A moved (the unscored stay behind both).
        assert [m.region for m in last.data.validated] == [A]
        assert last.data.validated[0].ranks.type == ev.Rank(position=2, of=KABUPATEN)
        a_now = (await client.get(f"/v1/cycles/2026/regions/{A}/score", headers=token("viewer"))).json()
        assert a_now["validated"]["ranks"]["type"]["position"] == 2  # the REST score shows current ranks
