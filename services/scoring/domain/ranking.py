"""Competition ranking ("1224") of regions on a figure's rounded IID, within their type and,
for kabupaten and kota, within their province — the way Kemendagri reports "325th of 415
kabupaten"."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .engine import FIGURES, Figure


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

    Updating a region re-ranks only the groups it belongs to: its type and its province.
    """

    def __init__(self, entries: Iterable[Entry] = ()):
        self._entries: dict[str, Entry] = {}
        self._type_members: dict[str, set[str]] = defaultdict(set)
        self._province_members: dict[tuple[str, str], set[str]] = defaultdict(set)
        self._type_ranks: dict[Figure, dict[str, int]] = {f: {} for f in FIGURES}
        self._province_ranks: dict[Figure, dict[str, int]] = {f: {} for f in FIGURES}
        for entry in entries:
            self._add(entry)
        for figure in FIGURES:
            for type_ in self._type_members:
                self._rerank_type(type_, figure)
            for key in self._province_members:
                self._rerank_province(key, figure)

    def _add(self, entry: Entry) -> None:
        old = self._entries.get(entry.code)
        if old is not None:
            self._type_members[old.type].discard(entry.code)
            if old.province is not None:
                self._province_members[(old.type, old.province)].discard(entry.code)
        self._entries[entry.code] = entry
        self._type_members[entry.type].add(entry.code)
        if entry.province is not None:
            self._province_members[(entry.type, entry.province)].add(entry.code)

    def _rerank_type(self, type_: str, figure: Figure) -> None:
        members = self._type_members[type_]
        self._type_ranks[figure].update(
            competition_ranks({c: self._entries[c].iid[figure] for c in members})
        )

    def _rerank_province(self, key: tuple[str, str], figure: Figure) -> None:
        members = self._province_members[key]
        self._province_ranks[figure].update(
            competition_ranks({c: self._entries[c].iid[figure] for c in members})
        )

    def update(self, entry: Entry) -> None:
        old = self._entries.get(entry.code)
        self._add(entry)
        moved = old is not None and (old.type, old.province) != (entry.type, entry.province)
        for figure in FIGURES:
            if moved:
                self._rerank_type(old.type, figure)
                if old.province is not None:
                    self._rerank_province((old.type, old.province), figure)
            if old is None or old.iid[figure] != entry.iid[figure] or old.type != entry.type:
                self._rerank_type(entry.type, figure)
                if entry.province is not None:
                    self._rerank_province((entry.type, entry.province), figure)

    def position(self, code: str, figure: Figure) -> Position:
        entry = self._entries[code]
        province_size = (
            len(self._province_members[(entry.type, entry.province)]) if entry.province is not None else None
        )
        return Position(
            type=self._type_ranks[figure][code],
            province=self._province_ranks[figure].get(code) if entry.province is not None else None,
            type_size=len(self._type_members[entry.type]),
            province_size=province_size,
        )

    def snapshot(self) -> Ranking:
        return {code: {f: self.position(code, f) for f in FIGURES} for code in self._entries}
