"""What `/peringkat` shows for the address it is asked with: the region type, the figure, the
scope (national, or one province), the search and the page — a value the page does not know
falls back to the person's default rather than failing, so a hand-edited or old link still
shows a ranking. The search is done on the server, so the page works without JavaScript."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from services.common.data.regions import load_regions
from services.common.principal import Role

TYPES = ("provinsi", "kabupaten", "kota")
FIGURES = ("claimed", "provisional", "validated")
NATIONAL = "nasional"
PAGE_SIZE = 100
SEARCH_MAX = 80

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RankingChoice:
    type: str
    figure: str
    province: str | None  # None: national
    search: str
    page: int
    # The scope asked for could not be combined with the type (a provinsi is ranked only
    # nationally): the page says so.
    province_dropped: bool = False


def provinces() -> list[tuple[str, str]]:
    """(code, name) of the 38 provinsi, by code."""
    return sorted((r.code, r.name) for r in load_regions().values() if r.type == "provinsi")


def clean_search(text: str | None) -> str:
    """The search as typed, without control characters, spaces collapsed, at most 80 characters."""
    kept = "".join(c for c in (text or "") if unicodedata.category(c)[0] != "C" or c == " ")
    return " ".join(kept.split())[:SEARCH_MAX]


def _fold(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def matches(search: str, name: str, code: str) -> bool:
    """Every word of the search in the region's name, or the search a prefix of its code."""
    if not search:
        return True
    folded = _fold(name)
    return code.startswith(search.strip()) or all(word in folded for word in _fold(search).split())


def choose(
    role: Role, region: str | None, *, jenis: str | None, angka: str | None, provinsi: str | None,
    cari: str | None, halaman: str | None,
) -> RankingChoice:
    """The ranking to show. By default: the type of the person's own region (kabupaten for
    those without one), the validated figure, and the person's province — a province
    admin's, or that of a kabupaten or kota — else the national ranking."""
    own = load_regions().get(region or "")
    region_type = jenis if jenis in TYPES else (own.type if own is not None and role != "province_admin"
                                               else "kabupaten")
    figure = angka if angka in FIGURES else "validated"
    known = {code for code, _ in provinces()}
    if provinsi == NATIONAL:
        province = None
    elif provinsi in known:
        province = provinsi
    elif role == "province_admin" and region in known:
        province = region
    elif own is not None and own.type != "provinsi":
        province = own.province_code
    else:
        province = None
    dropped = region_type == "provinsi" and province is not None and provinsi in known
    if region_type == "provinsi":
        province = None
    page = int(halaman) if halaman and halaman.isdigit() and len(halaman) <= 4 else 1
    return RankingChoice(type=region_type, figure=figure, province=province, search=clean_search(cari),
                         page=max(page, 1), province_dropped=dropped)


def page_of(items: Sequence[T], page: int, size: int = PAGE_SIZE) -> tuple[list[T], int, int]:
    """The items of `page` (clamped to the pages there are), that page, and how many pages."""
    pages = max(1, -(-len(items) // size))
    page = min(max(page, 1), pages)
    return list(items[(page - 1) * size: page * size]), page, pages
