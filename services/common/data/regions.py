"""The 546 autonomous regions (pemda) Kemendagri ranks, from the project's copy of the
region list (Kepmendagri 300.2.2-2138/2025; DKI Jakarta's administrative kota and kabupaten
left out)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True, slots=True)
class RegionInfo:
    code: str  # Kemendagri code: "62" for a provinsi, "62.10" for a kabupaten or kota
    name: str
    type: str  # provinsi, kabupaten, kota
    province_code: str
    province_name: str


@cache
def load_regions() -> dict[str, RegionInfo]:
    text = resources.files(__package__).joinpath("regions.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(io.StringIO(text))
    return {row["code"]: RegionInfo(**row) for row in rows}
