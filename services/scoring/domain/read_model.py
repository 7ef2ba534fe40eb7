"""From the engine's exact figures to the one shape of a score (`RegionScore` in the event
contract), in one place: the scoring service's events, history, REST answers and live feed,
and the `inovasi score` outputs, all take their figures from here. Decimals are rounded here
and only here: the IID half-up to 2 places (as the engine does), components to 4."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import cache
from uuid import UUID

from services.common.data.regions import RegionInfo, load_regions
from services.common.events import FIGURES, Figure, FigureRanks, FigureValues, Rank, RegionScore, ScoreFigure
from services.scoring.domain.engine import CompiledMethodology, FigureScore, Region, RegionFigures, score_region

COMPONENT_PLACES = Decimal("0.0001")  # SPD, SID average, SJI and total shown to 4 decimals
NO_RANKS = FigureRanks(type=None, province=None)


def to_decimal(value: Fraction, places: Decimal = COMPONENT_PLACES) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(places, ROUND_HALF_UP)


def figure_values(figure: FigureScore) -> FigureValues:
    return FigureValues(
        iid=figure.iid,
        category=figure.category,
        innovations_counted=figure.innovations_counted,
        basic_services_covered=figure.basic_services_covered,
        spd=to_decimal(figure.spd),
        sid_average=to_decimal(figure.sid_average),
        sji=to_decimal(figure.sji),
        total=to_decimal(figure.total),
    )


def score_figure(figure: FigureScore, ranks: FigureRanks = NO_RANKS) -> ScoreFigure:
    return ScoreFigure(**dict(figure_values(figure)), ranks=ranks)


def figures_of(score: RegionScore) -> dict[Figure, FigureValues]:
    """A score's figures without their ranks."""
    return {f: FigureValues.model_validate(score.figure(f).model_dump(exclude={"ranks"})) for f in FIGURES}


def empty_figures(info: RegionInfo, compiled: CompiledMethodology) -> dict[Figure, FigureValues]:
    """What a region without any answer scores."""
    figures = score_region(Region(info.code, info.type, province_key(info)), compiled).figures
    return {f: figure_values(figures[f]) for f in FIGURES}


def unchanged(before: Mapping[Figure, FigureValues], figures: RegionFigures) -> bool:
    """Whether the engine's figures are those of `before` (as published: rounded)."""
    return all(figure_values(figures.figures[f]) == before[f] for f in FIGURES)


def province_key(info: RegionInfo) -> str | None:
    """The province a kabupaten or kota is ranked within; None for a provinsi."""
    return None if info.type == "provinsi" else info.province_code


@cache
def group_sizes(type_: str, province: str | None) -> tuple[int, int]:
    """How many regions a region is ranked among: all of its type, and of its type in its province."""
    regions = load_regions().values()
    of_type = sum(1 for r in regions if r.type == type_)
    of_province = sum(1 for r in regions if r.type == type_ and r.province_code == province)
    return of_type, of_province


def figure_ranks(info: RegionInfo, type_position: int, province_position: int | None) -> FigureRanks:
    """A region's ranks from its positions (1 + the regions strictly higher)."""
    province = province_key(info)
    of_type, of_province = group_sizes(info.type, province)
    return FigureRanks(
        type=Rank(position=type_position, of=of_type),
        province=Rank(position=province_position, of=of_province)
        if province is not None and province_position is not None else None,
    )


def region_score(
    info: RegionInfo,
    figures: RegionFigures,
    ranks: Mapping[Figure, FigureRanks],
    *,
    cycle: int,
    version: int,
    caused_by: UUID | None,
    cause_type: str | None,
    computed_at: datetime | None,
) -> RegionScore:
    return RegionScore(
        cycle=cycle,
        region=info.code,
        name=info.name,
        type=info.type,
        province=province_key(info),
        methodology=figures.methodology,
        version=version,
        caused_by=caused_by,
        cause_type=cause_type,
        computed_at=computed_at,
        claimed=score_figure(figures.figures["claimed"], ranks["claimed"]),
        provisional=score_figure(figures.figures["provisional"], ranks["provisional"]),
        validated=score_figure(figures.figures["validated"], ranks["validated"]),
    )
