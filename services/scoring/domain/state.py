"""From the scoring service's stored state (the newest version of every SPD answer,
innovation and evidence item) to the engine's `Region`, and from a score to the decimals
that travel in events and API responses."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from .dataset import EVIDENCE_RANK
from .engine import FIGURES, FigureScore, Region, RegionScore, innovation_from

COMPONENT_PLACES = Decimal("0.0001")  # SPD, SID average, SJI and total shown to 4 decimals


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
    state: str  # pending, accepted, rejected


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
    type_: str,
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


def to_decimal(value: Fraction, places: Decimal = COMPONENT_PLACES) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(places, ROUND_HALF_UP)


def figure_payload(figure: FigureScore) -> dict[str, object]:
    """A figure with decimals (exact IID rounded to 2 places, components to 4)."""
    return {
        "iid": figure.iid,
        "category": figure.category,
        "innovations_counted": figure.innovations_counted,
        "basic_services_covered": figure.basic_services_covered,
        "spd": to_decimal(figure.spd),
        "sid_average": to_decimal(figure.sid_average),
        "sji": to_decimal(figure.sji),
        "total": to_decimal(figure.total),
    }


def score_payload(score: RegionScore) -> dict[str, dict[str, object]]:
    return {figure: figure_payload(score.figures[figure]) for figure in FIGURES}


def payload_json(figures: dict[str, dict[str, object]]) -> dict[str, dict[str, object]]:
    """The payload as stored and served: decimals as strings ("47.04"), never floats."""
    return {
        figure: {key: str(value) if isinstance(value, Decimal) else value for key, value in values.items()}
        for figure, values in figures.items()
    }
