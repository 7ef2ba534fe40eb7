"""Datasets for scoring tests, built from the 2026 catalogue so the figures are hand-checkable."""

from __future__ import annotations

from services.common.methodology.catalogue import load_methodology, load_urusan

BASIC_SERVICES = sorted(load_urusan().basic_service_codes)


def sid_codes(methodology: str = "iid-2026") -> list[str]:
    return [i.code for i in load_methodology(methodology).indicators_of("sid")]


def spd_codes(methodology: str = "iid-2026") -> list[str]:
    return [i.code for i in load_methodology(methodology).indicators_of("spd")]


def answers_all_at(level: int, codes: list[str], evidence: str = "accepted", **overrides: int) -> dict:
    """Every code at `level`, with per-code overrides (sid_35=1 → sid-35 at level 1)."""
    out = {code: {"level": level, "evidence": evidence} for code in codes}
    for key, override in overrides.items():
        out[key.replace("_", "-")]["level"] = override
    return out


def spd_40() -> dict:
    # all 20 SPD rows at level 2 = 42 points; spd-12 (weight 2) at level 1 → 40.
    return answers_all_at(2, spd_codes(), spd_12=1)


def maturity_70() -> dict:
    # all 20 SID indicators at level 2 = 74; sid-35 (weight 4) at level 1 → 70.
    return answers_all_at(2, sid_codes(), sid_35=1)


def maturity_80() -> dict:
    # 74 + sid-35 at level 3 (+4) + sid-17 at level 3 (+2) = 80.
    return answers_all_at(2, sid_codes(), sid_35=3, sid_17=3)


def innovation(ident: str, urusan: str, answers: dict, status: str = "submitted") -> dict:
    return {"id": ident, "status": status, "urusan_utama": urusan, "urusan_lain": [], "answers": answers}


def worked_example_1() -> dict:
    """SPD 40, 20 innovations of maturity 70 covering all 6 basic services → IID 47.04."""
    innovations = [
        innovation(f"a{k}", BASIC_SERVICES[k % 6], maturity_70()) for k in range(20)
    ]
    return {"code": "62.10", "type": "kabupaten", "province": "62", "spd": spd_40(), "innovations": innovations}


def worked_example_2() -> dict:
    """SPD 40, 8 innovations of maturity 80 covering 5 basic services → IID 38.55."""
    innovations = [innovation(f"b{k}", BASIC_SERVICES[k % 5], maturity_80()) for k in range(8)]
    return {"code": "62.11", "type": "kabupaten", "province": "62", "spd": spd_40(), "innovations": innovations}


def dataset(*regions: dict, methodology: str = "iid-2026") -> dict:
    return {"methodology": methodology, "regions": list(regions)}
