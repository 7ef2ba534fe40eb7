"""From the scoring service's stored state (the newest version of every SPD answer,
innovation and evidence item) to the engine's `Region`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from services.common.data.regions import RegionType
from services.scoring.domain.dataset import EVIDENCE_RANK, EvidenceState
from services.scoring.domain.engine import Region, innovation_from


@dataclass(frozen=True, slots=True)
class StoredInnovation:
    id: str
    status: str
    urusan_utama: str
    urusan_lain: tuple[str, ...]
    answers: Mapping[str, int | None]
    name: str | None = None
    agency: str | None = None


@dataclass(frozen=True, slots=True)
class StoredEvidence:
    innovation_id: str | None  # None: evidence of an SPD answer
    indicator: str
    state: EvidenceState  # pending, accepted, rejected


def evidence_ranks(evidence: Iterable[StoredEvidence]) -> dict[tuple[str | None, str], int]:
    """An answer's evidence state is the best of its items: one accepted document is enough,
    and a new upload after a rejection is pending again."""
    ranks: dict[tuple[str | None, str], int] = {}
    for item in evidence:
        key = (item.innovation_id, item.indicator)
        ranks[key] = max(ranks.get(key, 0), EVIDENCE_RANK[item.state])
    return ranks


def region_from_state(
    code: str,
    type_: RegionType,
    province: str | None,
    spd: Mapping[str, int | None],
    innovations: Iterable[StoredInnovation],
    evidence: Iterable[StoredEvidence],
) -> Region:
    ranks = evidence_ranks(evidence)
    region = Region(
        code=code,
        type=type_,
        province=province,
        spd={indicator: (level, ranks.get((None, indicator), 0)) for indicator, level in spd.items()},
    )
    for item in innovations:
        answers = {indicator: (level, ranks.get((item.id, indicator), 0)) for indicator, level in item.answers.items()}
        region.innovations[item.id] = innovation_from(item, answers)
    return region
