"""The scoring service's stored state → the engine's Region, checked by hand (the integration
tests compare the live score with the engine through this same mapping, so it is tested on
its own here)."""

from decimal import Decimal

from services.scoring.domain.engine import compile_methodology, score_region
from services.scoring.domain.read_model import figure_values
from services.scoring.domain.state import (
    StoredEvidence,
    StoredInnovation,
    evidence_ranks,
    region_from_state,
)

COMPILED = compile_methodology("iid-2026")


def test_an_answers_evidence_is_the_best_of_its_items():
    ranks = evidence_ranks([
        StoredEvidence("a", "sid-16", "rejected"), StoredEvidence("a", "sid-16", "accepted"),
        StoredEvidence("a", "sid-17", "rejected"), StoredEvidence("a", "sid-17", "pending"),
        StoredEvidence(None, "spd-01", "rejected"),
    ])
    assert ranks == {("a", "sid-16"): 3, ("a", "sid-17"): 2, (None, "spd-01"): 1}


def test_state_maps_to_the_hand_computed_score():
    # SPD: spd-06 (w 1.5) L2 accepted = 3; spd-01 L3 without evidence = 0.
    # Innovation a (submitted, kesehatan): sid-16 (w3) L3 accepted = 9, sid-35 (w4) L2
    # pending = 8 in provisional only, sid-17 (w2) L1 rejected = 2 in claimed only.
    # Innovation b is a draft: counts nowhere, even with accepted evidence.
    region = region_from_state(
        "62.10", "kabupaten", "62",
        {"spd-01": 3, "spd-06": 2},
        [
            StoredInnovation("a", "submitted", "kesehatan", (), {"sid-16": 3, "sid-35": 2, "sid-17": 1}),
            StoredInnovation("b", "draft", "pendidikan", (), {"sid-16": 3}),
        ],
        [
            StoredEvidence(None, "spd-06", "accepted"),
            StoredEvidence("a", "sid-16", "accepted"),
            StoredEvidence("a", "sid-35", "pending"),
            StoredEvidence("a", "sid-17", "rejected"),
            StoredEvidence("b", "sid-16", "accepted"),
        ],
    )
    payload = {f: figure_values(v).model_dump(mode="json") for f, v in score_region(region, COMPILED).figures.items()}
    # validated: (3 + 9/12) / 2.5 = 1.50; provisional: (3 + 17/12) / 2.5 = 1.7666… → 1.77;
    # claimed: (3 + 19/12) / 2.5 = 1.8333… → 1.83.
    assert {f: payload[f]["iid"] for f in payload} == {"validated": "1.50", "provisional": "1.77", "claimed": "1.83"}
    assert payload["provisional"]["sid_average"] == str(Decimal("1.4167"))
    assert payload["validated"]["innovations_counted"] == 1
