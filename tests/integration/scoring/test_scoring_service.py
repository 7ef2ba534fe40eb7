"""The scoring service against real Redis and PostgreSQL: events in, scores out, equal to a
fresh recomputation whatever the order or repetition of events."""

from __future__ import annotations

import random
from itertools import pairwise

import httpx
import pytest
from redis.asyncio import Redis

from services.common import events as ev
from services.scoring.app import create_app
from services.scoring.domain.engine import compile_methodology, score_region
from services.scoring.domain.state import StoredEvidence, StoredInnovation, region_from_state
from tests.support import events as sample
from tests.support.infra import wait_until
from tests.support.platform import running, token

pytestmark = pytest.mark.integration
REGION = "62.10"


def cycle_events() -> tuple[list[ev.Envelope], dict]:
    """A small region history: SPD answers, two innovations (one withdrawn later), evidence
    accepted, pending and rejected. Returns the events and the final state."""
    events: list[ev.Envelope] = [
        sample.spd_answer_set("spd-01", 3, version=1),
        sample.spd_answer_set("spd-06", 1, version=1),
        sample.spd_answer_set("spd-06", 3, version=2),
    ]
    answers_a = {"sid-16": 3, "sid-17": 2, "sid-35": 3}
    answers_b = {"sid-16": 1, "sid-18": 2}
    data_b = {"answers": answers_b, "urusan_utama": "pendidikan"}
    events += [
        sample.innovation("innovation.created", "a", data={"answers": answers_a, "status": "draft"}, version=1),
        sample.innovation("innovation.submitted", "a", data={"answers": answers_a}, version=2),
        sample.innovation("innovation.created", "b", data=data_b, version=1),
        sample.innovation("innovation.submitted", "b", data=data_b, version=2),
        sample.innovation("innovation.withdrawn", "b", data=data_b, version=3),
    ]
    evidence = [
        ("e1", None, "spd-01", "accepted"),
        ("e2", None, "spd-06", "pending"),
        ("e3", "a", "sid-16", "accepted"),
        ("e4", "a", "sid-17", "rejected"),
        ("e5", "a", "sid-35", "pending"),
        ("e6", "b", "sid-16", "accepted"),
    ]
    for evidence_id, innovation_id, indicator, state in evidence:
        data = {"innovation_id": innovation_id, "indicator": indicator}
        events.append(sample.evidence("evidence.stored", evidence_id, data=data, version=1))
        if state != "pending":
            events.append(sample.evidence(f"evidence.{state}", evidence_id, data=data, version=2))
    final = {
        "spd": {"spd-01": 3, "spd-06": 3},
        "innovations": [
            StoredInnovation("a", "submitted", "kesehatan", ("sosial",), answers_a),
            StoredInnovation("b", "withdrawn", "pendidikan", ("sosial",), answers_b),
        ],
        "evidence": [StoredEvidence(i, ind, s) for _, i, ind, s in evidence],
    }
    return events, final


async def publish(redis: Redis, settings, events: list[ev.Envelope]) -> None:
    for event in events:
        stream = ev.stream_of(event.producer)
        await redis.xadd(settings.stream(stream), ev.to_entry(event))


def expected_iids(final: dict) -> dict[str, str]:
    region = region_from_state(REGION, "kabupaten", "62", final["spd"], final["innovations"], final["evidence"])
    score = score_region(region, compile_methodology("iid-2026"))
    return {f: str(score.figures[f].iid) for f in ("claimed", "provisional", "validated")}


@pytest.mark.parametrize("shuffle_seed", [None, 7])
async def test_scores_equal_a_fresh_recomputation_whatever_the_order(settings, redis, shuffle_seed):
    events, final = cycle_events()
    if shuffle_seed is not None:
        rng = random.Random(shuffle_seed)
        events = events + rng.sample(events, 5)  # redeliveries
        rng.shuffle(events)
    expected = expected_iids(final)
    app = create_app(settings)
    async with running(app) as client:
        await publish(redis, settings, events)

        async def settled():
            response = await client.get(f"/v1/cycles/2026/regions/{REGION}/score", headers=token("viewer"))
            body = response.json()
            got = {f: body[f]["iid"] for f in expected}
            return body if got == expected else None

        runtime = app.state.runtime
        unique = {e.event_id for e in events}

        async def all_handled():
            async with runtime.pool.acquire() as conn:
                rows = await conn.fetch("SELECT event_id, count(*) AS n FROM inbox GROUP BY event_id")
            return rows if len(rows) == len(unique) else None

        inbox = await wait_until(all_handled, timeout=20)
        # Every event left exactly one inbox row (duplicates skipped).
        assert {row["event_id"] for row in inbox} == unique
        assert all(row["n"] == 1 for row in inbox)
        body = await wait_until(settled, timeout=5)
        assert body["validated"]["ranks"]["type"]["of"] == 415
        assert body["validated"]["ranks"]["province"]["position"] == 1
        history = (await client.get(f"/v1/cycles/2026/regions/{REGION}/history", headers=token("viewer"))).json()
        assert {f: history["scores"][0][f]["iid"] for f in expected} == expected
        versions = [s["version"] for s in history["scores"]]
        assert versions == sorted(set(versions), reverse=True)
        assert {s["caused_by"] for s in history["scores"]} <= {str(e.event_id) for e in events}


async def test_score_updated_is_published_and_rankings_rank_all_regions(settings, redis):
    events, final = cycle_events()
    app = create_app(settings)
    async with running(app) as client:
        await publish(redis, settings, events)

        pool = app.state.runtime.pool

        async def all_applied():
            async with pool.acquire() as conn:
                rows = await conn.fetch("SELECT event_id, changed, score_version FROM applied_events")
            return rows if len(rows) == len(events) else None

        applied = await wait_until(all_applied, timeout=20)
        await wait_until(lambda: _relay_idle(pool))
        entries = await redis.xrange(settings.stream(ev.SCORING_STREAM))
        updates = [u for u in (ev.from_entry(fields) for _, fields in entries) if u.type == "score.updated"]
        latest = max(updates, key=lambda u: u.version)
        assert latest.region == REGION
        assert str(latest.data.validated.iid) == expected_iids(final)["validated"]
        # A version only for an event that changed a figure; every event's application is kept.
        changed = [row for row in applied if row["changed"]]
        assert 0 < len(updates) == len(changed) < len(events)
        assert [u.version for u in sorted(updates, key=lambda u: u.version)] == list(range(1, len(updates) + 1))
        for before, after in pairwise(sorted(updates, key=lambda u: u.version)):
            assert without_ranks(before.data) != without_ranks(after.data)
        rankings = await client.get("/v1/cycles/2026/rankings?type=kabupaten&province=62", headers=token("viewer"))
        ranking = rankings.json()
        assert ranking["regions"][0]["region"] == REGION and ranking["regions"][0]["rank"] == 1
        assert all(r["rank"] == 2 for r in ranking["regions"][1:])  # the others tie at 0
        assert {r["category"] for r in ranking["regions"][1:]} == {"tidak_dapat_dinilai"}  # 0.00 is
        explain = await client.get(f"/v1/cycles/2026/regions/{REGION}/explain", headers=token("region_admin"))
        assert explain.status_code == 200 and explain.json()["score"]["iid"] == expected_iids(final)["validated"]
        forbidden = await client.get(
            f"/v1/cycles/2026/regions/{REGION}/explain", headers=token("operator", agency="dinkes")
        )
        assert forbidden.status_code == 403


async def _relay_idle(pool) -> bool:
    async with pool.acquire() as conn:
        return await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0


def without_ranks(score: ev.RegionScore) -> dict:
    figures = {f: score.figure(f).model_dump(mode="json", exclude={"ranks"}) for f in ev.FIGURES}
    return figures


async def test_bad_requests_are_4xx_naming_the_problem(settings):
    app = create_app(settings, consume=False)
    async with running(app) as client:
        assert (await client.get("/v1/cycles/2026/regions/99.99/score", headers=token("viewer"))).status_code == 404
        assert (await client.get("/v1/cycles/1999/rankings", headers=token("viewer"))).status_code == 404
        bad = await client.get("/v1/cycles/2026/rankings?figure=best", headers=token("viewer"))
        assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "query.figure"
        gap = await client.get(f"/v1/cycles/2026/regions/{REGION}/gap?target=excellent", headers=token("region_admin"))
        assert gap.status_code == 422 and gap.json()["problems"][0]["field"] == "query.target"
        unauth = await client.get(f"/v1/cycles/2026/regions/{REGION}/score")
        assert unauth.status_code == 401
        provinsi = await client.get("/v1/cycles/2026/rankings?type=provinsi&province=62", headers=token("viewer"))
        assert provinsi.status_code == 422 and provinsi.json()["problems"][0]["field"] == "query.province"
        for garbage in ("18446744073709551616-0", "1-99999999999999999999", "abc"):
            sse = await client.get("/v1/cycles/2026/stream", headers={**token("viewer"), "Last-Event-ID": garbage})
            assert sse.status_code == 422 and "Last-Event-ID" in sse.text.replace("last-event-id", "Last-Event-ID")


async def test_province_admins_and_national_principals_read_scores_explanations_and_gaps(settings):
    """Scores, history and rankings are every role's; the explanation and the gap plan, which
    name a region's innovations, are for the regions the caller reads: a province admin its
    province's, a national principal every region's."""
    app = create_app(settings, consume=False)
    province_admin, national = token("province_admin", "62"), token("national", None)
    async with running(app) as client:

        async def status(path: str, headers: dict[str, str]) -> int:
            response = await client.get(f"/v1/cycles/2026{path}", headers=headers)
            assert response.status_code in (200, 403), response.text
            return response.status_code

        for code in (REGION, "62", "62.71", "63.01"):
            for headers in (province_admin, national):
                assert await status(f"/regions/{code}/score", headers) == 200
                assert await status(f"/regions/{code}/history", headers) == 200
            in_reach = {"province_admin": code.startswith("62"), "national": True}
            for headers, role in ((province_admin, "province_admin"), (national, "national")):
                expected = 200 if in_reach[role] else 403
                assert await status(f"/regions/{code}/explain", headers) == expected, (role, code)
                assert await status(f"/regions/{code}/gap?target=inovatif", headers) == expected, (role, code)
        for headers in (province_admin, national):
            assert await status("/rankings?type=provinsi", headers) == 200
            assert await status("/rankings?type=kabupaten&province=63", headers) == 200
        # The region-bound roles keep their rule: details of their own region only.
        assert await status("/regions/62.71/explain", token("region_admin", REGION)) == 403


async def reflected(client: httpx.AsyncClient, url: str, event_id: object) -> httpx.Response:
    """The score as of the event, asked again while the (short, 0.5 s) wait runs out before
    the consumer has applied it — on a loaded machine it can take longer."""
    for _ in range(40):
        response = await client.get(url, params={"after_event": str(event_id)}, headers=token("viewer"))
        if response.headers.get("x-event-reflected") != "false":
            return response
    return response


async def test_the_score_can_be_read_as_of_an_event(settings, redis):
    """Read your writes: `?after_event=` answers once the event is reflected; an event that
    never arrives gets the current score after the bounded wait, saying so."""
    settings = settings.model_copy(update={"after_event_max_wait_s": 0.5})
    app = create_app(settings)
    async with running(app) as client:
        answer, event = sample.spd_with_evidence("spd-01", 3, region=REGION)
        url = f"/v1/cycles/2026/regions/{REGION}/score"
        # The answer first, reflected, then its evidence: the two streams are read by
        # separate consumers, so sent together either could be scored first.
        await redis.xadd(settings.stream(ev.INTAKE_STREAM), ev.to_entry(answer))
        first = await reflected(client, url, answer.event_id)
        assert first.status_code == 200 and first.headers["x-event-reflected"] == "true"
        await redis.xadd(settings.stream(ev.EVIDENCE_STREAM), ev.to_entry(event))
        response = await reflected(client, url, event.event_id)
        assert response.status_code == 200 and response.headers["x-event-reflected"] == "true"
        assert response.json()["caused_by"] == str(event.event_id) and response.json()["version"] == 1
        never = await client.get(url, params={"after_event": str(ev.uuid7())}, headers=token("viewer"))
        assert never.status_code == 200 and never.headers["x-event-reflected"] == "false"
        assert never.json()["version"] == 1
        plain = await client.get(url, headers=token("viewer"))
        assert "x-event-reflected" not in plain.headers
        bad = await client.get(url, params={"after_event": "yesterday"}, headers=token("viewer"))
        assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "query.after_event"
