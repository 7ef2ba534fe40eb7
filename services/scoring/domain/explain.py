"""Why a region stands where it does, for one figure: each answer's contribution in points and
in IID points, what is missing, pending or rejected, and the distance to the next category.

An SID answer's contribution goes through the SID average, so its effective weight is
divided by the SID divisor, max(divisor floor, innovations counted).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.common.events import DecimalStr, FigureValues
from services.common.methodology.catalogue import Indicator
from services.scoring.domain.dataset import EVIDENCE_RANK, EvidenceState
from services.scoring.domain.engine import (
    FIGURE_THRESHOLD,
    Answer,
    CompiledMethodology,
    Figure,
    FigureScore,
    Innovation,
    Region,
    score_region,
)
from services.scoring.domain.read_model import figure_values, to_decimal

EVIDENCE_NAME: dict[int, EvidenceState] = {rank: name for name, rank in EVIDENCE_RANK.items()}
AnswerStatus = Literal[
    "counted", "unanswered", "no_evidence", "evidence_pending", "evidence_rejected", "innovation_not_counted"
]


class _Report(BaseModel):
    model_config = ConfigDict(frozen=True, json_schema_serialization_defaults_required=True)


class ExplainedAnswer(_Report):
    indicator: str
    name: str
    weight: DecimalStr
    mandatory: bool
    assumed: bool = Field(description="the indicator row is not from the official pedoman")
    level: int | None = Field(ge=1, le=3)
    evidence: EvidenceState
    status: AnswerStatus
    points: DecimalStr = Field(description="points counted in this figure")
    potential_points: DecimalStr = Field(description="points the level is worth once its evidence counts")
    iid_points: DecimalStr = Field(description="what the answer adds to the IID")


class ExplainedInnovation(_Report):
    id: str
    name: str | None
    agency: str | None
    status: str
    urusan_utama: str
    counted: bool
    maturity: DecimalStr = Field(description="SID points counted in this figure, at most 111")
    iid_points: DecimalStr
    answers: list[ExplainedAnswer]


class AnswerRef(_Report):
    """An answer to act on: an SID answer of an innovation, or an SPD answer (innovation null)."""

    innovation: str | None
    indicator: str
    name: str
    reason: str | None = None


class CategoryRef(_Report):
    id: str
    label: str


class NextCategory(CategoryRef):
    min: DecimalStr
    distance: DecimalStr = Field(description="IID points still needed")


class SjiExplanation(_Report):
    innovations_counted: int
    basic_services_covered: list[str]
    basic_services_missing: list[str]
    required: int = Field(description="basic services an SJI needs covered")
    points: DecimalStr
    iid_points: DecimalStr


class Explanation(_Report):
    region: str
    figure: Figure
    methodology: str
    score: FigureValues
    category: CategoryRef
    next_category: NextCategory | None
    sid_divisor: int = Field(ge=1)
    spd: list[ExplainedAnswer]
    innovations: list[ExplainedInnovation]
    sji: SjiExplanation
    missing: list[AnswerRef]
    pending: list[AnswerRef]
    rejected: list[AnswerRef]


def answer_status(answer: Answer | None, threshold: int) -> AnswerStatus:
    """Why an answer does or does not count in a figure."""
    level, rank = answer if answer is not None else (None, 0)
    if level is None:
        return "unanswered"
    if rank >= threshold:
        return "counted"
    if rank == 0:
        return "no_evidence"
    return "evidence_pending" if rank == EVIDENCE_RANK["pending"] else "evidence_rejected"


@dataclass
class _Explainer:
    """Explains the answers of one region in one figure, and gathers what needs acting on."""

    compiled: CompiledMethodology
    threshold: int
    divisor: int
    missing: list[AnswerRef]
    pending: list[AnswerRef]
    rejected: list[AnswerRef]

    def iid_points(self, points: Fraction) -> Decimal:
        return to_decimal(points * 100 * self.compiled.scale / self.compiled.total)

    def answer(
        self, indicator: Indicator, answer: Answer | None, innovation: Innovation | None, counts: bool
    ) -> ExplainedAnswer:
        """`counts`: the answer's innovation counts in the figure (SPD answers always do)."""
        level, rank = answer if answer is not None else (None, 0)
        status: AnswerStatus = answer_status(answer, self.threshold) if counts else "innovation_not_counted"
        points = Fraction(self.compiled.weight[indicator.code] * level, self.compiled.scale) if level else Fraction(0)
        counted = status == "counted"
        per = self.divisor if innovation is not None else 1
        self._note(indicator, level, rank, innovation.id if innovation is not None else None)
        return ExplainedAnswer(
            indicator=indicator.code,
            name=indicator.name,
            weight=indicator.weight,
            mandatory=indicator.mandatory,
            assumed=indicator.assumed,
            level=level,
            evidence=EVIDENCE_NAME[rank],
            status=status,
            points=to_decimal(points if counted else Fraction(0)),
            potential_points=to_decimal(points),
            iid_points=self.iid_points(points / per if counted else Fraction(0)),
        )

    def _note(self, indicator: Indicator, level: int | None, rank: int, innovation: str | None) -> None:
        """Remember an answer that needs acting on: missing evidence or a mandatory answer,
        evidence pending verification, evidence rejected."""
        ref = AnswerRef(innovation=innovation, indicator=indicator.code, name=indicator.name)
        if level is not None and rank == 0:
            self.missing.append(ref.model_copy(update={"reason": "level set but no evidence uploaded"}))
        elif level is None and indicator.mandatory:
            self.missing.append(ref.model_copy(update={"reason": "mandatory indicator not answered"}))
        elif level is not None and rank == EVIDENCE_RANK["pending"]:
            self.pending.append(ref)
        elif level is not None and rank == EVIDENCE_RANK["rejected"]:
            self.rejected.append(ref)

    def innovation(self, innovation: Innovation) -> ExplainedInnovation:
        tally = innovation.tally(self.compiled)
        counts = innovation.submitted and tally.counts_in(self.threshold)
        answers = [
            self.answer(i, innovation.answers.get(i.code), innovation, counts)
            for i in self.compiled.methodology.indicators_of("sid")
            if innovation.submitted or i.code in innovation.answers
        ]
        maturity = Fraction(tally.points_in(self.threshold), self.compiled.scale) if counts else Fraction(0)
        return ExplainedInnovation(
            id=innovation.id,
            name=innovation.name,
            agency=innovation.agency,
            status=innovation.status,
            urusan_utama=innovation.urusan_utama,
            counted=counts,
            maturity=to_decimal(maturity),
            iid_points=self.iid_points(maturity / self.divisor),
            answers=answers,
        )

    def sji(self, region: Region, score: FigureScore) -> SjiExplanation:
        covered = sorted(
            {
                i.urusan_utama
                for i in region.innovations.values()
                if i.submitted
                and i.tally(self.compiled).counts_in(self.threshold)
                and i.urusan_utama in self.compiled.basic_services
            }
        )
        return SjiExplanation(
            innovations_counted=score.innovations_counted,
            basic_services_covered=covered,
            basic_services_missing=sorted(self.compiled.basic_services - set(covered)),
            required=self.compiled.sji_required,
            points=to_decimal(score.sji),
            iid_points=self.iid_points(score.sji),
        )


def _categories(compiled: CompiledMethodology, score: FigureScore) -> tuple[CategoryRef, NextCategory | None]:
    methodology = compiled.methodology
    category = next(c for c in methodology.categories if c.id == score.category)
    above = methodology.next_category_above(score.category)
    next_category = (
        NextCategory(id=above.id, label=above.label, min=above.min, distance=above.min - score.iid)
        if above is not None else None
    )
    return CategoryRef(id=category.id, label=category.label), next_category


def explain_region(region: Region, compiled: CompiledMethodology, figure: Figure) -> Explanation:
    score = score_region(region, compiled).figures[figure]
    explainer = _Explainer(
        compiled,
        threshold=FIGURE_THRESHOLD[figure],
        divisor=max(compiled.divisor_floor, score.innovations_counted),
        missing=[],
        pending=[],
        rejected=[],
    )
    spd = [explainer.answer(i, region.spd.get(i.code), None, True) for i in compiled.methodology.indicators_of("spd")]
    innovations = [explainer.innovation(i) for i in region.innovations.values()]
    category, next_category = _categories(compiled, score)
    return Explanation(
        region=region.code,
        figure=figure,
        methodology=compiled.id,
        score=figure_values(score),
        category=category,
        next_category=next_category,
        sid_divisor=explainer.divisor,
        spd=spd,
        innovations=innovations,
        sji=explainer.sji(region, score),
        missing=explainer.missing,
        pending=explainer.pending,
        rejected=explainer.rejected,
    )


def render_explanation(report: Explanation) -> str:
    """A planner-readable text version of an explanation."""
    s = report.score
    out = [
        f"Region {report.region} — {report.figure} figure ({report.methodology})",
        f"IID {s.iid:.2f}: {report.category.label}",
        f"  SPD {s.spd:.2f} + SID average {s.sid_average:.2f} + SJI {s.sji:.2f} = {s.total:.2f} of 250",
    ]
    if report.next_category:
        nxt = report.next_category
        out.append(f"  {nxt.distance:.2f} IID points below {nxt.label} ({nxt.min:.2f})")
    sji = report.sji
    out.append(
        f"  {sji.innovations_counted} innovations counted (SID divisor {report.sid_divisor}); "
        f"basic services covered {len(sji.basic_services_covered)} of 6, {sji.required} needed for the SJI"
    )
    out.append("")
    out.append("SPD answers (points → IID points):")
    for a in report.spd:
        out.append(
            f"  {a.indicator:<8} {a.name[:48]:<48} L{a.level or '-'} {a.evidence:<8} "
            f"{a.points:6.2f} → {a.iid_points:5.2f}  {'' if a.status == 'counted' else a.status}"
        )
    out.append("")
    out.append("Innovations (maturity → IID points through the SID average):")
    for inv in sorted(report.innovations, key=lambda i: -i.iid_points):
        label = inv.name or inv.id
        state = "counted" if inv.counted else f"not counted ({inv.status})"
        out.append(f"  {label[:50]:<50} {inv.maturity:6.2f} → {inv.iid_points:5.2f}  {state}")
    for title, items in (("Missing", report.missing), ("Pending verification", report.pending),
                         ("Rejected", report.rejected)):
        if items:
            out.append("")
            out.append(f"{title} ({len(items)}):")
            for item in items[:50]:
                where = f"innovation {item.innovation}" if item.innovation else "SPD"
                reason = f" — {item.reason}" if item.reason else ""
                out.append(f"  {where}: {item.indicator} {item.name}{reason}")
            if len(items) > 50:
                out.append(f"  … and {len(items) - 50} more")
    return "\n".join(out)
