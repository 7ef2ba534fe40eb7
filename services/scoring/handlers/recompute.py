"""Scoring's event handler: apply the events' new state (where newer than what is held),
recompute each region they touch from the committed state with the engine, store the score
with the event that caused it, and publish `score.updated` — all in the consumer's
transaction, so the inbox, the state, the score and the outgoing events commit together.

The consumer hands over a batch (one read of a stream; a batch of one when an entry is
reclaimed or handled again alone), and a batch costs the same few statements whatever its
size: lock-or-create its regions (one statement, in a fixed order), store the newest event of
each subject and read the regions' state back (one statement), store the new scores and the
applied events (one statement), enqueue the outgoing events (one statement). Each region is
recomputed once per batch and gets at most one new score version, caused by its last applied
event; every applied event is kept in `applied_events` with the version the batch left its
region at, and `changed` is true for the one event that made that version (its `caused_by`;
the batch's other events of the region are coalesced into it). An event is applied when its
version is newer than what was held before it — the state stored before the batch, or an
earlier event of the batch for the same subject — exactly as if the events were handled one
at a time; a stale event changes nothing and is not recorded. Ranks are those the batch
leaves: every region's new IIDs count in every other region's ranks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import structlog

from services.common.data.regions import RegionInfo, load_regions
from services.common.db import Connection
from services.common.events import (
    FIGURES,
    BaseEnvelope,
    Envelope,
    EvidenceAccepted,
    EvidenceRejected,
    EvidenceStored,
    Figure,
    FigureValues,
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
from services.common.metrics import SCORING_COALESCED
from services.scoring.adapters import state_store
from services.scoring.adapters.state_store import Applied, RegionKey, RegionRow
from services.scoring.domain.engine import RegionFigures, compile_methodology, score_region
from services.scoring.domain.ranking import Standings
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

SubjectKey = tuple[str, int, str]  # (state table, cycle, key), as state_store.BatchState keys them


class UnknownRegion(ValueError):
    """An event about a region that is not one of the 546: it can never be scored."""


def region_info(code: str) -> RegionInfo:
    info = load_regions().get(code)
    if info is None:
        raise UnknownRegion(f"region {code!r} is not one of the 546 regions")
    return info


def state_row(event: Envelope) -> tuple[SubjectKey, dict[str, Any]] | None:
    """The state table row an event carries, keyed by its subject; None for an event that
    carries no scoring state."""
    if isinstance(event, SpdAnswerSet):
        return ("spd", event.cycle, f"{event.region}/{event.data.indicator}"), state_store.spd_row(event, event.data)
    if isinstance(event, INNOVATION_EVENT_CLASSES):
        return ("innovation", event.cycle, event.data.id), state_store.innovation_row(event, event.data)
    if isinstance(event, EVIDENCE_EVENT_CLASSES):
        return ("evidence", event.cycle, event.data.evidence_id), state_store.evidence_row(event, event.data)
    return None


async def handle_submission_event(event: Envelope, conn: Connection) -> None:
    """Handler for one intake or evidence event (a batch of one)."""
    await handle_submission_events([event], conn)


@dataclass(frozen=True, slots=True)
class _Change:
    """A region whose figures the batch changed."""

    info: RegionInfo
    cycle: int
    figures: RegionFigures
    before: Mapping[Figure, FigureValues]
    version: int
    cause: Envelope  # the region's last applied event of the batch


async def handle_submission_events(events: Sequence[Envelope], conn: Connection) -> None:
    """Handler for a batch of intake and evidence events, in stream order and without
    duplicates (runs inside the consumer's transaction)."""
    infos: dict[RegionKey, RegionInfo] = {}
    for event in events:
        if (event.cycle, event.region) not in infos:
            methodology_for_cycle(event.cycle)  # an unknown cycle can never be scored either
            infos[(event.cycle, event.region)] = region_info(event.region)
    regions = [RegionRow(cycle, code, info.type, province_key(info)) for (cycle, code), info in sorted(infos.items())]
    versions = await state_store.lock_regions(conn, regions)

    # Per subject, the batch's events in order; its newest is what the batch stores.
    subjects: dict[SubjectKey, list[tuple[Envelope, dict[str, Any]]]] = {}
    for event in events:
        carried = state_row(event)
        if carried is not None:
            subjects.setdefault(carried[0], []).append((event, carried[1]))
    newest: dict[str, list[dict[str, Any]]] = {"spd": [], "innovation": [], "evidence": []}
    for (table, _, _), items in subjects.items():
        best = items[0]
        for item in items[1:]:
            if item[0].version > best[0].version:
                best = item
        newest[table].append(best[1])
    state = await state_store.apply_and_load(
        conn, spd=newest["spd"], innovations=newest["innovation"], evidence=newest["evidence"], regions=regions
    )

    # Applied = newer than what was held before it: the stored version, or an earlier event
    # of the batch for the same subject (as one at a time).
    applied: set[int] = set()
    for subject, items in subjects.items():
        held = state.versions_before.get(subject)
        for event, _ in items:
            if held is None or event.version > held:
                applied.add(id(event))
                held = event.version

    changes: list[_Change] = []
    records: list[Applied] = []
    for key, info in sorted(infos.items()):
        cycle, code = key
        region_events = [e for e in events if (e.cycle, e.region) == key and id(e) in applied]
        with structlog.contextvars.bound_contextvars(region=code, cycle=cycle):
            if not region_events:
                log.info("stale events: state already newer, nothing to recompute",
                         events=sum(1 for e in events if (e.cycle, e.region) == key))
                continue
            SCORING_COALESCED.observe(len(region_events))
            compiled = compile_methodology(methodology_for_cycle(cycle).id)
            province = province_key(info)
            region = region_from_state(
                code, info.type, province, state.spd[key], state.innovations[key], state.evidence[key]
            )
            figures = score_region(region, compiled)
            previous = state.scores.get(key)
            before = figures_of(previous) if previous is not None else empty_figures(info, compiled)
            current = versions[key]
            if unchanged(before, figures):
                records += [Applied(cycle, code, e.event_id, e.type, current, False) for e in region_events]
                log.info("figures unchanged: no new score version", score_version=current, events=len(region_events))
                continue
            # The version is caused by the last applied event (its `caused_by`): that one
            # made it; the others are coalesced into it.
            cause = region_events[-1]
            changes.append(_Change(info, cycle, figures, before, current + 1, cause))
            records += [Applied(cycle, code, e.event_id, e.type, current + 1, e is cause) for e in region_events]

    scores, outgoing = _new_scores(changes, state.standings)
    await state_store.save_batch(conn, scores, records, outgoing)


def _new_scores(
    changes: Sequence[_Change], scored: Mapping[tuple[int, str], Sequence[state_store.ScoredRow]]
) -> tuple[list[tuple[RegionScore, str | None]], list[BaseEnvelope]]:
    """The changed regions' new scores, ranked as the batch leaves every region, and the
    events announcing them: `score.updated`, and `ranking.changed` where other regions moved."""
    standings: dict[tuple[int, str], Standings] = {}
    for change in changes:
        of_type = (change.cycle, change.info.type)
        if of_type not in standings:
            standings[of_type] = Standings()
            for row in scored.get(of_type, ()):
                standings[of_type].set(row.region, row.province, row.iid)
        iids = {f: change.figures.figures[f].iid for f in FIGURES}
        standings[of_type].set(change.info.code, province_key(change.info), iids)
    computed_at = datetime.now(UTC)
    scores: list[tuple[RegionScore, str | None]] = []
    outgoing: list[BaseEnvelope] = []
    for change in changes:
        info, cause = change.info, change.cause
        group = standings[(change.cycle, info.type)]
        score = region_score(
            info,
            change.figures,
            {f: figure_ranks(info, *group.position(info.code, f)) for f in FIGURES},
            cycle=change.cycle,
            version=change.version,
            caused_by=cause.event_id,
            cause_type=cause.type,
            computed_at=computed_at,
        )
        scores.append((score, province_key(info)))
        outgoing.append(ScoreUpdated(
            cycle=change.cycle,
            region=info.code,
            subject=info.code,
            version=change.version,
            correlation_id=cause.correlation_id,
            causation_id=str(cause.event_id),
            data=score,
        ))
        moved = rank_moves(info, score, {f: change.before[f].iid for f in FIGURES}, group)
        if moved is not None:
            outgoing.append(RankingChanged(
                cycle=change.cycle,
                region=info.code,
                subject=ranking_subject(info.code),
                version=change.version,
                correlation_id=cause.correlation_id,
                causation_id=str(cause.event_id),
                data=moved,
            ))
    return scores, outgoing


def rank_moves(
    info: RegionInfo, score: RegionScore, before: Mapping[Figure, Decimal], standings: Standings
) -> RankingChange | None:
    """The other regions of the type whose rank moved when the region's IIDs went from
    `before` to its new score's: in each figure, those whose IID lies in [low, high) of the
    two (the region passed them, or they passed it), with their ranks as `standings` holds
    them. Unscored regions stand at 0."""
    bounds = {f: (min(before[f], score.figure(f).iid), max(before[f], score.figure(f).iid)) for f in FIGURES}
    if all(low == high for low, high in bounds.values()):
        return None
    regions = load_regions()
    moves: dict[Figure, list[RankMove]] = {f: [] for f in FIGURES}
    for code, _province, iids in standings.items():
        if code == info.code:
            continue
        for f in FIGURES:
            low, high = bounds[f]
            if low <= iids[f] < high:
                ranks = figure_ranks(regions[code], *standings.position(code, f))
                moves[f].append(RankMove(region=code, ranks=ranks))
    from_zero = [f for f in FIGURES if bounds[f][0] == 0 < bounds[f][1]]
    if from_zero:
        scored = standings.scored
        above = {f: standings.above_zero(f) for f in from_zero}
        for other in regions.values():
            if other.type != info.type or other.code in scored or other.code == info.code:
                continue
            for f in from_zero:
                of_type, of_province = above[f]
                ranks = figure_ranks(other, 1 + of_type, 1 + of_province.get(province_key(other), 0))
                moves[f].append(RankMove(region=other.code, ranks=ranks))
    if not any(moves.values()):
        return None
    ordered = {f: sorted(moves[f], key=lambda m: m.region) for f in FIGURES}
    return RankingChange(
        cycle=score.cycle, region=info.code, type=info.type, version=score.version,
        claimed=ordered["claimed"], provisional=ordered["provisional"], validated=ordered["validated"],
    )
