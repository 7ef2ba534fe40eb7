"""Scoring's HTTP API: a region's score (three figures, categories, ranks, breakdown), its
history with the events that moved it, explanation and gap analysis, rankings, and the
Server-Sent Events feed of score updates."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from redis.exceptions import RedisError

from services.common.auth import CurrentPrincipal, Principal, forbidden
from services.common.bus import read_events, stream_position
from services.common.data.regions import RegionInfo, load_regions
from services.common.events import SCORING_EVENTS
from services.common.methodology.catalogue import CatalogueError, methodology_for_cycle
from services.common.service import ApiError, ServiceRuntime, invalid, not_found, runtime_of
from services.scoring.adapters import state_store
from services.scoring.domain.engine import FIGURES, Figure, Region, compile_methodology, score_region
from services.scoring.domain.explain import explain_region
from services.scoring.domain.gap import TargetError, plan_gap
from services.scoring.domain.ranking import competition_ranks
from services.scoring.domain.state import payload_json, region_from_state, score_payload
from services.scoring.handlers import group_sizes

router = APIRouter(prefix="/v1", tags=["scoring"])
Runtime = Annotated[ServiceRuntime, Depends(runtime_of)]
RegionType = Literal["provinsi", "kabupaten", "kota"]
SSE_BLOCK_MS = 5_000  # below the Redis client's socket timeout; a keep-alive is sent after each


MAX_STREAM_ID_PART = 2**64 - 1


def _valid_stream_id(entry_id: str) -> bool:
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds) <= MAX_STREAM_ID_PART and int(sequence) <= MAX_STREAM_ID_PART


def _cycle(year: int) -> str:
    try:
        return methodology_for_cycle(year).id
    except CatalogueError:
        raise not_found(f"cycle {year}") from None


def _region(code: str) -> RegionInfo:
    info = load_regions().get(code)
    if info is None:
        raise not_found(f"region {code}")
    return info


def _province_key(info: RegionInfo) -> str | None:
    return None if info.type == "provinsi" else info.province_code


def _figures_with_ranks(figures: dict, ranks: dict, info: RegionInfo) -> dict:
    of_type, of_province = group_sizes(info.type, _province_key(info))
    out = {}
    for f in FIGURES:
        type_rank, province_rank = ranks[f]
        out[f] = {
            **figures[f],
            "rank": {
                "type": {"position": type_rank, "of": of_type},
                "province": {"position": province_rank, "of": of_province} if province_rank is not None else None,
            },
        }
    return out


@router.get("/cycles/{year}/regions/{code}/score")
async def region_score(year: int, code: str, principal: CurrentPrincipal, runtime: Runtime) -> dict:
    methodology = _cycle(year)
    info = _region(code)
    async with runtime.pool.acquire() as conn:
        record = await state_store.current_score(conn, year, code)
        if record is None:  # nothing reported yet: the engine's score of an empty region
            empty = Region(code, info.type, _province_key(info))
            figures = payload_json(score_payload(score_region(empty, compile_methodology(methodology))))
            version, caused_by, computed_at = 0, None, None
        else:
            figures = state_store.figures_json(record)
            version, caused_by, computed_at = record["version"], str(record["caused_by"]), record["computed_at"].isoformat()
        iids = {f: Decimal(figures[f]["iid"]) for f in FIGURES}
        ranks = await state_store.rank_of(conn, year, info.type, _province_key(info), iids)
    return {
        "cycle": year,
        "region": code,
        "name": info.name,
        "type": info.type,
        "province": _province_key(info),
        "methodology": methodology,
        "version": version,
        "caused_by": caused_by,
        "computed_at": computed_at,
        "figures": _figures_with_ranks(figures, ranks, info),
    }


@router.get("/cycles/{year}/regions/{code}/history")
async def region_history(
    year: int, code: str, principal: CurrentPrincipal, runtime: Runtime,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict:
    """Lineage: every score of the region, newest first, with the event that caused it."""
    _cycle(year)
    _region(code)
    async with runtime.pool.acquire() as conn:
        rows = await state_store.score_history(conn, year, code, limit)
    return {
        "cycle": year,
        "region": code,
        "scores": [
            {
                "version": row["version"],
                "caused_by": str(row["caused_by"]),
                "cause_type": row["cause_type"],
                "computed_at": row["computed_at"].isoformat(),
                "iid": {f: state_store.figures_json(row)[f]["iid"] for f in FIGURES},
            }
            for row in rows
        ],
    }


def _require_region_reader(principal: Principal, code: str) -> None:
    # The details name every agency's innovations: the region's own admin, verifiers and
    # dashboards may read them; an operator sees only its agency's, through intake.
    if principal.role == "operator" or not principal.in_region(code):
        raise forbidden("explanations and gap analyses are for the region's admin, verifiers and viewers")


async def _engine_region(runtime: ServiceRuntime, year: int, info: RegionInfo) -> Region:
    async with runtime.pool.acquire() as conn:
        spd, innovations, evidence = await state_store.load_region_state(conn, year, info.code)
    return region_from_state(info.code, info.type, _province_key(info), spd, innovations, evidence)


@router.get("/cycles/{year}/regions/{code}/explain")
async def region_explain(
    year: int, code: str, principal: CurrentPrincipal, runtime: Runtime, figure: Figure = "validated"
) -> dict:
    methodology = _cycle(year)
    info = _region(code)
    _require_region_reader(principal, code)
    region = await _engine_region(runtime, year, info)
    return explain_region(region, compile_methodology(methodology), figure)


@router.get("/cycles/{year}/regions/{code}/gap")
async def region_gap(
    year: int, code: str, principal: CurrentPrincipal, runtime: Runtime,
    target: Annotated[str, Query(min_length=1, max_length=40)],
    figure: Figure = "validated",
    maturity: Annotated[Decimal | None, Query(gt=0, le=111)] = None,
) -> dict:
    methodology = _cycle(year)
    info = _region(code)
    _require_region_reader(principal, code)
    region = await _engine_region(runtime, year, info)
    try:
        return plan_gap(region, compile_methodology(methodology), figure, target, maturity)
    except TargetError as exc:
        raise invalid("query.target", str(exc)) from None


@router.get("/cycles/{year}/rankings")
async def rankings(
    year: int, principal: CurrentPrincipal, runtime: Runtime,
    type: RegionType = "kabupaten",
    province: Annotated[str | None, Query(pattern=r"^\d{2}$")] = None,
    figure: Figure = "validated",
) -> dict:
    """Every region of a type (those not yet scored at 0), ranked on a figure's IID."""
    _cycle(year)
    if province is not None and province not in load_regions():
        raise invalid("query.province", f"unknown province {province!r}")
    if province is not None and type == "provinsi":
        raise invalid("query.province", "a provinsi is ranked only nationally; drop province or choose kabupaten or kota")
    members = [
        r for r in load_regions().values()
        if r.type == type and (province is None or (r.province_code == province and type != "provinsi"))
    ]
    async with runtime.pool.acquire() as conn:
        records = {r["region"]: r for r in await state_store.current_scores(conn, year, type)}
    column = f"iid_{figure}"
    iids = {r.code: int(records[r.code][column] * 100) if r.code in records else 0 for r in members}
    ranks = competition_ranks(iids)
    rows = sorted(members, key=lambda r: (ranks[r.code], r.code))
    return {
        "cycle": year,
        "type": type,
        "province": province,
        "figure": figure,
        "regions": [
            {
                "rank": ranks[r.code],
                "region": r.code,
                "name": r.name,
                "iid": f"{iids[r.code] / 100:.2f}",
                "category": state_store.figures_json(records[r.code])[figure]["category"] if r.code in records else None,
            }
            for r in rows
        ],
    }


@router.get("/cycles/{year}/stream")
async def score_stream(
    year: int,
    request: Request,
    principal: CurrentPrincipal,
    runtime: Runtime,
    region: Annotated[str | None, Query()] = None,
    province: Annotated[str | None, Query(pattern=r"^\d{2}$")] = None,
    last_event_id: Annotated[str | None, Header(pattern=r"^\d{1,20}-\d{1,20}$")] = None,
) -> StreamingResponse:
    """Server-Sent Events of `score.updated`; the stream entry id is the SSE id, so a client
    that reconnects with `Last-Event-ID` misses nothing."""
    _cycle(year)
    if region is not None:
        _region(region)
    if province is not None and province not in load_regions():
        raise invalid("query.province", f"unknown province {province!r}")
    if last_event_id is not None and not _valid_stream_id(last_event_id):
        raise invalid("header.Last-Event-ID", "not a stream entry id this feed sent (each part at most 2**64 - 1)")
    key = runtime.settings.stream(SCORING_EVENTS)
    try:
        start = last_event_id or await stream_position(runtime.redis, key)
    except RedisError:
        raise ApiError(503, "unavailable", reason="the event stream is unreachable; retry shortly") from None
    regions = load_regions()

    def wanted(code: str) -> bool:
        if region is not None:
            return code == region
        if province is not None:
            info = regions.get(code)
            return info is not None and info.province_code == province
        return True

    async def events() -> AsyncIterator[str]:
        position = start
        yield "retry: 2000\n: connected\n\n"
        while not await request.is_disconnected():
            try:
                position, batch = await read_events(runtime.redis, key, position, block_ms=SSE_BLOCK_MS)
            except (RedisError, OSError, asyncio.TimeoutError):
                await asyncio.sleep(1)  # Redis unavailable: keep the client, try again
                yield ": waiting for the event stream\n\n"
                continue
            sent = False
            for entry_id, event in batch:
                if event.type == "score.updated" and event.cycle == year and wanted(event.region):
                    yield f"id: {entry_id}\nevent: score.updated\ndata: {event.model_dump_json()}\n\n"
                    sent = True
            if not sent:
                yield ": keep-alive\n\n"

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
