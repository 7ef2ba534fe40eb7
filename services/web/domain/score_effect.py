"""What one innovation adds to its region's IID, per figure, for its operator's page.

Scoring's explanation (`GET /scoring/v1/…/regions/{code}/explain`) says this per innovation,
but it is for the region's admins, verifiers and viewers: an operator is refused (scoring's
`can_read_region_details`). An operator may read the region's score, though, and its own
innovation's answers and evidence; with the methodology catalogue that is all the arithmetic
needs, the same as scoring's (services/scoring/domain/explain.py):

- an answer counts in a figure when it has a level and its best evidence reaches the
  figure's rank (claimed: any evidence, even rejected; provisional: pending or accepted;
  validated: accepted);
- the innovation counts when it is submitted and at least one answer counts; its maturity is
  the sum of weight × level of its counted answers (at most 111);
- its share of the IID through the SID average is maturity / max(divisor floor, innovations
  counted) × 100 / 250 (what scoring's explanation calls the innovation's `iid_points`);
- through the count of innovations (SJI) it adds 0.38 × 100 / 250 while the region's counted
  innovations cover enough basic-service urusan (and at most the cap are counted).

An innovation that does not count yet (a draft, or no answer with evidence) is shown with
what it would add once submitted as it is now (`potential`), the divisor counting it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from services.common.methodology.catalogue import Methodology
from services.web.domain.work import EVIDENCE_RANK

FIGURES: tuple[str, ...] = ("claimed", "provisional", "validated")
THRESHOLD: Mapping[str, int] = {"claimed": 1, "provisional": 2, "validated": 3}
HUNDREDTH = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class FigureBasis:
    """The region's figure as scoring published it."""

    iid: Decimal
    category: str
    innovations_counted: int
    basic_services_covered: int | None


@dataclass(frozen=True, slots=True)
class FigureEffect:
    figure: str
    counted: bool  # the innovation counts in this figure now
    potential: bool  # not counted now: what it would add once submitted as it is
    answers_counted: int
    maturity: Decimal  # SID points of its counted answers (of 111)
    divisor: int
    sid_iid_points: Decimal  # its share of the IID through the SID average, 2 decimals
    sji_iid_points: Decimal  # through the count of innovations, 2 decimals
    region_iid: Decimal
    region_category: str

    @property
    def iid_points(self) -> Decimal:
        return self.sid_iid_points + self.sji_iid_points


def _two(value: Decimal) -> Decimal:
    return value.quantize(HUNDREDTH, rounding=ROUND_HALF_UP)


def score_effect(
    methodology: Methodology,
    answers: Mapping[str, int],
    evidence: Mapping[str, str],
    submitted: bool,
    basis: Mapping[str, FigureBasis],
) -> list[FigureEffect]:
    """Per figure: what the innovation (its `answers`, the best `evidence` state of each)
    adds to the region's IID, given the region's score (`basis`)."""
    weights = {i.code: i.weight for i in methodology.indicators_of("sid")}
    total = methodology.max_scores.total
    sji = methodology.sji
    effects = []
    for figure in FIGURES:
        threshold = THRESHOLD[figure]
        counted = [
            (code, level) for code, level in answers.items()
            if code in weights and level and EVIDENCE_RANK.get(evidence.get(code, "none"), 0) >= threshold
        ]
        maturity = sum((weights[code] * level for code, level in counted), Decimal(0))
        region = basis[figure]
        counts = submitted and bool(counted)
        others = region.innovations_counted - (1 if counts else 0)
        divisor = max(methodology.sid_divisor_floor, others + 1)
        sid = maturity / divisor * 100 / total if counted else Decimal(0)
        covered = region.basic_services_covered or 0
        sji_applies = bool(counted) and covered >= sji.requires_basic_services_covered \
            and others + 1 <= sji.cap_innovations
        effects.append(FigureEffect(
            figure=figure, counted=counts, potential=not counts and bool(counted), answers_counted=len(counted),
            maturity=maturity, divisor=divisor, sid_iid_points=_two(sid),
            sji_iid_points=_two(sji.per_innovation * 100 / total) if sji_applies else Decimal("0.00"),
            region_iid=region.iid, region_category=region.category,
        ))
    return effects


__all__ = ["FIGURES", "FigureBasis", "FigureEffect", "score_effect"]
