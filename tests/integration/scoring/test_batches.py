"""Scoring in batches against the real PostgreSQL (and, for one read of the stream, Redis):
whatever the batches, the scores are those of handling the events one at a time, and those
the engine computes from the newest state; a batch that touches a region many times makes one
score version."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from services.common import events as ev
from services.common.data.regions import load_regions
from services.common.db import create_pool, migrate
from services.common.events import FIGURES, FigureValues, RegionScore
from services.common.inbox import first_deliveries
from services.scoring.app import create_app
from services.scoring.domain.engine import compile_methodology, score_region
from services.scoring.domain.read_model import empty_figures, figure_values, figures_of, province_key
from services.scoring.domain.state import StoredEvidence, StoredInnovation, region_from_state
from services.scoring.handlers import handle_submission_events
from tests.support import events as sample
from tests.support.infra import DATABASE_URL, drop_schema, unique_suffix, wait_until
from tests.support.platform import running

pytestmark = pytest.mark.integration

REGIONS = ["62.10", "62.11", "62"]  # two kabupaten of Kalimantan Tengah and its provinsi
# Few indicators, so that evidence mostly lands on answered ones and the figures move.
SPD = ["spd-01", "spd-06"]
SID = ["sid-16", "sid-17"]
URUSAN = ["kesehatan", "pendidikan", "pariwisata"]
TABLES = "inbox, outbox, regions, spd_answers, innovations, evidence, scores, current_scores, applied_events"
GROUP = "scoring"


# --- random histories ------------------------------------------------------------------------

spd_steps = st.tuples(st.just("spd"), st.sampled_from(REGIONS), st.sampled_from(SPD), st.sampled_from([1, 2, 3, None]))
innovation_steps = st.tuples(
    st.just("innovation"), st.sampled_from(REGIONS), st.integers(0, 1),
    st.sampled_from(["draft", "submitted", "submitted", "submitted", "withdrawn"]), st.sampled_from(URUSAN),
    st.dictionaries(st.sampled_from(SID), st.sampled_from([1, 2, 3, 3, None]), min_size=1, max_size=2),
)
evidence_steps = st.tuples(
    st.just("evidence"), st.sampled_from(REGIONS), st.sampled_from([None, 0]),  # None: of an SPD answer
    st.sampled_from(SPD + SID), st.just(0), st.sampled_from(["pending", "accepted", "accepted", "rejected"]),
)


def to_events(steps: Sequence[tuple[Any, ...]]) -> list[ev.Envelope]:
    """Each step is the next version of its subject (an SPD answer, an innovation, an evidence
    item), in the order written."""
    versions: dict[str, int] = {}
    events: list[ev.Envelope] = []
    for step in steps:
        kind, region = step[0], step[1]
        if kind == "spd":
            _, _, indicator, level = step
            subject = ev.spd_subject(region, indicator)
            versions[subject] = versions.get(subject, 0) + 1
            events.append(sample.spd_answer_set(indicator, level, region=region, version=versions[subject]))
        elif kind == "innovation":
            _, _, n, status, urusan, answers = step
            subject = f"inv-{region}-{n}"
            versions[subject] = versions.get(subject, 0) + 1
            type_ = {"draft": "innovation.updated", "submitted": "innovation.submitted",
                     "withdrawn": "innovation.withdrawn"}[status]
            events.append(sample.innovation(
                type_, subject, region=region, version=versions[subject],
                data={"urusan_utama": urusan, "urusan_lain": [], "answers": answers},
            ))
        else:
            _, _, n, indicator, item, state = step
            innovation = None if n is None else f"inv-{region}-{n}"
            if (innovation is None) != indicator.startswith("spd"):
                indicator = SPD[0] if innovation is None else SID[0]
            subject = f"evd-{region}-{n}-{indicator}-{item}"
            versions[subject] = versions.get(subject, 0) + 1
            type_ = {"pending": "evidence.stored", "accepted": "evidence.accepted",
                     "rejected": "evidence.rejected"}[state]
            events.append(sample.evidence(
                type_, subject, region=region, version=versions[subject],
                data={"innovation_id": innovation, "indicator": indicator},
            ))
    return events


# Every region starts with answers that count in all three figures, so that what follows
# moves them.
BASE: list[tuple[Any, ...]] = [
    step
    for region in REGIONS
    for step in (
        *(("spd", region, indicator, 3) for indicator in SPD),
        *(("evidence", region, None, indicator, 0, "accepted") for indicator in SPD),
        ("innovation", region, 0, "submitted", "kesehatan", {SID[0]: 3, SID[1]: 2}),
        *(("evidence", region, 0, indicator, 0, "accepted") for indicator in SID),
    )
]


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[ev.Envelope], list[int]]:
    """A history delivered as a stream delivers it: reordered (so some events arrive after a
    newer version of their subject: stale), some twice (the relay published them again),
    cut into reads of random sizes."""
    changes = draw(st.lists(st.one_of(spd_steps, innovation_steps, evidence_steps), min_size=1, max_size=30))
    events = to_events(BASE + changes)
    delivered = [events[i] for i in draw(st.permutations(range(len(events))))]
    for source, at in draw(st.lists(st.tuples(st.integers(0, len(events) - 1), st.integers(0, len(events))),
                                    max_size=6)):
        delivered.insert(at, delivered[source])
    sizes: list[int] = []
    while sum(sizes) < len(delivered):
        sizes.append(draw(st.integers(1, 15)))
    return delivered, sizes


def engine_figures(events: Sequence[ev.Envelope]) -> dict[str, dict[str, FigureValues]]:
    """What the engine computes from the newest version of every subject."""
    newest: dict[str, ev.Envelope] = {}
    for event in events:
        if event.subject not in newest or event.version > newest[event.subject].version:
            newest[event.subject] = event
    compiled = compile_methodology("iid-2026")
    out = {}
    for code in REGIONS:
        info = load_regions()[code]
        spd: dict[str, int | None] = {}
        innovations: list[StoredInnovation] = []
        evidence: list[StoredEvidence] = []
        for event in newest.values():
            if event.region != code:
                continue
            data: Any = event.data
            if isinstance(event, ev.SpdAnswerSet):
                spd[data.indicator] = data.level
            elif isinstance(data, ev.InnovationState):
                innovations.append(StoredInnovation(data.id, data.status, data.urusan_utama, (), data.answers))
            else:
                evidence.append(StoredEvidence(data.innovation_id, data.indicator, data.state))
        region = region_from_state(code, info.type, province_key(info), spd, innovations, evidence)
        figures = score_region(region, compiled).figures
        out[code] = {f: figure_values(figures[f]) for f in FIGURES}
    return out


# --- running them -----------------------------------------------------------------------------


@dataclass
class Outcome:
    figures: dict[str, dict[str, FigureValues]]  # every region's current figures (no score: empty)
    versions: dict[str, list[int]]  # the score versions of each region, in order
    applied: set[Any]  # event ids recorded in applied_events
    updates: int  # score.updated events in the outbox


async def deliver(pool: asyncpg.Pool, events: Sequence[ev.Envelope], sizes: Sequence[int]) -> Outcome:
    """Each read as the consumer handles it: one transaction, the inbox for all, the new
    events once each, in order."""
    async with pool.acquire() as conn:
        await conn.execute(f"TRUNCATE {TABLES}")
    start = 0
    for size in sizes:
        read = events[start:start + size]
        start += size
        async with pool.acquire() as conn, conn.transaction():
            fresh = await first_deliveries(conn, GROUP, [e.event_id for e in read])
            new = []
            for event in read:
                if event.event_id in fresh:
                    fresh.discard(event.event_id)
                    new.append(event)
            if new:
                await handle_submission_events(new, conn)
    async with pool.acquire() as conn:
        scores = {r["region"]: RegionScore.model_validate(r["score"])
                  for r in await conn.fetch("SELECT region, score FROM current_scores")}
        versions = {r["region"]: list(r["v"]) for r in await conn.fetch(
            "SELECT region, array_agg(version ORDER BY version) AS v FROM scores GROUP BY region")}
        applied = {r["event_id"] for r in await conn.fetch("SELECT event_id FROM applied_events")}
        updates = await conn.fetchval("SELECT count(*) FROM outbox WHERE type = 'score.updated'")
    compiled = compile_methodology("iid-2026")
    figures = {
        code: figures_of(scores[code]) if code in scores else empty_figures(load_regions()[code], compiled)
        for code in REGIONS
    }
    return Outcome(figures, versions, applied, updates)


@pytest.fixture(scope="module")
async def pools() -> AsyncIterator[tuple[asyncpg.Pool, asyncpg.Pool]]:
    """Two scoring schemas: one fed in batches, one an event at a time."""
    suffix = unique_suffix()
    schemas = [f"{suffix}_batched", f"{suffix}_single"]
    created = []
    try:
        for schema in schemas:
            await migrate(DATABASE_URL, schema, "services.scoring.migrations")
            created.append(await create_pool(DATABASE_URL, schema, min_size=1, max_size=2))
        yield created[0], created[1]
    finally:
        for pool in created:
            await pool.close()
        for schema in schemas:
            await drop_schema(DATABASE_URL, schema)


@given(deliveries())
@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
async def test_batches_with_several_regions_duplicates_and_stale_events_score_as_one_at_a_time(
    pools: tuple[asyncpg.Pool, asyncpg.Pool], delivery: tuple[list[ev.Envelope], list[int]]
) -> None:
    events, sizes = delivery
    batched = await deliver(pools[0], events, sizes)
    single = await deliver(pools[1], events, [1] * len(events))
    # The same figures (all three, every component) as one at a time, and as the engine
    # computes them from the newest state.
    assert batched.figures == single.figures == engine_figures(events)
    # The same events applied (a stale one in neither); versions without gaps, at most one
    # per read and region, so never more than one at a time makes.
    assert batched.applied == single.applied
    for outcome in (batched, single):
        for versions in outcome.versions.values():
            assert versions == list(range(1, len(versions) + 1))
        assert outcome.updates == sum(len(v) for v in outcome.versions.values())
    for code, versions in batched.versions.items():
        assert len(versions) <= min(len(single.versions.get(code, [])), len(sizes))


async def test_a_read_that_touches_a_region_many_times_makes_one_score_version(settings, redis: Redis) -> None:
    """Evidence accepted for six SPD answers, each of which alone changes the figures: one at a
    time they would make six versions; read together, one, caused by the last of them."""
    answers = [sample.spd_answer_set(indicator, 3) for indicator in ("spd-01", "spd-02a", "spd-03", "spd-04",
                                                                     "spd-06", "spd-12")]
    accepted = [
        sample.evidence("evidence.accepted", f"evd-{a.data.indicator}",
                        data={"innovation_id": None, "indicator": a.data.indicator})
        for a in answers
    ]
    app = create_app(settings)
    async with running(app):
        pool = app.state.runtime.pool

        async def applied(n: int) -> bool:
            async with pool.acquire() as conn:
                return await conn.fetchval("SELECT count(*) FROM applied_events") >= n

        for answer in answers:  # answers without evidence count in no figure: no version yet
            await redis.xadd(settings.stream(ev.INTAKE_STREAM), ev.to_entry(answer))  # type: ignore[arg-type]
        await wait_until(lambda: applied(len(answers)), timeout=15)
        async with redis.pipeline(transaction=True) as pipe:  # MULTI: all there for the next read
            for event in accepted:
                pipe.xadd(settings.stream(ev.EVIDENCE_STREAM), ev.to_entry(event))  # type: ignore[arg-type]
            await pipe.execute()
        await wait_until(lambda: applied(len(answers) + len(accepted)), timeout=15)
        async with pool.acquire() as conn:
            versions = await conn.fetch("SELECT version, caused_by FROM scores ORDER BY version")
            rows = {r["event_id"]: r for r in await conn.fetch(
                "SELECT event_id, score_version, changed FROM applied_events")}
            updates = await conn.fetchval("SELECT count(*) FROM outbox WHERE type = 'score.updated'")
    assert [(v["version"], v["caused_by"]) for v in versions] == [(1, accepted[-1].event_id)]
    assert updates == 1
    assert all(rows[e.event_id]["score_version"] == 1 for e in accepted)
    assert [rows[e.event_id]["changed"] for e in accepted] == [False] * 5 + [True]
