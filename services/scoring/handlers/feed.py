"""The live feed: score updates read from `scoring.events` without a consumer group (fan-out).
A stream entry's id is the SSE event id, so a client that reconnects with `Last-Event-ID`
misses nothing; a client that connects without one first gets the current score of every
region it follows. The feed ends as soon as the service begins to shut down."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

from redis.exceptions import RedisError

from services.common.bus import read_events, stream_position
from services.common.data.regions import RegionInfo, load_regions
from services.common.errors import InvalidInput, Unavailable
from services.common.events import Envelope, RankingChange, RankingChanged, RankMove, RegionScore, ScoreUpdated
from services.common.principal import Principal
from services.scoring.dependencies import ScoringDeps
from services.scoring.domain.queries import FeedQuery
from services.scoring.handlers.queries import check_province, current_scores, known_region, methodology_of
from services.scoring.views import FeedIdle, FeedItem, RankingMessage, ScoreMessage

BLOCK_MS = 5_000  # below the Redis client's socket timeout; the client hears from us after each
MAX_STREAM_ID_PART = 2**64 - 1


def _valid_stream_id(entry_id: str) -> bool:
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds) <= MAX_STREAM_ID_PART and int(sequence) <= MAX_STREAM_ID_PART


async def open_score_feed(deps: ScoringDeps, principal: Principal, query: FeedQuery) -> AsyncGenerator[FeedItem]:
    """Check the query and where to start, then the feed: without `last_event_id` the current
    score of each region followed, then the score updates and rank changes of the cycle that
    concern the region or province followed, and an idle item after every quiet wait."""
    methodology = methodology_of(query.cycle)
    if query.region is not None:
        known_region(query.region)
    check_province(query.province)
    if query.last_event_id is not None and not _valid_stream_id(query.last_event_id):
        reason = "not a stream entry id this feed sent (each part at most 2**64 - 1)"
        raise InvalidInput.at("header.Last-Event-ID", reason)
    try:  # asked on resume too: a feed that cannot reach the stream answers 503 at once
        position = await stream_position(deps.redis, deps.scoring_stream)
    except RedisError:
        raise Unavailable(reason="the event stream is unreachable; retry shortly") from None
    start = query.last_event_id or position
    snapshot: list[RegionScore] = []
    if query.last_event_id is None:
        followed = [info for info in load_regions().values() if _follows(query, info)]
        snapshot = await current_scores(deps, query.cycle, methodology, followed)
    return _feed(deps, query, start, snapshot)


def _follows(query: FeedQuery, info: RegionInfo) -> bool:
    if query.region is not None:
        return info.code == query.region
    if query.province is not None:
        return info.province_code == query.province
    return True


def _concerning(query: FeedQuery, event: Envelope) -> FeedItem | None:
    """What of a stream event the client following `query` gets, if anything."""
    if event.cycle != query.cycle:
        return None
    regions = load_regions()
    if isinstance(event, ScoreUpdated):
        info = regions.get(event.region)
        return ScoreMessage("", event.data) if info is not None and _follows(query, info) else None
    if isinstance(event, RankingChanged):
        change = event.data

        def kept(moves: list[RankMove]) -> list[RankMove]:
            return [m for m in moves if m.region in regions and _follows(query, regions[m.region])]

        followed = RankingChange(
            cycle=change.cycle, region=change.region, type=change.type, version=change.version,
            claimed=kept(change.claimed), provisional=kept(change.provisional), validated=kept(change.validated),
        )
        moved = followed.claimed or followed.provisional or followed.validated
        return RankingMessage("", followed) if moved else None
    return None


async def _feed(
    deps: ScoringDeps, query: FeedQuery, position: str, snapshot: list[RegionScore]
) -> AsyncGenerator[FeedItem]:
    for score in snapshot:
        yield ScoreMessage(position, score)  # resuming from here misses nothing after it
    while not deps.stopping.is_set():
        try:
            read = await _read_unless_stopping(deps, position)
        except (RedisError, OSError, TimeoutError):
            await asyncio.sleep(1)  # Redis unavailable: keep the client, try again
            yield FeedIdle(stream_unavailable=True)
            continue
        if read is None:
            return  # the service is shutting down: end the response, so the server can stop
        position, batch = read
        sent = False
        for entry_id, event in batch:
            item = _concerning(query, event)
            if item is not None:
                yield item.at(entry_id)
                sent = True
        if not sent:
            yield FeedIdle()


async def _read_unless_stopping(
    deps: ScoringDeps, position: str
) -> tuple[str, list[tuple[str, Envelope]]] | None:
    """The next batch after `position`, or None once the service begins to shut down."""
    read = asyncio.ensure_future(read_events(deps.redis, deps.scoring_stream, position, block_ms=BLOCK_MS))
    stopping = asyncio.ensure_future(deps.stopping.wait())
    try:
        await asyncio.wait({read, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:  # also when the client left (this task cancelled)
        stopping.cancel()
        abandoned = not read.done()
        if abandoned:
            # Not awaited: a blocking XREAD does not always end when cancelled (the client
            # may finish the read it is in, up to BLOCK_MS later); closing the pool ends it.
            read.cancel()
            read.add_done_callback(_discard_outcome)
    return None if abandoned else read.result()


def _discard_outcome(task: asyncio.Future[Any]) -> None:
    """Retrieve an abandoned read's outcome, so asyncio does not report it as lost."""
    if not task.cancelled():
        task.exception()
