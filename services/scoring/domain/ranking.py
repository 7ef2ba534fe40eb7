"""Competition ranking ("1224") of regions on a figure's rounded IID, within their type and,
for kabupaten and kota, within their province — the way Kemendagri reports "325th of 415
kabupaten"."""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from services.scoring.domain.engine import FIGURES, Figure


@dataclass(frozen=True, slots=True)
class Entry:
    """What ranking needs of a region: where it competes and its IID per figure (hundredths)."""

    code: str
    type: str
    province: str | None  # None for a provinsi: it has no province rank
    iid: Mapping[Figure, int]


@dataclass(frozen=True, slots=True)
class Position:
    type: int
    province: int | None
    type_size: int
    province_size: int | None


Ranking = dict[str, dict[Figure, Position]]


def competition_ranks(values: Mapping[str, int]) -> dict[str, int]:
    """Rank = 1 + the number of strictly higher values; ties share a rank."""
    ordered = sorted(values.items(), key=lambda item: -item[1])
    ranks: dict[str, int] = {}
    previous_value = None
    previous_rank = 0
    for index, (code, value) in enumerate(ordered, start=1):
        if value != previous_value:
            previous_rank, previous_value = index, value
        ranks[code] = previous_rank
    return ranks


def rank_group(entries: Iterable[Entry], figure: Figure) -> dict[str, int]:
    return competition_ranks({e.code: e.iid[figure] for e in entries})


def rank_regions(entries: Iterable[Entry]) -> Ranking:
    entries = list(entries)
    by_type: dict[str, list[Entry]] = defaultdict(list)
    by_province: dict[tuple[str, str], list[Entry]] = defaultdict(list)
    for entry in entries:
        by_type[entry.type].append(entry)
        if entry.province is not None:
            by_province[(entry.type, entry.province)].append(entry)
    ranking: Ranking = {e.code: {} for e in entries}
    for figure in FIGURES:
        type_ranks: dict[str, int] = {}
        for group in by_type.values():
            type_ranks.update(rank_group(group, figure))
        province_ranks: dict[str, int] = {}
        for group in by_province.values():
            province_ranks.update(rank_group(group, figure))
        for entry in entries:
            province_group = (
                len(by_province[(entry.type, entry.province)]) if entry.province is not None else None
            )
            ranking[entry.code][figure] = Position(
                type=type_ranks[entry.code],
                province=province_ranks.get(entry.code),
                type_size=len(by_type[entry.type]),
                province_size=province_group,
            )
    return ranking


def rank_changes(
    current: Mapping[str, Mapping[Figure, Position]],
    previous: Mapping[str, Mapping[Figure, Position]],
) -> dict[str, dict[Figure, dict[str, int | None]]]:
    """Places moved since `previous`: positive = up. None where the region was not ranked."""
    changes: dict[str, dict[Figure, dict[str, int | None]]] = {}
    for code, figures in current.items():
        changes[code] = {}
        for figure, now in figures.items():
            before = previous.get(code, {}).get(figure)
            changes[code][figure] = {
                "type": before.type - now.type if before else None,
                "province": (
                    before.province - now.province
                    if before and before.province is not None and now.province is not None
                    else None
                ),
            }
    return changes


class LiveRanking:
    """Rankings kept up to date one region at a time (the scoring service's hot path).

    Each group (a type, or a type within a province) keeps its IIDs sorted, so an update is
    a removal and an insertion, and a region's competition rank is one binary search:
    1 + the number of strictly higher IIDs in its group.
    """

    def __init__(self, entries: Iterable[Entry] = ()):
        self._entries: dict[str, Entry] = {}
        self._type_size: dict[str, int] = defaultdict(int)
        self._province_size: dict[tuple[str, str], int] = defaultdict(int)
        # (figure, group key) → ascending IIDs of the group's members
        self._sorted: dict[tuple[Figure, object], list[int]] = defaultdict(list)
        for entry in entries:
            self.update(entry)

    @staticmethod
    def _groups(entry: Entry) -> list[object]:
        groups: list[object] = [entry.type]
        if entry.province is not None:
            groups.append((entry.type, entry.province))
        return groups

    def update(self, entry: Entry) -> None:
        old = self._entries.get(entry.code)
        if old is not None:
            self._type_size[old.type] -= 1
            if old.province is not None:
                self._province_size[(old.type, old.province)] -= 1
            for group in self._groups(old):
                for figure in FIGURES:
                    values = self._sorted[(figure, group)]
                    del values[bisect_left(values, old.iid[figure])]
        self._entries[entry.code] = entry
        self._type_size[entry.type] += 1
        if entry.province is not None:
            self._province_size[(entry.type, entry.province)] += 1
        for group in self._groups(entry):
            for figure in FIGURES:
                insort(self._sorted[(figure, group)], entry.iid[figure])

    def _rank(self, figure: Figure, group: object, value: int) -> int:
        values = self._sorted[(figure, group)]
        return 1 + len(values) - bisect_right(values, value)

    def position(self, code: str, figure: Figure) -> Position:
        entry = self._entries[code]
        value = entry.iid[figure]
        province = (entry.type, entry.province) if entry.province is not None else None
        return Position(
            type=self._rank(figure, entry.type, value),
            province=self._rank(figure, province, value) if province is not None else None,
            type_size=self._type_size[entry.type],
            province_size=self._province_size[province] if province is not None else None,
        )

    def snapshot(self) -> Ranking:
        return {code: {f: self.position(code, f) for f in FIGURES} for code in self._entries}


class Standings:
    """The scored regions of one type in one cycle, with their IIDs per figure, as a batch
    leaves them: the rows read at the start of the batch with the batch's new scores set
    over them. Positions are competition ranks, as the rank queries compute them: within
    the type and, for a kabupaten or kota, within its province among its type."""

    def __init__(self) -> None:
        self._regions: dict[str, tuple[str | None, Mapping[Figure, Decimal]]] = {}
        self._ranks: dict[Figure, tuple[dict[str, int], dict[str, int]]] = {}

    def set(self, code: str, province: str | None, iids: Mapping[Figure, Decimal]) -> None:
        self._regions[code] = (province, iids)
        self._ranks.clear()

    def items(self) -> Iterable[tuple[str, str | None, Mapping[Figure, Decimal]]]:
        return ((code, province, iids) for code, (province, iids) in self._regions.items())

    @property
    def scored(self) -> frozenset[str]:
        return frozenset(self._regions)

    def position(self, code: str, figure: Figure) -> tuple[int, int | None]:
        """(position in the type, position in the province or None for a provinsi)."""
        of_type, of_province = self._ranked(figure)
        return of_type[code], of_province.get(code)

    def above_zero(self, figure: Figure) -> tuple[int, dict[str | None, int]]:
        """How many scored regions are above 0 in `figure`: in all, and per province."""
        of_province: dict[str | None, int] = defaultdict(int)
        total = 0
        for province, iids in self._regions.values():
            if iids[figure] > 0:
                total += 1
                of_province[province] += 1
        return total, dict(of_province)

    def _ranked(self, figure: Figure) -> tuple[dict[str, int], dict[str, int]]:
        if figure not in self._ranks:
            values = {code: int(iids[figure] * 100) for code, (_, iids) in self._regions.items()}
            by_province: dict[str, dict[str, int]] = defaultdict(dict)
            for code, (province, _) in self._regions.items():
                if province is not None:
                    by_province[province][code] = values[code]
            of_province: dict[str, int] = {}
            for group in by_province.values():
                of_province.update(competition_ranks(group))
            self._ranks[figure] = (competition_ranks(values), of_province)
        return self._ranks[figure]
