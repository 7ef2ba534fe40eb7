from decimal import Decimal
from fractions import Fraction

import pytest

from services.scoring.domain.dataset import parse_dataset
from services.scoring.domain.engine import compile_methodology, regions_from_dataset, score_region
from services.scoring.domain.results import compute_result

from .builders import (
    BASIC_SERVICES,
    dataset,
    innovation,
    maturity_70,
    worked_example_1,
    worked_example_2,
)


def score(raw: dict, code: str | None = None):
    data, methodology = parse_dataset(raw)
    compiled = compile_methodology(methodology.id)
    regions = {r.code: r for r in regions_from_dataset(data)}
    region = regions[code] if code else next(iter(regions.values()))
    return score_region(region, compiled)


def test_worked_example_1_is_inovatif_at_47_04():
    result = score(dataset(worked_example_1()))
    for figure in ("claimed", "provisional", "validated"):
        f = result.figures[figure]
        assert f.spd == 40
        assert f.innovations_counted == 20
        assert f.basic_services_covered == 6
        assert f.sid_average == 70
        assert f.sji == Fraction("7.6")
        assert f.total == Fraction("117.6")
        assert f.iid == Decimal("47.04")
        assert f.category == "inovatif"


def test_worked_example_2_is_kurang_inovatif_at_38_55():
    f = score(dataset(worked_example_2())).figures["validated"]
    assert f.innovations_counted == 8
    assert f.basic_services_covered == 5
    assert f.sid_average == Fraction(640, 12)  # 53.33…: 8 innovations, divisor floor 12
    assert f.sji == Fraction("3.04")
    assert f.iid == Decimal("38.55")  # 96.3733… / 250 × 100 = 38.549… → half-up
    assert f.category == "kurang_inovatif"


def test_evidence_states_decide_the_figure():
    # One innovation; sid-16 (w3) L3 accepted, sid-17 (w2) L3 pending, sid-18 (w2) L3 rejected,
    # sid-19 (w2) L3 without evidence: claimed 9+6+6, provisional 9+6, validated 9.
    answers = {
        "sid-16": {"level": 3, "evidence": "accepted"},
        "sid-17": {"level": 3, "evidence": "pending"},
        "sid-18": {"level": 3, "evidence": "rejected"},
        "sid-19": {"level": 3, "evidence": "none"},
    }
    region = {"code": "11", "type": "provinsi", "spd": {}, "innovations": [innovation("x", "kesehatan", answers)]}
    figures = score(dataset(region)).figures
    assert figures["claimed"].sid_average == Fraction(21, 12)
    assert figures["provisional"].sid_average == Fraction(15, 12)
    assert figures["validated"].sid_average == Fraction(9, 12)
    # SJI needs 5 basic services: one innovation covers one, so SJI is 0 in every figure.
    assert all(f.sji == 0 for f in figures.values())
    # IID = (21/12) / 250 × 100 = 0.7 exactly.
    assert figures["claimed"].iid == Decimal("0.70")
    assert figures["claimed"].category == "kurang_inovatif"


def test_only_submitted_innovations_with_a_counted_answer_count():
    accepted = maturity_70()
    pending_only = {code: {"level": 1, "evidence": "pending"} for code in accepted}
    innovations = [
        innovation("sub", "kesehatan", accepted),
        innovation("draft", "pendidikan", accepted, status="draft"),
        innovation("gone", "sosial", accepted, status="withdrawn"),
        innovation("pend", "sosial", pending_only),
        innovation("empty", "sosial", {}),
    ]
    region = {"code": "11", "type": "provinsi", "innovations": innovations}
    figures = score(dataset(region)).figures
    assert figures["validated"].innovations_counted == 1
    assert figures["provisional"].innovations_counted == 2
    assert figures["provisional"].basic_services_covered == 2
    assert figures["claimed"].innovations_counted == 2


def test_empty_region_is_tidak_dapat_dinilai():
    f = score(dataset({"code": "11", "type": "provinsi"})).figures["claimed"]
    assert f.iid == 0
    assert f.category == "tidak_dapat_dinilai"


def test_2023_uses_its_own_divisor_floor_and_thresholds():
    region = worked_example_2()
    f = score(dataset(region, methodology="iid-2023")).figures["validated"]
    assert f.sid_average == Fraction(640, 10)
    # (40 + 64 + 3.04) / 250 × 100 = 42.816 → 42.82, Inovatif under 2023 thresholds (35.00).
    assert f.iid == Decimal("42.82")
    assert f.category == "inovatif"


def test_sji_is_capped_at_200_innovations():
    innovations = [innovation(f"i{k}", BASIC_SERVICES[k % 6], maturity_70()) for k in range(205)]
    f = score(dataset({"code": "11", "type": "provinsi", "innovations": innovations})).figures["claimed"]
    assert f.sji == 76
    assert f.sid_average == 70


@pytest.mark.parametrize(
    ("total", "expected"),
    [(Fraction("100.0125"), Decimal("40.01")), (Fraction("100.01249"), Decimal("40.00"))],
)
def test_iid_rounds_half_up_only_at_the_end(total, expected):
    from services.scoring.domain.engine import round_half_up_hundredths

    assert Decimal(round_half_up_hundredths(total * 100 / 250)).scaleb(-2) == expected


def test_the_result_has_the_documented_shape():
    data, methodology = parse_dataset(dataset(worked_example_1(), worked_example_2()))
    out = compute_result(regions_from_dataset(data), compile_methodology(methodology.id)).model_dump(mode="json")
    assert out["methodology"] == "iid-2026"
    first = out["regions"][0]
    assert first["region"] == "62.10"
    assert first["claimed"] == {
        "innovations_counted": 20,
        "basic_services_covered": 6,
        "spd": "40.0000",
        "sid_average": "70.0000",
        "sji": "7.6000",
        "total": "117.6000",
        "iid": "47.04",
        "category": "inovatif",
        "ranks": {"type": {"position": 1, "of": 2}, "province": {"position": 1, "of": 2}},
    }
    assert out["regions"][1]["validated"]["ranks"] == {
        "type": {"position": 2, "of": 2}, "province": {"position": 2, "of": 2}
    }
