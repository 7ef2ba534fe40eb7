"""The live feed: score updates read from `scoring.events` without a consumer group (fan-out).
A stream entry's id is the SSE event id, so a client that reconnects with `Last-Event-ID`
misses nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from redis.exceptions import RedisError

from services.common.bus import read_events, stream_position
from services.common.data.regions import load_regions
from services.common.errors import InvalidInput, Unavailable
from services.common.events import ScoreUpdated
from services.common.principal import Principal
from services.scoring.dependencies import ScoringDeps
from services.scoring.domain.queries import FeedQuery
from services.scoring.handlers.queries import check_province, known_region, methodology_of
from services.scoring.views import FeedIdle, FeedItem, ScoreMessage

BLOCK_MS = 5_000  # below the Redis client's socket timeout; the client hears from us after each
MAX_STREAM_ID_PART = 2**64 - 1


def _valid_stream_id(entry_id: str) -> bool:
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds) <= MAX_STREAM_ID_PART and int(sequence) <= MAX_STREAM_ID_PART


async def open_score_feed(deps: ScoringDeps, principal: Principal, query: FeedQuery) -> AsyncGenerator[FeedItem]:
    """Check the query and where to start, then the feed: score updates of the cycle that
    match the region or province, and an idle item after every quiet wait."""
    methodology_of(query.cycle)
    if query.region is not None:
        known_region(query.region)
    check_province(query.province)
    if query.last_event_id is not None and not _valid_stream_id(query.last_event_id):
        reason = "not a stream entry id this feed sent (each part at most 2**64 - 1)"
        raise InvalidInput.at("header.Last-Event-ID", reason)
    try:
        start = query.last_event_id or await stream_position(deps.redis, deps.scoring_stream)
    except RedisError:
        raise Unavailable(reason="the event stream is unreachable; retry shortly", retry_after_s=2) from None
    return _follow(deps, query, start)


def _wanted(query: FeedQuery, event: ScoreUpdated) -> bool:
    if event.cycle != query.cycle:
        return False
    if query.region is not None:
        return event.region == query.region
    if query.province is not None:
        info = load_regions().get(event.region)
        return info is not None and info.province_code == query.province
    return True


async def _follow(deps: ScoringDeps, query: FeedQuery, position: str) -> AsyncGenerator[FeedItem]:
    while True:
        try:
            position, batch = await read_events(deps.redis, deps.scoring_stream, position, block_ms=BLOCK_MS)
        except (RedisError, OSError, TimeoutError):
            await asyncio.sleep(1)  # Redis unavailable: keep the client, try again
            yield FeedIdle(stream_unavailable=True)
            continue
        sent = False
        for entry_id, event in batch:
            if isinstance(event, ScoreUpdated) and _wanted(query, event):
                yield ScoreMessage(entry_id, event.data)
                sent = True
        if not sent:
            yield FeedIdle()
