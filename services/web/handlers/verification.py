"""A verifier's work: the region's pending evidence, oldest first; one item with its
document; accept or reject (with a reason); the next item. And the file of an evidence item,
for whoever may see it, through this site.

The evidence service decides who sees what (an item of another region is "not found", a
viewer is refused); the builders also check the role and the region on the server, so a
page never relies on the menu."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

from services.common.data.regions import load_regions
from services.common.errors import Forbidden, NotFound, Unavailable
from services.common.methodology.catalogue import CatalogueError, Indicator, methodology_for_cycle
from services.web.adapters.api import EvidenceDetail, EvidenceItem, PersonApi
from services.web.dependencies import WebDeps
from services.web.domain.work import Decide, EvidenceRef, PageQuery
from services.web.handlers.innovations import evidence_view
from services.web.handlers.pages import principal_of
from services.web.handlers.shared import api_of
from services.web.views import (
    DecisionView,
    EvidenceDisplay,
    IndicatorLevel,
    QueueRow,
    SignedIn,
    VerificationItemPage,
    VerificationPage,
)

QUEUE_PAGE = 25
# The types a file is shown as in the page; anything else is offered as a download only.
DISPLAYED: dict[str, tuple[EvidenceDisplay, str]] = {
    "application/pdf": ("pdf", "pdf"),
    "image/png": ("image", "png"),
    "image/jpeg": ("image", "jpg"),
    "video/mp4": ("video", "mp4"),
    "video/quicktime": ("video", "mov"),
}


def _verifier(person: SignedIn) -> str:
    account = person.account
    if account.role != "verifier" or account.region is None:
        raise Forbidden("this page is a verifier's")
    return account.region


def _indicator(cycle: int, code: str) -> Indicator | None:
    try:
        return methodology_for_cycle(cycle).indicator_by_code.get(code)
    except CatalogueError:
        return None


# --- the queue ----------------------------------------------------------------------------------


async def verification_page(deps: WebDeps, person: SignedIn, query: PageQuery) -> VerificationPage:
    region = _verifier(person)
    cycle = deps.settings.web_cycle
    api = api_of(deps, person)
    info = load_regions().get(region)
    try:
        page = await api.evidence_list(cycle, region=region, state="pending", after=query.after, limit=QUEUE_PAGE)
    except (Unavailable, NotFound):  # the evidence service is down (or not mounted): the page says so
        return VerificationPage(person=person, cycle=cycle, region=region, region_name=info.name if info else None,
                                items=[], after=query.after, unavailable=True)
    names = await _innovation_names(api, cycle, (item.innovation for item in page.items))
    rows = []
    for item in page.items:
        indicator = _indicator(item.cycle, item.indicator)
        rows.append(QueueRow(
            id=item.id, indicator=item.indicator, indicator_number=indicator.number if indicator else None,
            indicator_name=indicator.name if indicator else item.indicator, innovation=item.innovation,
            innovation_name=names.get(item.innovation or ""), agency=item.agency, kind=item.kind, size=item.size,
            uploaded_at=item.uploaded_at,
        ))
    return VerificationPage(person=person, cycle=cycle, region=region, region_name=info.name if info else None,
                            items=rows, after=query.after, next_after=page.next_after)


async def _innovation_names(api: PersonApi, cycle: int, ids: Iterable[str | None]) -> dict[str, str]:
    """The names of the innovations named (read concurrently; one that cannot be read stays nameless)."""
    wanted = sorted({i for i in ids if i})

    async def name(innovation_id: str) -> tuple[str, str | None]:
        try:
            return innovation_id, (await api.innovation(cycle, innovation_id)).name
        except (NotFound, Forbidden, Unavailable):
            return innovation_id, None

    found = await asyncio.gather(*(name(i) for i in wanted))
    return {i: n for i, n in found if n is not None}


# --- one item ---------------------------------------------------------------------------------------


async def _readable(api: PersonApi, person: SignedIn, ref: EvidenceRef) -> EvidenceDetail:
    """The item, if the person may see it: the evidence service says so (another region's is
    "not found"), and so does the person's own scope here."""
    detail = await api.evidence(ref.evidence_id)
    if not principal_of(person).can_read_region(detail.region):
        raise NotFound.named(f"evidence {ref.evidence_id}")
    return detail


async def verification_item_page(deps: WebDeps, person: SignedIn, ref: EvidenceRef) -> VerificationItemPage:
    region = _verifier(person)
    api = api_of(deps, person)
    detail = await _readable(api, person, ref)
    if detail.region != region:
        raise NotFound.named(f"evidence {ref.evidence_id}")
    indicator = _indicator(detail.cycle, detail.indicator)
    innovation_name: str | None = None
    claimed: int | None = None
    try:
        if detail.innovation is not None:
            innovation = await api.innovation(detail.cycle, detail.innovation)
            innovation_name, claimed = innovation.name, innovation.answers.get(detail.indicator)
        else:
            answers = await api.spd_answers(detail.cycle, detail.region)
            claimed = next((a.level for a in answers if a.indicator == detail.indicator), None)
    except (NotFound, Forbidden, Unavailable):
        pass  # the page still shows the document; what was claimed is then unknown
    display: EvidenceDisplay = "link" if detail.kind == "link" else DISPLAYED.get(detail.content_type or "",
                                                                                   ("none", ""))[0]
    return VerificationItemPage(
        person=person, cycle=detail.cycle, item=evidence_view(detail), indicator=detail.indicator,
        indicator_number=indicator.number if indicator else None,
        indicator_name=indicator.name if indicator else detail.indicator,
        evidence_rule=indicator.evidence.description if indicator and indicator.evidence else None,
        levels=[IndicatorLevel(level=o.level, label=o.label) for o in indicator.levels] if indicator else [],
        claimed_level=claimed, innovation=detail.innovation, innovation_name=innovation_name,
        agency=detail.agency, display=display,
        decisions=[DecisionView(decision=d.decision, reason=d.reason, decided_at=d.decided_at)
                   for d in detail.decisions],
    )


# --- deciding, and what comes next ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decided:
    item: EvidenceItem
    next_id: str | None  # the next pending item of the queue, if any


async def decide(deps: WebDeps, person: SignedIn, command: Decide) -> Decided:
    """Accept or reject (the evidence service requires a reason to reject, and answers an
    item of another region as "not found"); then the next pending item."""
    region = _verifier(person)
    api = api_of(deps, person)
    reason = command.reason.strip() or None
    item = await api.decide_evidence(command.ref.evidence_id, command.decision, reason)
    return Decided(item=item, next_id=await _next_pending(api, deps.settings.web_cycle, region, item.id))


async def next_item(deps: WebDeps, person: SignedIn, ref: EvidenceRef) -> str | None:
    """The pending item after this one (skipping it), or None when the queue has no other."""
    region = _verifier(person)
    return await _next_pending(api_of(deps, person), deps.settings.web_cycle, region, ref.evidence_id)


async def _next_pending(api: PersonApi, cycle: int, region: str, current: str) -> str | None:
    """The queue is oldest first: the next pending item after `current`, else (items skipped
    before) the oldest pending one that is not `current`."""
    after = await api.evidence_list(cycle, region=region, state="pending", after=current, limit=1)
    if after.items:
        return after.items[0].id
    first = await api.evidence_list(cycle, region=region, state="pending", limit=2)
    return next((item.id for item in first.items if item.id != current), None)


# --- the file ---------------------------------------------------------------------------------------


@dataclass
class ServedFile:
    """An evidence file as this site serves it: the type the evidence service detected from
    its bytes, a download name, and the bytes, streamed from storage."""

    content_type: str
    inline: bool  # a type the pages show; anything else is only downloaded
    display: EvidenceDisplay
    filename: str
    length: int | None
    chunks: AsyncIterator[bytes] = field(repr=False)
    close: Callable[[], Coroutine[Any, Any, None]] = field(repr=False)


async def evidence_file(deps: WebDeps, person: SignedIn, ref: EvidenceRef) -> ServedFile:
    """The file of an item the person may see (its operator, the region's admins and
    verifiers, those who oversee the region), streamed from storage."""
    api = api_of(deps, person)
    detail = await _readable(api, person, ref)
    if detail.download is None:
        raise NotFound(reason="this evidence is a link, not a file")
    display, extension = DISPLAYED.get(detail.content_type or "", ("none", "bin"))
    opened = await deps.require_files().open(detail.download.url)
    return ServedFile(
        content_type=detail.content_type if display != "none" and detail.content_type else "application/octet-stream",
        inline=display != "none", display=display, filename=f"{detail.indicator}-{detail.id}.{extension}",
        length=opened.length, chunks=opened.chunks(), close=opened.aclose,
    )


__all__ = ["Decided", "ServedFile", "decide", "evidence_file", "next_item", "verification_item_page",
           "verification_page"]
