"""Scoring a whole dataset: every region's figures and ranks, in the result format."""

from __future__ import annotations

from collections.abc import Mapping

from .engine import FIGURES, CompiledMethodology, Region, RegionScore, score_region
from .ranking import Entry, Position, Ranking, rank_changes, rank_regions


def ranking_entry(region: Region, score: RegionScore) -> Entry:
    return Entry(
        code=region.code,
        type=region.type,
        province=region.province_key,
        iid={f: score.figures[f].iid_hundredths for f in FIGURES},
    )


def score_all(regions: list[Region], compiled: CompiledMethodology) -> tuple[dict[str, RegionScore], Ranking]:
    scores = {region.code: score_region(region, compiled) for region in regions}
    ranking = rank_regions(ranking_entry(region, scores[region.code]) for region in regions)
    return scores, ranking


def position_json(position: Position) -> dict[str, int | None]:
    return {
        "type": position.type,
        "province": position.province,
        "of_type": position.type_size,
        "of_province": position.province_size,
    }


def result_json(
    regions: list[Region],
    compiled: CompiledMethodology,
    previous: Mapping[str, Mapping[str, Position]] | None = None,
) -> dict[str, object]:
    scores, ranking = score_all(regions, compiled)
    changes = rank_changes(ranking, previous) if previous is not None else None
    out_regions = []
    for region in regions:
        score = scores[region.code]
        item: dict[str, object] = {
            "code": region.code,
            "type": region.type,
            "province": region.province_key,
            "figures": {f: score.figures[f].as_json() for f in FIGURES},
            "rank": {f: position_json(ranking[region.code][f]) for f in FIGURES},
        }
        if changes is not None:
            item["rank_change"] = changes[region.code]
        out_regions.append(item)
    return {"methodology": compiled.id, "regions": out_regions}


def positions_from_result(result: Mapping[str, object]) -> dict[str, dict[str, Position]]:
    """Read the ranks back from an earlier result document (for rank changes)."""
    positions: dict[str, dict[str, Position]] = {}
    for region in result.get("regions", []):  # type: ignore[union-attr]
        ranks = region.get("rank", {})
        positions[region["code"]] = {
            figure: Position(
                type=rank["type"],
                province=rank.get("province"),
                type_size=rank.get("of_type", 0),
                province_size=rank.get("of_province"),
            )
            for figure, rank in ranks.items()
            if figure in FIGURES
        }
    return positions
