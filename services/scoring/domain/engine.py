"""The IID scoring engine: one region's three figures from its answers and evidence states.

Arithmetic is exact: weights are scaled to integers (`CompiledMethodology.scale`), sums are
integers, the SID average and the IID are Fractions, and only the IID is rounded (half-up,
2 decimals). The engine is pure and fast enough to run on every event: an innovation's
points are cached until one of its answers changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from functools import cache
from typing import Any

# Figures are named in the event contract; re-exported for the engine's callers.
from services.common.data.regions import RegionType
from services.common.events import FIGURES as FIGURES
from services.common.events import Figure as Figure
from services.common.methodology.catalogue import Methodology, load_methodology, load_urusan
from services.scoring.domain.dataset import EVIDENCE_RANK, DatasetIn, RegionIn

# The lowest evidence rank (see EVIDENCE_RANK) that counts in each figure.
FIGURE_THRESHOLD: dict[Figure, int] = {"claimed": 1, "provisional": 2, "validated": 3}
EVIDENCE_FOR_FIGURE: dict[Figure, str] = {"claimed": "pending", "provisional": "pending", "validated": "accepted"}

# An answer as the engine holds it: (level or None, evidence rank).
Answer = tuple[int | None, int]


@dataclass(frozen=True)
class CompiledMethodology:
    """A methodology turned into integers for fast exact arithmetic."""

    methodology: Methodology
    scale: int  # points × scale are integers
    weight: dict[str, int]  # indicator code → weight × scale
    divisor_floor: int
    sji_per_innovation: int  # × scale
    sji_cap: int
    sji_required: int
    total: int  # max total × scale
    basic_services: frozenset[str]
    # (min in hundredths of an IID point, category id), highest first
    category_floors: tuple[tuple[int, str], ...]

    @property
    def id(self) -> str:
        return self.methodology.id

    def category_of(self, iid_hundredths: int) -> str:
        for floor, category_id in self.category_floors:
            if iid_hundredths >= floor:
                return category_id
        return self.category_floors[-1][1]


def _decimal_places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


@cache
def compile_methodology(methodology_id: str) -> CompiledMethodology:
    methodology = load_methodology(methodology_id)
    values = [i.weight for i in methodology.indicators] + [methodology.sji.per_innovation]
    scale = 10 ** max(_decimal_places(v) for v in values)
    return CompiledMethodology(
        methodology=methodology,
        scale=scale,
        weight={i.code: int(i.weight * scale) for i in methodology.indicators},
        divisor_floor=methodology.sid_divisor_floor,
        sji_per_innovation=int(methodology.sji.per_innovation * scale),
        sji_cap=methodology.sji.cap_innovations,
        sji_required=methodology.sji.requires_basic_services_covered,
        total=int(methodology.max_scores.total * scale),
        basic_services=load_urusan().basic_service_codes,
        category_floors=tuple((int(c.min * 100), c.id) for c in methodology.categories),
    )


@dataclass(frozen=True, slots=True)
class Tally:
    """Points (× scale) and counted answers at each evidence rank 1..3 (index 0 unused)."""

    points: tuple[int, int, int, int]
    counted: tuple[int, int, int, int]

    def points_in(self, threshold: int) -> int:
        return sum(self.points[threshold:])

    def counts_in(self, threshold: int) -> bool:
        return sum(self.counted[threshold:]) > 0


def tally_answers(answers: Iterable[tuple[str, Answer]], weight: dict[str, int]) -> Tally:
    points = [0, 0, 0, 0]
    counted = [0, 0, 0, 0]
    for code, (level, rank) in answers:
        if level is not None and rank:
            points[rank] += weight[code] * level
            counted[rank] += 1
    return Tally(tuple(points), tuple(counted))  # type: ignore[arg-type]


@dataclass(slots=True)
class Innovation:
    id: str
    status: str
    urusan_utama: str
    urusan_lain: tuple[str, ...] = ()
    name: str | None = None
    agency: str | None = None
    answers: dict[str, Answer] = field(default_factory=dict)
    _tally: Tally | None = None

    @property
    def submitted(self) -> bool:
        return self.status == "submitted"

    def set_answer(self, code: str, level: int | None, evidence_rank: int) -> None:
        self.answers[code] = (level, evidence_rank)
        self._tally = None

    def tally(self, compiled: CompiledMethodology) -> Tally:
        if self._tally is None:
            self._tally = tally_answers(self.answers.items(), compiled.weight)
        return self._tally

    def forget_tally(self) -> None:
        self._tally = None


@dataclass(slots=True)
class Region:
    code: str
    type: RegionType
    province: str | None
    name: str | None = None
    spd: dict[str, Answer] = field(default_factory=dict)
    innovations: dict[str, Innovation] = field(default_factory=dict)

    @property
    def province_key(self) -> str | None:
        """The province a kabupaten or kota is ranked within; None for a provinsi."""
        return None if self.type == "provinsi" else self.province


def region_from_input(data: RegionIn) -> Region:
    region = Region(
        code=data.code,
        type=data.type,
        province=data.province if data.type != "provinsi" else (data.province or data.code),
        name=data.name,
        spd={code: (a.level, EVIDENCE_RANK[a.evidence]) for code, a in data.spd.items()},
    )
    for item in data.innovations:
        answers = {code: (a.level, EVIDENCE_RANK[a.evidence]) for code, a in item.answers.items()}
        region.innovations[item.id] = innovation_from(item, answers)
    return region


def innovation_from(record: Any, answers: dict[str, Answer]) -> Innovation:
    """The engine's innovation from any record with the profile fields scoring reads (a
    dataset's innovation, the scoring service's stored one) and its answers."""
    return Innovation(
        id=record.id,
        status=record.status,
        urusan_utama=record.urusan_utama,
        urusan_lain=tuple(record.urusan_lain),
        name=record.name,
        agency=record.agency,
        answers=answers,
    )


def regions_from_dataset(dataset: DatasetIn) -> list[Region]:
    return [region_from_input(r) for r in dataset.regions]


# --- figures -----------------------------------------------------------------------------


def round_half_up_hundredths(value: Fraction) -> int:
    """value rounded half-up to 2 decimals, in hundredths (value ≥ 0)."""
    scaled = value * 100
    return (2 * scaled.numerator + scaled.denominator) // (2 * scaled.denominator)


@dataclass(frozen=True, slots=True)
class FigureScore:
    """One figure of a region. Fractions are exact points; `iid` is rounded to 2 decimals."""

    innovations_counted: int
    basic_services_covered: int
    spd: Fraction
    sid_average: Fraction
    sji: Fraction
    total: Fraction
    iid_exact: Fraction
    iid_hundredths: int
    category: str

    @property
    def iid(self) -> Decimal:
        return Decimal(self.iid_hundredths).scaleb(-2)


@dataclass(frozen=True, slots=True)
class Aggregate:
    """What a figure is computed from: enough to recompute after changing one part."""

    spd_points: int  # × scale
    n: int
    maturity_sum: int  # × scale
    basic_counts: dict[str, int]  # basic-service urusan → counted innovations in it


def figure_from_aggregate(agg: Aggregate, compiled: CompiledMethodology) -> FigureScore:
    scale = compiled.scale
    covered = sum(1 for count in agg.basic_counts.values() if count > 0)
    sid_average = Fraction(agg.maturity_sum, max(compiled.divisor_floor, agg.n) * scale)
    sji_points = (
        min(agg.n, compiled.sji_cap) * compiled.sji_per_innovation
        if covered >= compiled.sji_required
        else 0
    )
    spd = Fraction(agg.spd_points, scale)
    sji = Fraction(sji_points, scale)
    total = spd + sid_average + sji
    iid_exact = total * 100 * scale / compiled.total
    hundredths = round_half_up_hundredths(iid_exact)
    return FigureScore(
        innovations_counted=agg.n,
        basic_services_covered=covered,
        spd=spd,
        sid_average=sid_average,
        sji=sji,
        total=total,
        iid_exact=iid_exact,
        iid_hundredths=hundredths,
        category=compiled.category_of(hundredths),
    )


def aggregate(region: Region, compiled: CompiledMethodology, figure: Figure) -> Aggregate:
    threshold = FIGURE_THRESHOLD[figure]
    spd_points = tally_answers(region.spd.items(), compiled.weight).points_in(threshold)
    n = 0
    maturity_sum = 0
    basic_counts: dict[str, int] = {}
    for innovation in region.innovations.values():
        if not innovation.submitted:
            continue
        tally = innovation.tally(compiled)
        if tally.counts_in(threshold):
            n += 1
            maturity_sum += tally.points_in(threshold)
            if innovation.urusan_utama in compiled.basic_services:
                basic_counts[innovation.urusan_utama] = basic_counts.get(innovation.urusan_utama, 0) + 1
    return Aggregate(spd_points, n, maturity_sum, basic_counts)


@dataclass(frozen=True, slots=True)
class RegionFigures:
    """A region's three figures, exact, as the engine computes them."""

    code: str
    methodology: str
    figures: dict[Figure, FigureScore]


def score_region(region: Region, compiled: CompiledMethodology) -> RegionFigures:
    """All three figures of one region, in one pass over its innovations."""
    weight = compiled.weight
    spd = tally_answers(region.spd.items(), weight)
    n = [0, 0, 0, 0]
    sums = [0, 0, 0, 0]
    basic: list[dict[str, int]] = [{}, {}, {}, {}]
    basic_services = compiled.basic_services
    for innovation in region.innovations.values():
        if innovation.status != "submitted":
            continue
        tally = innovation.tally(compiled)
        points, counted = tally.points, tally.counted
        is_basic = innovation.urusan_utama in basic_services
        running_points = 0
        running_counted = 0
        for threshold in (3, 2, 1):  # validated ⊂ provisional ⊂ claimed
            running_points += points[threshold]
            running_counted += counted[threshold]
            if running_counted:
                n[threshold] += 1
                sums[threshold] += running_points
                if is_basic:
                    counts = basic[threshold]
                    counts[innovation.urusan_utama] = counts.get(innovation.urusan_utama, 0) + 1
    figures = {}
    for figure in FIGURES:
        threshold = FIGURE_THRESHOLD[figure]
        agg = Aggregate(spd.points_in(threshold), n[threshold], sums[threshold], basic[threshold])
        figures[figure] = figure_from_aggregate(agg, compiled)
    return RegionFigures(region.code, compiled.id, figures)
