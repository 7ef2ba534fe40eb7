"""Scoring's HTTP API: a region's score (three figures, categories, ranks, components), its
history with the events that moved it, explanation and gap analysis, rankings, and the
Server-Sent Events feed of score updates. Each route only translates: request → query, one
query handler, result → response."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from services.common.data.regions import RegionType
from services.common.events import Figure, RegionScore
from services.common.http import CurrentPrincipal, json_response, service_dependencies
from services.scoring import handlers
from services.scoring.dependencies import ScoringDeps
from services.scoring.domain.explain import Explanation
from services.scoring.domain.gap import GapPlan
from services.scoring.domain.queries import (
    ExplainQuery,
    FeedQuery,
    GapQuery,
    HistoryQuery,
    RankingsQuery,
    RegionQuery,
)
from services.scoring.views import FeedItem, RankingMessage, Rankings, ScoreHistory, ScoreMessage

router = APIRouter(prefix="/v1", tags=["scoring"])
Deps = Annotated[ScoringDeps, Depends(service_dependencies)]


@router.get("/cycles/{year}/regions/{code}/score", response_model=RegionScore)
async def get_region_score(
    year: int, code: str, principal: CurrentPrincipal, deps: Deps,
    after_event: Annotated[
        UUID | None,
        Query(description="a write's event_id: answer once the score reflects it (waits a few seconds at most; "
              "the X-Event-Reflected header says whether it does)"),
    ] = None,
) -> JSONResponse:
    """The region's score as published in `score.updated` (and on the live feed), with its
    ranks as they are now."""
    found = await handlers.region_score_now(deps, principal, RegionQuery(year, code, after_event))
    if found.reflects_event is None:
        return json_response(found.score)
    return json_response(found.score, headers={"X-Event-Reflected": str(found.reflects_event).lower()})


@router.get("/cycles/{year}/regions/{code}/history", response_model=ScoreHistory)
async def get_region_history(
    year: int, code: str, principal: CurrentPrincipal, deps: Deps,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSONResponse:
    """Lineage: every score of the region, newest first, with the event that caused it."""
    return json_response(await handlers.score_history(deps, principal, HistoryQuery(year, code, limit)))


@router.get("/cycles/{year}/regions/{code}/explain", response_model=Explanation)
async def get_region_explanation(
    year: int, code: str, principal: CurrentPrincipal, deps: Deps, figure: Figure = "validated"
) -> JSONResponse:
    return json_response(await handlers.explain(deps, principal, ExplainQuery(year, code, figure)))


@router.get("/cycles/{year}/regions/{code}/gap", response_model=GapPlan)
async def get_region_gap(
    year: int, code: str, principal: CurrentPrincipal, deps: Deps,
    target: Annotated[str, Query(min_length=1, max_length=40)],
    figure: Figure = "validated",
    maturity: Annotated[Decimal | None, Query(gt=0, le=111)] = None,
) -> JSONResponse:
    return json_response(await handlers.gap(deps, principal, GapQuery(year, code, target, figure, maturity)))


@router.get("/cycles/{year}/rankings", response_model=Rankings)
async def get_rankings(
    year: int, principal: CurrentPrincipal, deps: Deps,
    type: RegionType = "kabupaten",
    province: Annotated[str | None, Query(pattern=r"^\d{2}$")] = None,
    figure: Figure = "validated",
) -> JSONResponse:
    """Every region of a type (those not yet scored at 0), ranked on a figure's IID."""
    return json_response(await handlers.rankings(deps, principal, RankingsQuery(year, type, province, figure)))


def sse_text(item: FeedItem) -> str:
    if isinstance(item, ScoreMessage):
        return f"id: {item.entry_id}\nevent: score.updated\ndata: {item.score.model_dump_json()}\n\n"
    if isinstance(item, RankingMessage):
        return f"id: {item.entry_id}\nevent: ranking.changed\ndata: {item.change.model_dump_json()}\n\n"
    return ": waiting for the event stream\n\n" if item.stream_unavailable else ": keep-alive\n\n"


@router.get("/cycles/{year}/stream")
async def score_stream(
    year: int,
    request: Request,
    principal: CurrentPrincipal,
    deps: Deps,
    region: Annotated[str | None, Query()] = None,
    province: Annotated[str | None, Query(pattern=r"^\d{2}$")] = None,
    last_event_id: Annotated[str | None, Header(pattern=r"^\d{1,20}-\d{1,20}$")] = None,
) -> StreamingResponse:
    """Server-Sent Events `score.updated`, each carrying the region's score (the same JSON as
    the score endpoint); the stream entry id is the SSE id, so a client that reconnects with
    `Last-Event-ID` misses nothing."""
    feed = await handlers.open_score_feed(deps, principal, FeedQuery(year, region, province, last_event_id))

    async def events() -> AsyncIterator[str]:
        yield "retry: 2000\n: connected\n\n"
        try:
            async for item in feed:
                if await request.is_disconnected():
                    return
                yield sse_text(item)
        finally:
            await feed.aclose()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
