"""Scoring's queries: a region's score with its current ranks, its history, rankings, the
explanation of a figure and the gap plan to a target. Each checks the cycle and region named
(not found), then who may read (forbidden), then computes from the committed state."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Sequence
from decimal import Decimal
from uuid import UUID

from services.common.data.regions import RegionInfo, RegionType, load_regions
from services.common.errors import Forbidden, InvalidInput, NotFound
from services.common.events import FIGURES, RegionScore
from services.common.lru import LruCache
from services.common.methodology.catalogue import CatalogueError, methodology_for_cycle
from services.common.principal import Principal
from services.scoring.adapters import state_store
from services.scoring.dependencies import ScoringDeps
from services.scoring.domain.engine import Region, compile_methodology, score_region
from services.scoring.domain.explain import Explanation, explain_region
from services.scoring.domain.gap import GapPlan, TargetError, plan_gap
from services.scoring.domain.queries import ExplainQuery, GapQuery, HistoryQuery, RankingsQuery, RegionQuery
from services.scoring.domain.ranking import Entry, competition_ranks, rank_regions
from services.scoring.domain.read_model import NO_RANKS, figure_ranks, province_key, region_score
from services.scoring.domain.results import ranks_at
from services.scoring.domain.state import region_from_state
from services.scoring.views import RankedRegion, Rankings, ScoreAsOf, ScoreHistory

AFTER_EVENT_POLL_S = 0.05


def methodology_of(cycle: int) -> str:
    try:
        return methodology_for_cycle(cycle).id
    except CatalogueError:
        raise NotFound.named(f"cycle {cycle}") from None


def known_region(code: str) -> RegionInfo:
    info = load_regions().get(code)
    if info is None:
        raise NotFound.named(f"region {code}")
    return info


def check_province(province: str | None) -> None:
    if province is not None and province not in load_regions():
        raise InvalidInput.at("query.province", f"unknown province {province!r}")


def _unscored(info: RegionInfo, cycle: int, methodology: str) -> RegionScore:
    """What a region without any event scores: the engine's score of an empty region. It
    depends only on the region's type, so it is computed once per type (a national feed's
    snapshot asks for 546 of them)."""
    template = _unscored_of_type(info.type, cycle, methodology)
    return template.model_copy(update={"region": info.code, "name": info.name, "province": province_key(info)})


@functools.lru_cache(maxsize=64)
def _unscored_of_type(region_type: RegionType, cycle: int, methodology: str) -> RegionScore:
    info = next(i for i in load_regions().values() if i.type == region_type)
    figures = score_region(Region(info.code, info.type, province_key(info)), compile_methodology(methodology))
    return region_score(
        info, figures, dict.fromkeys(FIGURES, NO_RANKS),
        cycle=cycle, version=0, caused_by=None, cause_type=None, computed_at=None,
    )


async def region_score_now(deps: ScoringDeps, principal: Principal, query: RegionQuery) -> ScoreAsOf:
    """The region's current score, with its ranks as they are now (another region may have
    moved past it since its score was computed). With `after_event`, once that event is
    reflected — or, if it is not within the wait, as it is then (`reflects_event` False)."""
    methodology = methodology_of(query.cycle)
    info = known_region(query.region)
    reflects = None if query.after_event is None else await _wait_for_event(deps, query.after_event)
    return ScoreAsOf(await _current_score(deps, info, query.cycle, methodology), reflects)


async def _wait_for_event(deps: ScoringDeps, event_id: UUID) -> bool:
    deadline = time.monotonic() + deps.after_event_max_wait_s
    while True:
        async with deps.pool.acquire() as conn:
            if await state_store.event_applied(conn, deps.group, event_id):
                return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(AFTER_EVENT_POLL_S)


async def _current_score(deps: ScoringDeps, info: RegionInfo, cycle: int, methodology: str) -> RegionScore:
    async with deps.pool.acquire() as conn:
        score = await state_store.current_score(conn, cycle, info.code)
        score = score or _unscored(info, cycle, methodology)
        iids = {f: score.figure(f).iid for f in FIGURES}
        positions = await state_store.positions(conn, cycle, info.code, info.type, province_key(info), iids)
    return score.with_ranks({f: figure_ranks(info, *positions[f]) for f in FIGURES})


async def score_history(deps: ScoringDeps, principal: Principal, query: HistoryQuery) -> ScoreHistory:
    methodology_of(query.cycle)
    known_region(query.region)
    async with deps.pool.acquire() as conn:
        scores = await state_store.score_history(conn, query.cycle, query.region, query.limit)
    return ScoreHistory(cycle=query.cycle, region=query.region, scores=scores)


async def rankings(deps: ScoringDeps, principal: Principal, query: RankingsQuery) -> Rankings:
    """Every region of a type (those not yet scored at 0), ranked on a figure's IID."""
    methodology = methodology_of(query.cycle)
    check_province(query.province)
    if query.province is not None and query.type == "provinsi":
        raise InvalidInput.at(
            "query.province", "a provinsi is ranked only nationally; drop province or choose kabupaten or kota"
        )
    members = [
        r for r in load_regions().values()
        if r.type == query.type and (query.province is None or r.province_code == query.province)
    ]
    async with deps.pool.acquire() as conn:
        scored = await state_store.figure_of_type(conn, query.cycle, query.type, query.figure)
    hundredths = {r.code: int(scored[r.code].iid * 100) if r.code in scored else 0 for r in members}
    unscored_category = compile_methodology(methodology).category_of(0)  # what 0.00 is: tidak dapat dinilai
    ranks = competition_ranks(hundredths)
    return Rankings(
        cycle=query.cycle,
        type=query.type,
        province=query.province,
        figure=query.figure,
        regions=[
            RankedRegion(
                rank=ranks[r.code],
                region=r.code,
                name=r.name,
                iid=Decimal(hundredths[r.code]).scaleb(-2),
                category=scored[r.code].category if r.code in scored else unscored_category,
            )
            for r in sorted(members, key=lambda r: (ranks[r.code], r.code))
        ],
    )


async def current_scores(
    deps: ScoringDeps, cycle: int, methodology: str, regions: Sequence[RegionInfo]
) -> list[RegionScore]:
    """The current score of each of `regions`, with the ranks as they are now."""
    if len(regions) == 1:
        return [await _current_score(deps, regions[0], cycle, methodology)]
    async with deps.pool.acquire() as conn:
        iids = await state_store.iids_of_cycle(conn, cycle)
        stored = await state_store.scores_of(conn, cycle, [r.code for r in regions])
    zero = dict.fromkeys(FIGURES, Decimal(0))
    entries = [
        Entry(r.code, r.type, province_key(r), {f: int(iids.get(r.code, zero)[f] * 100) for f in FIGURES})
        for r in load_regions().values()
    ]
    ranking = rank_regions(entries)
    return [
        (stored.get(r.code) or _unscored(r, cycle, methodology)).with_ranks(
            {f: ranks_at(ranking[r.code][f]) for f in FIGURES}
        )
        for r in regions
    ]


def _require_region_reader(principal: Principal, code: str) -> None:
    if not principal.can_read_region_details(code):
        raise Forbidden("explanations and gap analyses are for the region's admin, verifiers and viewers")


async def _engine_region(deps: ScoringDeps, cycle: int, info: RegionInfo) -> Region:
    async with deps.pool.acquire() as conn:
        spd, innovations, evidence = await state_store.load_region_state(conn, cycle, info.code)
    return region_from_state(info.code, info.type, province_key(info), spd, innovations, evidence)


async def explain(deps: ScoringDeps, principal: Principal, query: ExplainQuery) -> Explanation:
    methodology = methodology_of(query.cycle)
    info = known_region(query.region)
    _require_region_reader(principal, query.region)
    region = await _engine_region(deps, query.cycle, info)
    return explain_region(region, compile_methodology(methodology), query.figure)


async def gap(deps: ScoringDeps, principal: Principal, query: GapQuery) -> GapPlan:
    methodology = methodology_of(query.cycle)
    info = known_region(query.region)
    _require_region_reader(principal, query.region)
    async with deps.pool.acquire() as conn:
        state = await state_store.load_region_state(conn, query.cycle, info.code)
    # Planning is a greedy search (hundreds of ms for a busy region) and every dashboard load
    # asks for it: a plan is kept for the exact state it was made from.
    key = (methodology, query.figure, query.target, query.maturity, info.code, repr(state))
    plan = _GAP_PLANS.get(key)
    if plan is not None:
        return plan
    spd, innovations, evidence = state
    region = region_from_state(info.code, info.type, province_key(info), spd, innovations, evidence)
    try:
        plan = plan_gap(region, compile_methodology(methodology), query.figure, query.target, query.maturity)
    except TargetError as exc:
        raise InvalidInput.at("query.target", str(exc)) from None
    _GAP_PLANS.put(key, plan)
    return plan


GAP_PLANS_KEPT = 256
_GAP_PLANS: LruCache[tuple[object, ...], GapPlan] = LruCache(GAP_PLANS_KEPT)
