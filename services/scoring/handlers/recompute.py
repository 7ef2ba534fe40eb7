"""Scoring's event handler: apply the event's new state (if newer than what is held),
recompute the region from the committed state with the engine, store the score with the
event that caused it, and publish `score.updated` — all in the consumer's transaction, so
the inbox, the state, the score and the outgoing event commit together."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal

from services.common.data.regions import RegionInfo, load_regions
from services.common.db import Connection
from services.common.events import (
    FIGURES,
    Envelope,
    EvidenceAccepted,
    EvidenceRejected,
    EvidenceStored,
    Figure,
    InnovationCreated,
    InnovationSubmitted,
    InnovationUpdated,
    InnovationWithdrawn,
    RankingChange,
    RankingChanged,
    RankMove,
    RegionScore,
    ScoreUpdated,
    SpdAnswerSet,
    ranking_subject,
)
from services.common.logging import get_logger
from services.common.methodology.catalogue import methodology_for_cycle
from services.common.outbox import enqueue
from services.scoring.adapters import state_store
from services.scoring.domain.engine import compile_methodology, score_region
from services.scoring.domain.read_model import (
    empty_figures,
    figure_ranks,
    figures_of,
    province_key,
    region_score,
    unchanged,
)
from services.scoring.domain.state import region_from_state

log = get_logger(__name__)

INNOVATION_EVENT_CLASSES = (InnovationCreated, InnovationUpdated, InnovationSubmitted, InnovationWithdrawn)
EVIDENCE_EVENT_CLASSES = (EvidenceStored, EvidenceAccepted, EvidenceRejected)


class UnknownRegion(ValueError):
    """An event about a region that is not one of the 546: it can never be scored."""


def region_info(code: str) -> RegionInfo:
    info = load_regions().get(code)
    if info is None:
        raise UnknownRegion(f"region {code!r} is not one of the 546 regions")
    return info


async def apply_event(conn: Connection, event: Envelope) -> bool:
    """Store the event's new state if it is newer; False for a stale or foreign event."""
    if isinstance(event, SpdAnswerSet):
        return await state_store.apply_spd_answer(conn, event, event.data)
    if isinstance(event, INNOVATION_EVENT_CLASSES):
        return await state_store.apply_innovation(conn, event, event.data)
    if isinstance(event, EVIDENCE_EVENT_CLASSES):
        return await state_store.apply_evidence(conn, event, event.data)
    return False


async def handle_submission_event(event: Envelope, conn: Connection) -> None:
    """Handler for intake and evidence events (runs inside the consumer's transaction)."""
    info = region_info(event.region)
    score_version = await state_store.lock_region(conn, event.cycle, event.region, info.type, province_key(info))
    if not await apply_event(conn, event):
        log.info("stale event: state already newer, nothing to recompute")
        return
    await recompute_region(conn, event, info, score_version)


async def recompute_region(
    conn: Connection, cause: Envelope, info: RegionInfo, current_version: int
) -> ScoreUpdated | None:
    """The region's score from its committed state. A new version (and `score.updated`, and
    `ranking.changed` when it moved other regions) only when a figure changed; either way the
    event is recorded as applied."""
    cycle, code, province = cause.cycle, cause.region, province_key(info)
    compiled = compile_methodology(methodology_for_cycle(cycle).id)
    spd, innovations, evidence = await state_store.load_region_state(conn, cycle, code)
    figures = score_region(region_from_state(code, info.type, province, spd, innovations, evidence), compiled)
    previous = await state_store.current_score(conn, cycle, code)
    before = figures_of(previous) if previous is not None else empty_figures(info, compiled)
    if unchanged(before, figures):
        await state_store.record_applied(conn, cycle, code, cause, current_version, changed=False)
        log.info("figures unchanged: no new score version", score_version=current_version)
        return None
    version = current_version + 1
    iids = {f: figures.figures[f].iid for f in FIGURES}
    positions = await state_store.positions(conn, cycle, code, info.type, province, iids)
    score: RegionScore = region_score(
        info,
        figures,
        {f: figure_ranks(info, *positions[f]) for f in FIGURES},
        cycle=cycle,
        version=version,
        caused_by=cause.event_id,
        cause_type=cause.type,
        computed_at=datetime.now(UTC),
    )
    await state_store.save_score(conn, score, province)
    await state_store.record_applied(conn, cycle, code, cause, version, changed=True)
    event = ScoreUpdated(
        cycle=cycle,
        region=code,
        subject=code,
        version=version,
        correlation_id=cause.correlation_id,
        causation_id=str(cause.event_id),
        data=score,
    )
    await enqueue(conn, event)
    change = await rank_moves(conn, info, score, {f: before[f].iid for f in FIGURES})
    if change is not None:
        await enqueue(conn, RankingChanged(
            cycle=cycle,
            region=code,
            subject=ranking_subject(code),
            version=version,
            correlation_id=cause.correlation_id,
            causation_id=str(cause.event_id),
            data=change,
        ))
    return event


async def rank_moves(
    conn: Connection, info: RegionInfo, score: RegionScore, before: Mapping[Figure, Decimal]
) -> RankingChange | None:
    """The other regions of the type whose rank moved when the region's IIDs went from
    `before` to its new score's: in each figure, those whose IID lies in [low, high) of the
    two (the region passed them, or they passed it). Unscored regions stand at 0."""
    bounds = {f: (min(before[f], score.figure(f).iid), max(before[f], score.figure(f).iid)) for f in FIGURES}
    if all(low == high for low, high in bounds.values()):
        return None
    regions = load_regions()
    moves: dict[Figure, list[RankMove]] = {f: [] for f in FIGURES}
    for standing in await state_store.standings_between(conn, score.cycle, info.type, info.code, bounds):
        for f in FIGURES:
            low, high = bounds[f]
            if low <= standing.iid[f] < high:
                ranks = figure_ranks(regions[standing.region], *standing.position[f])
                moves[f].append(RankMove(region=standing.region, ranks=ranks))
    from_zero = [f for f in FIGURES if bounds[f][0] == 0 < bounds[f][1]]
    if from_zero:
        zero = await state_store.above_zero(conn, score.cycle, info.type)
        for other in regions.values():
            if other.type != info.type or other.code in zero.scored or other.code == info.code:
                continue
            for f in from_zero:
                in_province = zero.of_province.get((f, province_key(other)), 0)
                ranks = figure_ranks(other, 1 + zero.of_type[f], 1 + in_province)
                moves[f].append(RankMove(region=other.code, ranks=ranks))
    if not any(moves.values()):
        return None
    ordered = {f: sorted(moves[f], key=lambda m: m.region) for f in FIGURES}
    return RankingChange(
        cycle=score.cycle, region=info.code, type=info.type, version=score.version,
        claimed=ordered["claimed"], provisional=ordered["provisional"], validated=ordered["validated"],
    )
