"""The live feed: score updates of `scoring.events`, fanned out to every client of this process
from one reader (`deps.score_events`, a `services.common.fanout.StreamHub`). A stream entry's
id is the SSE event id, so a client that reconnects with `Last-Event-ID` misses nothing (the
hub serves a recent id from memory, an older one from Redis); a client that connects without
one first gets the current score of every region it follows. Per client there is only the
filtering (region or province, done by the hub's reader as entries arrive) and the sending;
a client that does not keep up is dropped with the reason, never waited for. The feed ends
as soon as the service begins to shut down."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable

from services.common.data.regions import RegionInfo, load_regions
from services.common.errors import InvalidInput, Unavailable
from services.common.events import RankingChange, RankingChanged, RankMove, RegionScore, ScoreUpdated
from services.common.fanout import Batch, Dropped, EntryKey, StreamItem, StreamUnreachable, Subscription, entry_key
from services.common.principal import Principal
from services.scoring.dependencies import ScoringDeps
from services.scoring.domain.queries import FeedQuery
from services.scoring.handlers.queries import check_province, current_scores, known_region, methodology_of
from services.scoring.views import FeedDropped, FeedIdle, FeedItem, RankingMessage, ScoreMessage

KEEPALIVE_S = 5.0  # at most this long without sending anything (revocations are checked then too)
MAX_STREAM_ID_PART = 2**64 - 1


def _valid_stream_id(entry_id: str) -> bool:
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds) <= MAX_STREAM_ID_PART and int(sequence) <= MAX_STREAM_ID_PART


async def open_score_feed(deps: ScoringDeps, principal: Principal, query: FeedQuery) -> AsyncGenerator[FeedItem]:
    """Check the query and where to start, then the feed: without `last_event_id` the current
    score of each region followed, then the score updates and rank changes of the cycle that
    concern the region or province followed, and an idle item after every quiet while."""
    methodology = methodology_of(query.cycle)
    if query.region is not None:
        known_region(query.region)
    check_province(query.province)
    if query.last_event_id is not None and not _valid_stream_id(query.last_event_id):
        reason = "not a stream entry id this feed sent (each part at most 2**64 - 1)"
        raise InvalidInput.at("header.Last-Event-ID", reason)
    try:  # asked on resume too: a feed that cannot reach the stream answers 503 at once
        subscription: Subscription[FeedItem] = await deps.score_events.subscribe(
            _selector(query), after=query.last_event_id, routes=_routes(query)
        )
    except StreamUnreachable:
        raise Unavailable(reason="the event stream is unreachable; retry shortly") from None
    snapshot: list[RegionScore] = []
    if query.last_event_id is None:  # read after subscribing: nothing between is missed
        snapshot = await _snapshot(deps, query, methodology, subscription.position)
    return _feed(deps, subscription, snapshot)


# Snapshot reads in flight, by what they follow: a burst of dashboards opening the same feed
# (an office's screens, a morning's logins) shares one read instead of each waiting for a
# pooled connection. A feed joins only a read that began once the stream position it
# subscribed at had been read: every event up to that position was committed before it was
# published, so the shared read sees it, and the subscription delivers everything after.
_SNAPSHOTS: dict[tuple[int, str | None, str | None], tuple[EntryKey, asyncio.Task[list[RegionScore]]]] = {}


async def _snapshot(deps: ScoringDeps, query: FeedQuery, methodology: str, position: str) -> list[RegionScore]:
    key = (query.cycle, query.region, query.province)
    mine = entry_key(position)
    found = _SNAPSHOTS.get(key)
    if found is not None and not found[1].done() and found[0] >= mine:
        return await asyncio.shield(found[1])
    followed = [info for info in load_regions().values() if _follows(query, info)]
    task = asyncio.ensure_future(current_scores(deps, query.cycle, methodology, followed))
    _SNAPSHOTS[key] = (mine, task)

    def forget(done: asyncio.Task[list[RegionScore]]) -> None:
        if key in _SNAPSHOTS and _SNAPSHOTS[key][1] is done:
            del _SNAPSHOTS[key]
        if not done.cancelled():
            done.exception()  # retrieved: the feeds that waited got it; none may be left

    task.add_done_callback(forget)
    return await asyncio.shield(task)


def _follows(query: FeedQuery, info: RegionInfo) -> bool:
    if query.region is not None:
        return info.code == query.region
    if query.province is not None:
        return info.province_code == query.province
    return True


def _routes(query: FeedQuery) -> frozenset[str] | None:
    """The regions whose score updates the feed can want (the hub offers it no others):
    exactly those `_follows` accepts; None for a national feed (all)."""
    if query.region is None and query.province is None:
        return None
    return frozenset(code for code, info in load_regions().items() if _follows(query, info))


def _selector(query: FeedQuery) -> Callable[[StreamItem], FeedItem | None]:
    """What of a stream entry the client following `query` gets, if anything. Run by the hub's
    reader for every client, so it is cheap: what it makes of an entry is shared by every
    client with the same filter."""
    regions = load_regions()
    follows = (query.region, query.province)

    def select(item: StreamItem) -> FeedItem | None:
        event = item.event
        if isinstance(event, ScoreUpdated):
            info = regions.get(event.region)
            if event.cycle != query.cycle or info is None or not _follows(query, info):
                return None
            return item.shared("score", lambda: ScoreMessage(item.entry_id, event.data))
        if isinstance(event, RankingChanged) and event.cycle == query.cycle:
            return item.shared(("ranking", follows), lambda: _ranking_message(query, item.entry_id, event))
        return None

    return select


def _ranking_message(query: FeedQuery, entry_id: str, event: RankingChanged) -> RankingMessage | None:
    """The moves of a `ranking.changed` among the regions followed; None if there is none."""
    regions = load_regions()
    change = event.data

    def kept(moves: list[RankMove]) -> list[RankMove]:
        return [m for m in moves if m.region in regions and _follows(query, regions[m.region])]

    followed = RankingChange(
        cycle=change.cycle, region=change.region, type=change.type, version=change.version,
        claimed=kept(change.claimed), provisional=kept(change.provisional), validated=kept(change.validated),
    )
    moved = followed.claimed or followed.provisional or followed.validated
    return RankingMessage(entry_id, followed) if moved else None


async def _feed(
    deps: ScoringDeps, subscription: Subscription[FeedItem], snapshot: list[RegionScore]
) -> AsyncGenerator[FeedItem]:
    for score in snapshot:
        if deps.stopping.is_set():
            return
        yield ScoreMessage(subscription.position, score)  # resuming from here misses nothing after it
    deliveries = subscription.deliveries(idle_s=KEEPALIVE_S)
    try:
        async for delivery in deliveries:
            if deps.stopping.is_set():
                return  # the service is shutting down: end the response, so the server can stop
            if isinstance(delivery, Batch):
                for item in delivery.items:
                    yield item
            elif isinstance(delivery, Dropped):
                yield FeedDropped(delivery.reason)
                return
            else:
                yield FeedIdle(stream_unavailable=delivery.stream_unavailable)
    finally:
        await deliveries.aclose()
