import copy
from decimal import Decimal

import pytest

from services.scoring.domain.dataset import parse_dataset
from services.scoring.domain.engine import compile_methodology, regions_from_dataset, score_region
from services.scoring.domain.explain import explain_region
from services.scoring.domain.gap import TargetError, apply_actions, parse_target, plan_gap

from .builders import BASIC_SERVICES, dataset, innovation, maturity_70, spd_40, worked_example_2

COMPILED = compile_methodology("iid-2026")


def region_of(raw_region: dict):
    parsed, _ = parse_dataset(dataset(raw_region))
    return regions_from_dataset(parsed)[0]


def test_contributions_add_up_to_the_iid():
    region = region_of(worked_example_2())
    report = explain_region(region, COMPILED, "validated")
    spd = sum(a.iid_points for a in report.spd)
    sid = sum(a.iid_points for inv in report.innovations for a in inv.answers)
    assert abs(spd + sid + report.sji.iid_points - report.score.iid) <= Decimal("0.005")
    # Each SID answer's effective weight uses the divisor max(12, n) = 12: 6 / 12 / 250 × 100.
    first = report.innovations[0].answers[0]
    assert first.indicator == "sid-16" and first.iid_points == Decimal("0.2000")
    assert report.next_category is not None and report.next_category.id == "inovatif"
    assert report.next_category.distance == Decimal("40.01") - Decimal("38.55")
    assert report.sji.basic_services_missing == [BASIC_SERVICES[5]]


def test_missing_pending_and_rejected_are_listed():
    answers = maturity_70()
    answers["sid-16"]["evidence"] = "pending"
    answers["sid-17"]["evidence"] = "rejected"
    answers["sid-18"]["evidence"] = "none"
    del answers["sid-35"]  # mandatory, unanswered
    raw = {"code": "11", "type": "provinsi", "spd": spd_40(), "innovations": [innovation("x", "kesehatan", answers)]}
    region = region_of(raw)
    report = explain_region(region, COMPILED, "validated")
    assert [(m.indicator, m.reason) for m in report.missing] == [
        ("sid-18", "level set but no evidence uploaded"),
        ("sid-35", "mandatory indicator not answered"),
    ]
    assert [p.indicator for p in report.pending] == ["sid-16"]
    assert [r.indicator for r in report.rejected] == ["sid-17"]
    statuses = {a.indicator: a.status for a in report.innovations[0].answers}
    assert statuses["sid-16"] == "evidence_pending" and statuses["sid-17"] == "evidence_rejected"
    # In the claimed figure the rejected answer counts.
    claimed = explain_region(region, COMPILED, "claimed")
    assert {a.indicator: a.status for a in claimed.innovations[0].answers}["sid-17"] == "counted"


def test_gap_to_inovatif_from_worked_example_2_is_one_action():
    region = region_of(worked_example_2())
    report = plan_gap(region, COMPILED, "validated", "inovatif")
    assert report.reached and len(report.actions) == 1
    action = report.actions[0]
    # spd-12 (weight 2) from level 1 to 3 adds 4 points: (96.3733… + 4) / 2.5 = 40.15.
    assert (action.indicator, action.level_before, action.level_after) == ("spd-12", 1, 3)
    assert action.iid_after == Decimal("40.15")


def test_gap_prefers_getting_pending_evidence_accepted():
    raw = worked_example_2()
    for answer in raw["spd"].values():
        answer["level"] = 3  # SPD maxed out: 63 points
    for inv in raw["innovations"]:
        inv["answers"]["sid-35"]["evidence"] = "pending"  # weight 4 × level 3 = 12 points each
    region = region_of(raw)
    # Now the IID is (63 + (640 - 96) / 12 + 3.04) / 2.5 = 44.53; accepting one sid-35 adds
    # 12 / 12 points, more than any raise (sid-16: 3 / 12).
    report = plan_gap(region, COMPILED, "validated", "45")
    assert [a.kind for a in report.actions] == ["accept_evidence", "accept_evidence"]
    assert report.actions[0].indicator == "sid-35"
    after = copy.deepcopy(region)
    apply_actions(after, report.actions)
    assert score_region(after, COMPILED).figures["validated"].iid >= Decimal("45.00")


def test_unreachable_target_says_how_many_innovations_would_reach_it():
    innovations = [innovation("x", "kesehatan", maturity_70())]
    raw = {"code": "11", "type": "provinsi", "spd": spd_40(), "innovations": innovations}
    report = plan_gap(region_of(raw), COMPILED, "validated", "sangat_inovatif", maturity=Decimal(100))
    assert not report.reached and not report.existing_answers_reach_target
    more = report.more_innovations
    assert more is not None and more.count is not None
    assert more.maturity == 100 and more.iid_after >= Decimal("65.01")
    # One innovation fewer would not be enough: check with the engine's own formula.
    spd = 63  # every SPD answer raised to level 3 by the actions
    n = 1 + more.count - 1
    sid_avg = (111 + 100 * (n - 1)) / max(12, n)
    sji = 0.38 * n if n >= 5 else 0
    assert (spd + sid_avg + sji) / 2.5 < 65.01


def test_target_parsing():
    assert parse_target("Sangat Inovatif", COMPILED) == (6501, "sangat_inovatif")
    assert parse_target("45.5", COMPILED) == (4550, "IID 45.50")
    with pytest.raises(TargetError):
        parse_target("excellent", COMPILED)
    with pytest.raises(TargetError):
        parse_target("120", COMPILED)
    for odd in ("1_0", "٣٠", "1e1", "nan", "-5"):
        with pytest.raises(TargetError):
            parse_target(odd, COMPILED)


def test_new_innovations_default_to_the_regions_maturity_before_the_actions():
    # Worked example 2: 8 innovations of maturity 80; the actions raise their levels, but the
    # hypothetical new innovations are like the region's innovations as they are now.
    report = plan_gap(region_of(worked_example_2()), COMPILED, "validated", "sangat_inovatif")
    assert not report.reached and report.more_innovations is not None
    assert report.more_innovations.maturity == Decimal("80.00")
    assert any(a.kind == "raise_level" and a.innovation is not None for a in report.actions)


def test_raising_the_level_of_rejected_evidence_keeps_it_rejected_in_the_claimed_figure():
    answers = {"sid-16": {"level": 1, "evidence": "rejected"}}
    raw = {"code": "11", "type": "provinsi", "spd": spd_40(), "innovations": [innovation("x", "kesehatan", answers)]}
    region = region_of(raw)
    report = plan_gap(region, COMPILED, "claimed", "60")
    raise_16 = [a for a in report.actions if a.indicator == "sid-16"]
    assert raise_16 and raise_16[0].kind == "raise_level"
    assert (raise_16[0].evidence_before, raise_16[0].evidence_after) == ("rejected", "rejected")
    # Applied, the plan leaves the answer as the planner simulated it.
    after = copy.deepcopy(region)
    apply_actions(after, report.actions)
    assert after.innovations["x"].answers["sid-16"] == (3, 1)
    assert score_region(after, COMPILED).figures["claimed"].iid == report.iid_after_actions
