"""The dashboard's live feed (`/daerah/{code}/langsung`): the region's score updates and rank
changes as they happen, for the person's browser.

The person must be signed in and may follow only a region whose dashboard it may see
(`Principal.can_read_region`, the page's rule). Without `last_event_id` the feed first sends
the region's current score — read through the score API as the person, taken after the
stream position it starts from, so nothing in between is lost — then every `score.updated`
of the region and every `ranking.changed` that moved it, read from `scoring.events`. Each
item carries its stream entry id: the browser's `Last-Event-ID` resumes after it.

Why the stream rather than proxying scoring's SSE feed: under `inovasi up` the pages call the
APIs in process through `httpx.ASGITransport`, which collects a whole response before it
returns it (an endless stream never comes back), and a proxy would hold one upstream
connection per open dashboard. The stream's events are the platform's public contract, read
through the process's one fan-out reader (`services.common.fanout`, as scoring's own feed):
any number of open dashboards costs one Redis connection, and a browser that does not keep
up is dropped (it reconnects with Last-Event-ID) instead of holding the others back.

While the feed is open, the session is checked again every `SESSION_CHECK_S`: once it ends
(logout, expiry, the account disabled) the feed ends too, and reconnecting is refused.
The feed also ends when the service begins to stop.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncGenerator
from datetime import timedelta

from services.common.errors import Forbidden, InvalidInput, Unavailable
from services.common.events import BaseEnvelope, RankingChanged, ScoreUpdated
from services.common.events import Rank as EventRank
from services.common.fanout import Batch, Dropped, StreamItem, StreamUnreachable, Subscription
from services.web.adapters import store
from services.web.adapters.api import Rank as ApiRank
from services.web.adapters.api import Score
from services.web.dependencies import WebDeps
from services.web.domain.commands import LiveFeedQuery
from services.web.domain.region_texts import category_labels
from services.web.handlers.dashboard import FIGURES, known_region
from services.web.handlers.pages import principal_of
from services.web.handlers.shared import api_of
from services.web.views import LiveFigure, LiveIdle, LiveItem, LiveRankMove, LiveRanks, LiveScore, RankView, SignedIn

SESSION_CHECK_S = 15.0
KEEPALIVE_S = 5.0  # at most this long without sending anything
STREAM_ID = re.compile(r"^\d{1,19}-\d{1,19}$")
MAX_STREAM_ID_PART = 2**64 - 1


def _valid_entry_id(entry_id: str) -> bool:
    if not STREAM_ID.fullmatch(entry_id):
        return False
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds) <= MAX_STREAM_ID_PART and int(sequence) <= MAX_STREAM_ID_PART


async def open_region_feed(
    deps: WebDeps, person: SignedIn | None, query: LiveFeedQuery
) -> AsyncGenerator[LiveItem]:
    """Check who asks and where to start; then the feed (an async generator of items)."""
    if person is None:
        raise Forbidden("sign in again to follow the region's score", code="session_ended")
    info = known_region(query.region)
    if not principal_of(person).can_read_region(info.code):
        raise Forbidden("this region's live feed is not yours to follow")
    if query.last_event_id is not None and not _valid_entry_id(query.last_event_id):
        raise InvalidInput.at("header.Last-Event-ID", "not an id this feed sent")
    events = deps.require_score_events()
    cycle = deps.settings.web_cycle
    labels = category_labels(cycle)
    region = info.code

    def select(item: StreamItem) -> LiveItem | None:  # run once per entry and region, shared
        return item.shared(("web", region, cycle), lambda: concerning(item.event, item.entry_id, region, cycle, labels))

    try:
        # Score updates of other regions are never offered to it (`concerning` takes only its own).
        subscription: Subscription[LiveItem] = await events.subscribe(
            select, after=query.last_event_id, routes=frozenset((region,))
        )
    except StreamUnreachable:
        raise Unavailable(reason="the score event stream is unreachable; retry shortly") from None
    first: LiveScore | None = None
    if query.last_event_id is None:  # read after subscribing: nothing in between is missed
        score = await api_of(deps, person).region_score(cycle, info.code)
        first = live_score(subscription.position, score, labels)
    return _feed(deps, person, subscription, first)


def _rank(rank: ApiRank | EventRank | None) -> RankView | None:
    return RankView(position=rank.position, of=rank.of) if rank is not None else None


def live_score(entry_id: str, score: Score, labels: dict[str, str]) -> LiveScore:
    figures = []
    for name in FIGURES:
        figure = score.figure(name)
        figures.append(LiveFigure(
            figure=name, iid=figure.iid, category=figure.category,
            category_label=labels.get(figure.category, figure.category),
            rank_type=_rank(figure.ranks.type), rank_province=_rank(figure.ranks.province),
        ))
    return LiveScore(entry_id=entry_id, region=score.region, version=score.version, computed_at=score.computed_at,
                     figures=figures)


def concerning(event: BaseEnvelope, entry_id: str, region: str, cycle: int, labels: dict[str, str]) -> LiveItem | None:
    """What of a stream event the dashboard of `region` gets, if anything."""
    if isinstance(event, ScoreUpdated) and event.cycle == cycle and event.region == region:
        score = Score.model_validate(event.data.model_dump(mode="json"))
        return live_score(entry_id, score, labels)
    if isinstance(event, RankingChanged) and event.cycle == cycle:
        moves = []
        for name in FIGURES:
            move = next((m for m in event.data.moves(name) if m.region == region), None)
            if move is not None:
                moves.append(LiveRankMove(figure=name, rank_type=_rank(move.ranks.type),
                                          rank_province=_rank(move.ranks.province)))
        return LiveRanks(entry_id=entry_id, region=region, figures=moves) if moves else None
    return None


async def _session_alive(deps: WebDeps, person: SignedIn) -> bool:
    """The session the feed was opened with still lets its person in (not touched: an open
    feed does not keep a session alive)."""
    now = deps.clock()
    async with deps.pool.acquire() as conn:
        account = await store.account_by_id(conn, person.account.id)
        if account is None or account.status != "active" or (account.role, account.region) != (
                person.account.role, person.account.region):
            return False
        sessions = await store.sessions_of(conn, account.id)
    session = next((s for s in sessions if s.id == person.session_id), None)
    idle = timedelta(seconds=deps.settings.web_session_idle_s)
    return session is not None and session.times.alive(now, idle)


async def _feed(
    deps: WebDeps, person: SignedIn, subscription: Subscription[LiveItem], first: LiveScore | None
) -> AsyncGenerator[LiveItem]:
    if first is not None:
        yield first
    checked = time.monotonic()
    async for delivery in subscription.deliveries(idle_s=KEEPALIVE_S):
        if time.monotonic() - checked >= SESSION_CHECK_S:
            if not await _session_alive(deps, person):
                return
            checked = time.monotonic()
        if isinstance(delivery, Batch):
            for item in delivery.items:
                yield item
        elif isinstance(delivery, Dropped):
            return  # too slow to keep up: the browser reconnects with Last-Event-ID
        else:
            yield LiveIdle(stream_unavailable=delivery.stream_unavailable)
