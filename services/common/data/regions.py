"""The 546 autonomous regions (pemda) Kemendagri ranks, from the project's copy of the
region list (Kepmendagri 300.2.2-2138/2025; DKI Jakarta's administrative kota and kabupaten
left out)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal, cast, get_args

RegionType = Literal["provinsi", "kabupaten", "kota"]


@dataclass(frozen=True, slots=True)
class RegionInfo:
    code: str  # Kemendagri code: "62" for a provinsi, "62.10" for a kabupaten or kota
    name: str
    type: RegionType
    province_code: str
    province_name: str


@cache
def load_regions() -> dict[str, RegionInfo]:
    text = resources.files(__package__).joinpath("regions.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(io.StringIO(text))
    return {row["code"]: _region(row) for row in rows}


def _region(row: dict[str, str]) -> RegionInfo:
    if row["type"] not in get_args(RegionType):
        raise ValueError(f"regions.csv: region {row['code']} has an unknown type {row['type']!r}")
    return RegionInfo(
        code=row["code"],
        name=row["name"],
        type=cast(RegionType, row["type"]),
        province_code=row["province_code"],
        province_name=row["province_name"],
    )
