"""Scoring's HTTP API: a region's score (three figures, categories, ranks, components), its
history with the events that moved it, explanation and gap analysis, rankings, and the
Server-Sent Events feed of score updates. Each route only translates: request → query, one
query handler, result → response."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import WithJsonSchema
from pydantic.json_schema import SkipJsonSchema

from services.common.data.regions import RegionType
from services.common.events import Figure, RegionScore
from services.common.http import CurrentPrincipal, json_response, revoked_since, service_dependencies
from services.common.lru import LruCache
from services.common.openapi import REGION_CODE_PATTERN, UUID_PARAMETER, category_ids, errors, province_codes
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
from services.scoring.views import FeedDropped, FeedItem, RankingMessage, Rankings, ScoreHistory, ScoreMessage

router = APIRouter(prefix="/v1", tags=["scoring"])
Deps = Annotated[ScoringDeps, Depends(service_dependencies)]
# A year without a methodology, and a code that names no region, are "not found"; a
# province filter that names no provinsi is refused (422).
RegionCode = Annotated[str, Path(json_schema_extra={"pattern": REGION_CODE_PATTERN}, examples=["62.10"])]
Province = Annotated[
    str | SkipJsonSchema[None],
    Query(pattern=r"^\d{2}$", json_schema_extra={"enum": province_codes()},
          description="a provinsi's code, e.g. 62: its regions only (for rankings, not with type=provinsi)"),
]
# A category (its id, or its label in any case) or an IID from 0 to 100 (domain.gap).
TARGET_PATTERN = (
    "^(" + "|".join(category_ids()) + r"|100(\.0{1,2})?|\d{1,2}(\.\d{1,2})?)$"
)
READ_ERRORS = errors(403, 404, 422)


class EventStreamResponse(StreamingResponse):
    media_type = "text/event-stream"


# Each event of the feed (the document's schema of text/event-stream describes one event):
# its SSE id (the stream entry's), its name, and JSON data.
SSE_EVENT = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "id": {"type": "string", "pattern": r"^\d+-\d+$", "description": "send as Last-Event-ID to resume"},
        "event": {"enum": ["score.updated", "ranking.changed"]},
        "data": {"type": "string", "contentMediaType": "application/json"},
        "retry": {"type": "integer"},
    },
    "anyOf": [
        {
            "properties": {
                "event": {"const": "score.updated"},
                "data": {"contentSchema": {"$ref": "#/components/schemas/RegionScore"},
                         "description": "the region's score, as the score endpoint answers it"},
            },
        },
        {
            "properties": {
                "event": {"const": "ranking.changed"},
                "data": {"description": "the regions whose rank moved, as in the ranking.changed event"},
            },
        },
    ],
}


@router.get(
    "/cycles/{year}/regions/{code}/score", response_model=RegionScore,
    responses={
        200: {"headers": {"X-Event-Reflected": {
            "description": "with after_event: whether the score reflects it", "schema": {"type": "string"},
        }}},
        **READ_ERRORS,
    },
)
async def get_region_score(
    year: int, code: RegionCode, principal: CurrentPrincipal, deps: Deps,
    after_event: Annotated[
        UUID | None,
        Query(description="a write's event_id: answer once the score reflects it (waits a few seconds at most; "
              "the X-Event-Reflected header says whether it does)"),
        UUID_PARAMETER,
    ] = None,
) -> JSONResponse:
    """The region's score as published in `score.updated` (and on the live feed), with its
    ranks as they are now."""
    found = await handlers.region_score_now(deps, principal, RegionQuery(year, code, after_event))
    if found.reflects_event is None:
        return json_response(found.score)
    return json_response(found.score, headers={"X-Event-Reflected": str(found.reflects_event).lower()})


@router.get("/cycles/{year}/regions/{code}/history", response_model=ScoreHistory, responses=READ_ERRORS)
async def get_region_history(
    year: int, code: RegionCode, principal: CurrentPrincipal, deps: Deps,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSONResponse:
    """Lineage: every score of the region, newest first, with the event that caused it."""
    return json_response(await handlers.score_history(deps, principal, HistoryQuery(year, code, limit)))


@router.get("/cycles/{year}/regions/{code}/explain", response_model=Explanation, responses=READ_ERRORS)
async def get_region_explanation(
    year: int, code: RegionCode, principal: CurrentPrincipal, deps: Deps, figure: Figure = "validated"
) -> JSONResponse:
    return json_response(await handlers.explain(deps, principal, ExplainQuery(year, code, figure)))


@router.get("/cycles/{year}/regions/{code}/gap", response_model=GapPlan, responses=READ_ERRORS)
async def get_region_gap(
    year: int, code: RegionCode, principal: CurrentPrincipal, deps: Deps,
    target: Annotated[
        str,
        Query(min_length=1, max_length=40, json_schema_extra={"pattern": TARGET_PATTERN},
              description="a category (e.g. inovatif) or an IID from 0 to 100 (e.g. 45.5)"),
    ],
    figure: Figure = "validated",
    maturity: Annotated[
        Decimal | SkipJsonSchema[None],
        Query(gt=0, le=111, description="the SID maturity to assume, above 0 and at most 111"),
        WithJsonSchema({"type": "number", "exclusiveMinimum": 0, "maximum": 111}),
    ] = None,
) -> JSONResponse:
    return json_response(await handlers.gap(deps, principal, GapQuery(year, code, target, figure, maturity)))


@router.get("/cycles/{year}/rankings", response_model=Rankings, responses=READ_ERRORS)
async def get_rankings(
    year: int, principal: CurrentPrincipal, deps: Deps,
    type: RegionType = "kabupaten",
    province: Province = None,
    figure: Figure = "validated",
) -> JSONResponse:
    """Every region of a type (those not yet scored at 0), ranked on a figure's IID."""
    return json_response(await handlers.rankings(deps, principal, RankingsQuery(year, type, province, figure)))


def sse_text(item: FeedItem) -> str:
    if isinstance(item, ScoreMessage | RankingMessage):
        return _rendered(item)
    if isinstance(item, FeedDropped):
        return f": dropped: {item.reason}\n\n"
    return ": waiting for the event stream\n\n" if item.stream_unavailable else ": keep-alive\n\n"


# The feed hands every client following the same thing the same message object: its text is
# made once, not once per client (kept by identity, with the message, for the newest few).
RENDERED_KEPT = 1024
_RENDERED: LruCache[int, tuple[ScoreMessage | RankingMessage, str]] = LruCache(RENDERED_KEPT)


def _rendered(item: ScoreMessage | RankingMessage) -> str:
    found = _RENDERED.get(id(item))
    if found is not None and found[0] is item:
        return found[1]
    if isinstance(item, ScoreMessage):
        text = f"id: {item.entry_id}\nevent: score.updated\ndata: {item.score.model_dump_json()}\n\n"
    else:
        text = f"id: {item.entry_id}\nevent: ranking.changed\ndata: {item.change.model_dump_json()}\n\n"
    _RENDERED.put(id(item), (item, text))
    return text


@router.get(
    "/cycles/{year}/stream", response_class=EventStreamResponse,
    responses={
        200: {"description": "Server-Sent Events, until the client leaves or the server stops",
              "content": {"text/event-stream": {"schema": SSE_EVENT}}},
        **errors(403, 404, 422, by_reference=True),
    },
)
async def score_stream(
    year: int,
    request: Request,
    principal: CurrentPrincipal,
    deps: Deps,
    region: Annotated[
        str | SkipJsonSchema[None], Query(json_schema_extra={"pattern": REGION_CODE_PATTERN}, examples=["62.10"])
    ] = None,
    province: Province = None,
    last_event_id: Annotated[
        str | SkipJsonSchema[None],
        # Each part at most 2**64 - 1: published as at most 19 digits, which always are.
        Header(pattern=r"^\d{1,20}-\d{1,20}$", json_schema_extra={"pattern": r"^\d{1,19}-\d{1,19}$"},
               description="the SSE id of the last event received: resume after it",
               examples=["1796025949566-0"]),
    ] = None,
) -> StreamingResponse:
    """Server-Sent Events `score.updated`, each carrying the region's score (the same JSON as
    the score endpoint); the stream entry id is the SSE id, so a client that reconnects with
    `Last-Event-ID` misses nothing. The feed ends once the caller's account is disabled or its
    token revoked (within the feed's keep-alive interval)."""
    feed = await handlers.open_score_feed(deps, principal, FeedQuery(year, region, province, last_event_id))

    async def events() -> AsyncIterator[str]:
        yield "retry: 2000\n: connected\n\n"
        try:
            # A client that leaves ends the response at the next send (a keep-alive at the
            # latest): not asked per message, which cost more than the message itself.
            async for item in feed:
                if revoked_since(request, principal) is not None:
                    return
                yield sse_text(item)
        finally:
            await feed.aclose()

    return EventStreamResponse(
        events(),
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
