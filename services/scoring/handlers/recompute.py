"""Scoring's event handler: apply the event's new state (if newer than what is held),
recompute the region from the committed state with the engine, store the score with the
event that caused it, and publish `score.updated` — all in the consumer's transaction, so
the inbox, the state, the score and the outgoing event commit together."""

from __future__ import annotations

from datetime import UTC, datetime

from services.common.data.regions import RegionInfo, load_regions
from services.common.db import Connection
from services.common.events import (
    FIGURES,
    Envelope,
    EvidenceAccepted,
    EvidenceRejected,
    EvidenceStored,
    InnovationCreated,
    InnovationSubmitted,
    InnovationUpdated,
    InnovationWithdrawn,
    RegionScore,
    ScoreUpdated,
    SpdAnswerSet,
)
from services.common.logging import get_logger
from services.common.methodology.catalogue import methodology_for_cycle
from services.common.outbox import enqueue
from services.scoring.adapters import state_store
from services.scoring.domain.engine import compile_methodology, score_region
from services.scoring.domain.read_model import figure_ranks, province_key, region_score
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
    await recompute_region(conn, event, info, score_version + 1)


async def recompute_region(conn: Connection, cause: Envelope, info: RegionInfo, version: int) -> ScoreUpdated:
    cycle, code, province = cause.cycle, cause.region, province_key(info)
    compiled = compile_methodology(methodology_for_cycle(cycle).id)
    spd, innovations, evidence = await state_store.load_region_state(conn, cycle, code)
    figures = score_region(region_from_state(code, info.type, province, spd, innovations, evidence), compiled)
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
    return event
