"""Scoring a whole dataset (`inovasi score compute`): every region's figures, ranked among
the dataset's regions, in the one shape of a score's figures (`ScoreFigure`)."""

from __future__ import annotations

import functools
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from services.common.data.regions import RegionType
from services.common.events import FIGURES, Figure, FigureRanks, Rank, ScoreFigure
from services.scoring.domain.engine import CompiledMethodology, Region, RegionFigures, score_region
from services.scoring.domain.ranking import Entry, Position, Ranking, rank_changes, rank_regions
from services.scoring.domain.read_model import score_figure


class _Report(BaseModel):
    model_config = ConfigDict(frozen=True, json_schema_serialization_defaults_required=True)


class RankChange(_Report):
    type: int | None = Field(description="places moved up (negative: down); null if not ranked before")
    province: int | None


class RegionResult(_Report):
    region: str
    name: str | None
    type: RegionType
    province: str | None = Field(description="the province a kabupaten or kota is ranked within; null for a provinsi")
    claimed: ScoreFigure
    provisional: ScoreFigure
    validated: ScoreFigure
    rank_change: dict[Figure, RankChange] | None = Field(
        default=None, description="since the result given as --previous; null without one"
    )

    def figure(self, name: Figure) -> ScoreFigure:
        figure: ScoreFigure = getattr(self, name)
        return figure


class ScoringResult(_Report):
    methodology: str
    regions: list[RegionResult]


def ranking_entry(region: Region, score: RegionFigures) -> Entry:
    return Entry(
        code=region.code,
        type=region.type,
        province=region.province_key,
        iid={f: score.figures[f].iid_hundredths for f in FIGURES},
    )


def score_all(regions: list[Region], compiled: CompiledMethodology) -> tuple[dict[str, RegionFigures], Ranking]:
    scores = {region.code: score_region(region, compiled) for region in regions}
    ranking = rank_regions(ranking_entry(region, scores[region.code]) for region in regions)
    return scores, ranking


@functools.lru_cache(maxsize=8192)
def ranks_at(position: Position) -> FigureRanks:
    # Cached: a national snapshot asks for 1,638 of them and many are equal; the result is frozen.
    return FigureRanks(
        type=Rank(position=position.type, of=position.type_size),
        province=Rank(position=position.province, of=position.province_size)
        if position.province is not None and position.province_size is not None else None,
    )


def previous_positions(result: ScoringResult) -> dict[str, dict[Figure, Position]]:
    """The ranks of an earlier result (for rank changes)."""
    return {
        region.region: {
            f: Position(
                type=ranks.type.position if ranks.type else 0,
                province=ranks.province.position if ranks.province else None,
                type_size=ranks.type.of if ranks.type else 0,
                province_size=ranks.province.of if ranks.province else None,
            )
            for f in FIGURES
            for ranks in [region.figure(f).ranks]
        }
        for region in result.regions
    }


def compute_result(
    regions: list[Region],
    compiled: CompiledMethodology,
    previous: Mapping[str, Mapping[Figure, Position]] | None = None,
) -> ScoringResult:
    scores, ranking = score_all(regions, compiled)
    changes = rank_changes(ranking, previous) if previous is not None else None
    results = []
    for region in regions:
        figures, ranks = scores[region.code].figures, ranking[region.code]
        results.append(
            RegionResult(
                region=region.code,
                name=region.name,
                type=region.type,
                province=region.province_key,
                claimed=score_figure(figures["claimed"], ranks_at(ranks["claimed"])),
                provisional=score_figure(figures["provisional"], ranks_at(ranks["provisional"])),
                validated=score_figure(figures["validated"], ranks_at(ranks["validated"])),
                rank_change=(
                    {f: RankChange.model_validate(c) for f, c in changes[region.code].items()}
                    if changes is not None else None
                ),
            )
        )
    return ScoringResult(methodology=compiled.id, regions=results)
