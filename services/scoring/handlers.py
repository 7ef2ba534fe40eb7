"""Scoring's event handler: apply the event's new state (if newer than what is held),
recompute the region from the committed state with the engine, store the score with the
event that caused it, and publish `score.updated` — all in the consumer's transaction, so
the inbox, the state, the score and the outgoing event commit together."""

from __future__ import annotations

from functools import cache

import asyncpg

from services.common.data.regions import load_regions
from services.common.events import (
    Envelope,
    EvidenceAccepted,
    EvidenceRejected,
    EvidenceStored,
    FigureRanks,
    InnovationCreated,
    InnovationSubmitted,
    InnovationUpdated,
    InnovationWithdrawn,
    Rank,
    RegionScore,
    ScoreFigure,
    ScoreUpdated,
    SpdAnswerSet,
)
from services.common.logging import get_logger
from services.common.methodology.catalogue import methodology_for_cycle
from services.common.outbox import enqueue
from services.scoring.adapters import state_store
from services.scoring.domain.engine import FIGURES, compile_methodology, score_region
from services.scoring.domain.state import region_from_state, score_payload

log = get_logger(__name__)

INNOVATION_EVENTS = (InnovationCreated, InnovationUpdated, InnovationSubmitted, InnovationWithdrawn)
EVIDENCE_EVENTS = (EvidenceStored, EvidenceAccepted, EvidenceRejected)


class UnknownRegion(ValueError):
    pass


def region_info(code: str) -> tuple[str, str | None]:
    info = load_regions().get(code)
    if info is None:
        raise UnknownRegion(f"region {code!r} is not one of the 546 regions")
    return info.type, (info.province_code if info.type != "provinsi" else None)


async def apply_event(conn: asyncpg.Connection, event: Envelope) -> bool:
    """Store the event's new state if it is newer; False for a stale or foreign event."""
    if isinstance(event, SpdAnswerSet):
        return await state_store.apply_spd_answer(conn, event, event.data)
    if isinstance(event, INNOVATION_EVENTS):
        return await state_store.apply_innovation(conn, event, event.data)
    if isinstance(event, EVIDENCE_EVENTS):
        return await state_store.apply_evidence(conn, event, event.data)
    return False


async def handle_submission_event(event: Envelope, conn: asyncpg.Connection) -> None:
    """Handler for intake and evidence events (runs inside the consumer's transaction)."""
    type_, province = region_info(event.region)
    score_version = await state_store.lock_region(conn, event.cycle, event.region, type_, province)
    if not await apply_event(conn, event):
        log.info("stale event: state already newer, nothing to recompute")
        return
    await recompute_region(conn, event, type_, province, score_version + 1)


async def recompute_region(
    conn: asyncpg.Connection, cause: Envelope, type_: str, province: str | None, version: int
) -> ScoreUpdated:
    cycle, code = cause.cycle, cause.region
    methodology = methodology_for_cycle(cycle)
    compiled = compile_methodology(methodology.id)
    spd, innovations, evidence = await state_store.load_region_state(conn, cycle, code)
    region = region_from_state(code, type_, province, spd, innovations, evidence)
    figures = score_payload(score_region(region, compiled))
    await state_store.save_score(
        conn,
        cycle=cycle,
        code=code,
        type_=type_,
        province=province,
        version=version,
        caused_by=cause.event_id,
        cause_type=cause.type,
        methodology=methodology.id,
        figures=figures,
    )
    ranks = await state_store.rank_of(conn, cycle, type_, province, {f: figures[f]["iid"] for f in FIGURES})
    sizes = group_sizes(type_, province)
    event = ScoreUpdated(
        cycle=cycle,
        region=code,
        subject=code,
        version=version,
        correlation_id=cause.correlation_id,
        causation_id=str(cause.event_id),
        data=RegionScore(
            methodology=methodology.id,
            caused_by=cause.event_id,
            **{
                f: ScoreFigure(
                    iid=figures[f]["iid"],
                    category=figures[f]["category"],
                    innovations_counted=figures[f]["innovations_counted"],
                    spd=figures[f]["spd"],
                    sid_average=figures[f]["sid_average"],
                    sji=figures[f]["sji"],
                    total=figures[f]["total"],
                    ranks=FigureRanks(
                        type=Rank(position=ranks[f][0], of=sizes[0]),
                        province=Rank(position=ranks[f][1], of=sizes[1]) if province is not None else None,
                    ),
                )
                for f in FIGURES
            },
        ),
    )
    await enqueue(conn, event)
    return event


@cache
def group_sizes(type_: str, province: str | None) -> tuple[int, int]:
    """How many regions a region is ranked among: all of its type, and of its type in its province."""
    regions = load_regions().values()
    of_type = sum(1 for r in regions if r.type == type_)
    of_province = sum(1 for r in regions if r.type == type_ and r.province_code == province)
    return of_type, of_province
