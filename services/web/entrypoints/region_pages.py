"""The region pages' routes: the region dashboard `/daerah/{code}`, its live feed
`/daerah/{code}/langsung` (Server-Sent Events), a region's profile `/wilayah/{code}` and the
rankings `/peringkat`. Each route only translates: the path and query → a query, one
handler (which checks who may see it), the result → a page or an event stream.

The live feed's events, for `static/dasbor.js` (each with its stream entry id as the SSE id,
so the browser's automatic reconnection resumes with `Last-Event-ID`):

- `score`: the region's score — `{"version", "time", "figures": [{"figure", "label",
  "iid", "category", "category_label", "rank_type", "rank_province"}]}`, numbers written
  as the page writes them (`47,04`, `3 dari 416`);
- `ranks`: another region's new score moved this one's ranks — `{"figures": [{"figure",
  "rank_type", "rank_province"}]}`;
- a comment (`: …`) now and then, so proxies keep the connection open.

A person without a session, or who may not see the region, gets an error answer (403), which
ends the browser's EventSource; an unknown region is a 404.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response, StreamingResponse

from services.web import handlers
from services.web.domain.commands import LiveFeedQuery, RankingsQuery, RegionRef
from services.web.entrypoints import texts
from services.web.entrypoints.http import Deps, MaybePerson, Person
from services.web.entrypoints.rendering import Pages
from services.web.views import LiveIdle, LiveItem, LiveRanks, LiveScore, RankView

router = APIRouter()

RETRY_MS = 2000  # how soon a browser reconnects after the stream ends


def _pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


@router.get("/daerah/{code}", include_in_schema=False)
async def region(code: str, request: Request, person: Person, deps: Deps) -> Response:
    page = await handlers.region_page(deps, person, RegionRef(code))
    return _pages(request).render(request, "daerah.html", page=page, person=person)


@router.get("/wilayah/{code}", include_in_schema=False)
async def region_profile(code: str, request: Request, person: Person, deps: Deps) -> Response:
    page = await handlers.region_profile_page(deps, person, RegionRef(code))
    return _pages(request).render(request, "wilayah.html", page=page, person=person)


@router.get("/peringkat", include_in_schema=False)
async def rankings(
    request: Request, person: Person, deps: Deps,
    jenis: str | None = None, angka: str | None = None, provinsi: str | None = None, cari: str | None = None,
    halaman: str | None = None,
) -> Response:
    query = RankingsQuery(jenis=jenis, angka=angka, provinsi=provinsi, cari=cari, halaman=halaman)
    page = await handlers.rankings_page(deps, person, query)
    return _pages(request).render(request, "peringkat.html", page=page, person=person)


class EventStreamResponse(StreamingResponse):
    media_type = "text/event-stream"


@router.get("/daerah/{code}/langsung", include_in_schema=False)
async def region_live(
    code: str, request: Request, person: MaybePerson, deps: Deps,
    last_event_id: Annotated[str | None, Header(max_length=64)] = None,
    setelah: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """`setelah`: the last id received, for a browser that opens a new EventSource after the
    old one gave up (a new one sends no Last-Event-ID)."""
    feed = await handlers.open_region_feed(deps, person, LiveFeedQuery(code, last_event_id or setelah))
    zone = deps.settings.web_timezone

    async def events() -> AsyncIterator[str]:
        yield f"retry: {RETRY_MS}\n: tersambung\n\n"
        try:
            # A browser that leaves ends the response at the next send (a keep-alive at the
            # latest): not asked per message, which cost more than the message itself.
            async for item in feed:
                yield sse_text(item, zone)
        finally:
            await feed.aclose()

    return EventStreamResponse(events(), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _rank(rank: RankView | None) -> str:
    return f"{rank.position} dari {rank.of}" if rank is not None else "—"


def sse_text(item: LiveItem, zone: str = "WIB") -> str:
    """One item of the live feed as Server-Sent Events text, numbers as the pages write them."""
    if isinstance(item, LiveScore):
        data = {
            "version": item.version,
            "time": texts.local_time(item.computed_at, zone, with_date=False) if item.computed_at else None,
            "figures": [
                {"figure": f.figure, "label": texts.FIGURE_LABELS[f.figure], "iid": texts.two_decimals(f.iid),
                 "category": f.category, "category_label": f.category_label, "rank_type": _rank(f.rank_type),
                 "rank_province": _rank(f.rank_province)}
                for f in item.figures
            ],
        }
        return f"id: {item.entry_id}\nevent: score\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
    if isinstance(item, LiveRanks):
        data = {"figures": [{"figure": f.figure, "rank_type": _rank(f.rank_type),
                             "rank_province": _rank(f.rank_province)} for f in item.figures]}
        return f"id: {item.entry_id}\nevent: ranks\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
    assert isinstance(item, LiveIdle)
    return ": menunggu aliran peristiwa\n\n" if item.stream_unavailable else ": tetap tersambung\n\n"
