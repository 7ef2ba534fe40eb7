"""Gap analysis: the fewest actions on a region's existing answers that lift a figure to a
target category or IID, each with the IID after it.

Each step takes the action with the largest real effect, computed with the engine's own
formula (so an innovation that starts to count with a low maturity, which can lower the SID
average, is valued correctly). When existing answers cannot reach the target, the analysis
says so and how many more innovations of a given maturity would.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from itertools import chain
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.common.events import DecimalStr
from services.scoring.domain.dataset import EVIDENCE_RANK, EvidenceState
from services.scoring.domain.engine import (
    FIGURE_THRESHOLD,
    Aggregate,
    CompiledMethodology,
    Figure,
    FigureScore,
    Innovation,
    Region,
    aggregate,
    figure_from_aggregate,
)

ActionKind = Literal["raise_level", "accept_evidence", "add_evidence", "answer"]
EVIDENCE_NAME: dict[int, EvidenceState] = {rank: name for name, rank in EVIDENCE_RANK.items()}
ACCEPTED = EVIDENCE_RANK["accepted"]
PENDING = EVIDENCE_RANK["pending"]
MAX_ACTIONS = 300
MAX_EXTRA_INNOVATIONS = 2000
TEXT_ACTIONS = 25  # the text report lists this many; JSON lists all


_PLAIN_NUMBER = re.compile(r"[0-9]{1,3}(\.[0-9]{1,2})?")  # ASCII digits only: no "1_0", no "٣٠"


class TargetError(ValueError):
    """A target that is neither a category of the methodology nor an IID from 0 to 100."""


def parse_target(text: str, compiled: CompiledMethodology) -> tuple[int, str]:
    """A category id or label (`inovatif`, `Sangat Inovatif`) or an IID (`45.5`) → hundredths."""
    wanted = text.strip().lower().replace(" ", "_").replace("-", "_")
    for category in compiled.methodology.categories:
        if wanted in (category.id, category.label.lower().replace(" ", "_")):
            return int(category.min * 100), category.id
    number = text.strip()
    if not _PLAIN_NUMBER.fullmatch(number):
        ids = ", ".join(c.id for c in compiled.methodology.categories)
        raise TargetError(f"target {text!r} is neither a category ({ids}) nor an IID such as 45.5")
    value = Decimal(number)
    if not value.is_finite() or not (0 <= value <= 100):
        raise TargetError(f"target IID {text!r} must be between 0 and 100")
    hundredths = int((value * 100).to_integral_value(rounding="ROUND_CEILING"))
    return hundredths, f"IID {Decimal(hundredths).scaleb(-2)}"


class _Report(BaseModel):
    model_config = ConfigDict(frozen=True, json_schema_serialization_defaults_required=True)


class GapAction(_Report):
    """One change to one answer, and the IID once it (and every action before it) is done."""

    kind: ActionKind
    innovation: str | None = Field(description="null for an SPD answer")
    indicator: str
    level_before: int | None
    level_after: int = Field(ge=1, le=3)
    evidence_before: EvidenceState
    evidence_after: EvidenceState = Field(description="rejected evidence stays so when only the level rises")
    iid_after: DecimalStr

    def describe(self) -> str:
        """The action in words."""
        where = f"innovation {self.innovation}" if self.innovation else "SPD"
        code = self.indicator
        if self.kind == "raise_level":
            what = f"raise {code} from level {self.level_before} to {self.level_after}"
        elif self.kind == "accept_evidence":
            what = f"get the {self.evidence_before} evidence of {code} accepted"
        elif self.kind == "add_evidence":
            what = f"upload evidence for {code} (level {self.level_after})"
        else:
            what = f"answer {code} at level {self.level_after} with evidence"
        return f"{where}: {what}"


class GapTarget(_Report):
    label: str = Field(description="the category id, or `IID 45.50` for a number")
    iid: DecimalStr


class MoreInnovations(_Report):
    maturity: DecimalStr = Field(description="assumed maturity of each new innovation")
    count: int | None = Field(description="null: no number of such innovations reaches the target")
    iid_after: DecimalStr
    assumes: str


class GapPlan(_Report):
    region: str
    figure: Figure
    methodology: str
    target: GapTarget
    iid_now: DecimalStr
    category_now: str
    reached: bool = Field(description="the actions, applied, reach the target")
    existing_answers_reach_target: bool
    actions: list[GapAction]
    iid_after_actions: DecimalStr
    more_innovations: MoreInnovations | None


def _set_answer(region: Region, innovation: str | None, code: str, level: int, rank: int) -> None:
    if innovation is None:
        region.spd[code] = (level, rank)
    else:
        region.innovations[innovation].set_answer(code, level, rank)


def apply_actions(region: Region, actions: Sequence[GapAction]) -> None:
    """Apply a plan's actions to a region."""
    for action in actions:
        rank = EVIDENCE_RANK[action.evidence_after]
        _set_answer(region, action.innovation, action.indicator, action.level_after, rank)


@dataclass(frozen=True, slots=True)
class _Candidate:
    kind: ActionKind
    innovation: str | None
    indicator: str
    level_before: int | None
    rank_before: int
    level_after: int
    rank_after: int


def _options(level: int | None, rank: int, threshold: int) -> list[tuple[ActionKind, int, int]]:
    """The one-step changes of one answer that can raise a figure: (kind, level, rank)."""
    evidence_rank = ACCEPTED if threshold == ACCEPTED else PENDING
    if level is None:
        return [("answer", lv, evidence_rank) for lv in (1, 2, 3)]
    if rank >= threshold:
        return [("raise_level", lv, rank) for lv in range(level + 1, 4)]
    if rank == 0:
        return [("add_evidence", level, evidence_rank)]
    return [("accept_evidence", level, ACCEPTED)]


class _Evaluator:
    """Caches the exact IID of an aggregate: many candidates lead to the same one."""

    def __init__(self, compiled: CompiledMethodology):
        self.compiled = compiled
        self.cache: dict[tuple[int, int, int, int], tuple[Fraction, int]] = {}

    def iid(self, spd: int, n: int, total: int, basic: dict[str, int], extra_basic: str | None) -> tuple[Fraction, int]:
        covered = sum(1 for c in basic.values() if c > 0)
        if extra_basic is not None and basic.get(extra_basic, 0) == 0:
            covered += 1
        key = (spd, n, total, covered)
        found = self.cache.get(key)
        if found is None:
            # Only the number of covered services matters to the formula.
            fake_basic = {str(k): 1 for k in range(covered)}
            score = figure_from_aggregate(Aggregate(spd, n, total, fake_basic), self.compiled)
            found = self.cache[key] = (score.iid_exact, score.iid_hundredths)
        return found


CandidateKey = tuple[Fraction, int, int]


@dataclass(frozen=True, slots=True)
class _Outcome:
    """The aggregate a candidate action leads to (SPD points, innovations counted, their
    maturity sum, and a basic service it would newly cover)."""

    spd_points: int
    n: int
    maturity_sum: int
    extra_basic: str | None = None


def _spd_candidates(
    region: Region, compiled: CompiledMethodology, threshold: int, agg: Aggregate
) -> Iterator[tuple[_Candidate, _Outcome]]:
    weight = compiled.weight
    for indicator in compiled.methodology.indicators_of("spd"):
        code = indicator.code
        level, rank = region.spd.get(code, (None, 0))
        before = weight[code] * level if level is not None and rank >= threshold else 0
        for kind, new_level, new_rank in _options(level, rank, threshold):
            after = weight[code] * new_level if new_rank >= threshold else 0
            outcome = _Outcome(agg.spd_points - before + after, agg.n, agg.maturity_sum)
            yield _Candidate(kind, None, code, level, rank, new_level, new_rank), outcome


def _sid_candidates(
    innovation: Innovation, compiled: CompiledMethodology, threshold: int, agg: Aggregate
) -> Iterator[tuple[_Candidate, _Outcome]]:
    """Changes to one submitted innovation's answers. An innovation that does not count yet
    starts to count (n + 1) with its first counted answer, and may cover a basic service."""
    weight = compiled.weight
    tally = innovation.tally(compiled)
    counted_answers = sum(tally.counted[threshold:])
    maturity = tally.points_in(threshold)
    basic = innovation.urusan_utama if innovation.urusan_utama in compiled.basic_services else None
    for indicator in compiled.methodology.indicators_of("sid"):
        code = indicator.code
        level, rank = innovation.answers.get(code, (None, 0))
        counted_before = level is not None and rank >= threshold
        before = weight[code] * level if level is not None and counted_before else 0
        for kind, new_level, new_rank in _options(level, rank, threshold):
            counted_after = new_rank >= threshold
            after = weight[code] * new_level if counted_after else 0
            candidate = _Candidate(kind, innovation.id, code, level, rank, new_level, new_rank)
            if counted_answers > 0:
                yield candidate, _Outcome(agg.spd_points, agg.n, agg.maturity_sum - before + after)
            elif counted_answers - counted_before + counted_after > 0:
                total = agg.maturity_sum + maturity - before + after
                yield candidate, _Outcome(agg.spd_points, agg.n + 1, total, basic)


def _best_candidate(
    region: Region, compiled: CompiledMethodology, threshold: int, agg: Aggregate, evaluator: _Evaluator
) -> tuple[_Candidate | None, CandidateKey | None]:
    """The action with the highest IID after it; ties go to the cheaper-looking action
    (getting evidence accepted before raising a level), then to a stable order."""
    candidates = chain(
        _spd_candidates(region, compiled, threshold, agg),
        *(_sid_candidates(i, compiled, threshold, agg) for i in region.innovations.values() if i.submitted),
    )
    best: _Candidate | None = None
    best_key: CandidateKey | None = None
    for candidate, outcome in candidates:
        exact, _ = evaluator.iid(
            outcome.spd_points, outcome.n, outcome.maturity_sum, agg.basic_counts, outcome.extra_basic
        )
        key = (exact, -_KIND_ORDER[candidate.kind], -candidate.level_after)
        if best_key is None or key > best_key:
            best, best_key = candidate, key
    return best, best_key


_KIND_ORDER = {"accept_evidence": 0, "add_evidence": 1, "raise_level": 2, "answer": 3}


def _extra_innovations(
    agg: Aggregate, compiled: CompiledMethodology, target: int, maturity_scaled: int
) -> tuple[int | None, int]:
    """How many more counted innovations of a maturity reach the target; None if none do.

    New innovations are assumed to cover the missing basic services first, one each.
    """
    basic = dict(agg.basic_counts)
    missing = sorted(compiled.basic_services - {k for k, v in basic.items() if v > 0})
    n, total = agg.n, agg.maturity_sum
    best_seen = 0
    for extra in range(1, MAX_EXTRA_INNOVATIONS + 1):
        n += 1
        total += maturity_scaled
        if missing:
            basic[missing.pop()] = 1
        score = figure_from_aggregate(Aggregate(agg.spd_points, n, total, basic), compiled)
        best_seen = max(best_seen, score.iid_hundredths)
        if score.iid_hundredths >= target:
            return extra, score.iid_hundredths
    return None, best_seen


def _default_maturity(agg: Aggregate, compiled: CompiledMethodology) -> Decimal:
    """For hypothetical new innovations: like the region's current ones."""
    maturity = (
        Decimal(agg.maturity_sum) / compiled.scale / agg.n if agg.n else compiled.methodology.max_scores.sid / 2
    )
    return maturity.quantize(Decimal("0.01"))


def _greedy_actions(
    work: Region, compiled: CompiledMethodology, figure: Figure, target_hundredths: int
) -> tuple[list[GapAction], Aggregate, FigureScore]:
    """Take the action with the largest real effect until the target is reached or nothing
    on existing answers raises the figure; `work` is changed along the way."""
    threshold = FIGURE_THRESHOLD[figure]
    evaluator = _Evaluator(compiled)
    agg = aggregate(work, compiled, figure)
    current = figure_from_aggregate(agg, compiled)
    actions: list[GapAction] = []
    while current.iid_hundredths < target_hundredths and len(actions) < MAX_ACTIONS:
        candidate, key = _best_candidate(work, compiled, threshold, agg, evaluator)
        if candidate is None or key is None or key[0] <= current.iid_exact:
            break  # nothing left on existing answers that raises this figure
        _set_answer(work, candidate.innovation, candidate.indicator, candidate.level_after, candidate.rank_after)
        agg = aggregate(work, compiled, figure)
        current = figure_from_aggregate(agg, compiled)
        actions.append(
            GapAction(
                kind=candidate.kind,
                innovation=candidate.innovation,
                indicator=candidate.indicator,
                level_before=candidate.level_before,
                level_after=candidate.level_after,
                evidence_before=EVIDENCE_NAME[candidate.rank_before],
                evidence_after=EVIDENCE_NAME[candidate.rank_after],
                iid_after=current.iid,
            )
        )
    return actions, agg, current


def plan_gap(
    region: Region,
    compiled: CompiledMethodology,
    figure: Figure,
    target: str,
    maturity: Decimal | None = None,
) -> GapPlan:
    """The plan that lifts `figure` of `region` to `target`; the region is not changed."""
    target_hundredths, target_label = parse_target(target, compiled)
    work = copy.deepcopy(region)
    start_agg = aggregate(work, compiled, figure)
    start = figure_from_aggregate(start_agg, compiled)
    actions, agg, current = _greedy_actions(work, compiled, figure, target_hundredths)
    reached = current.iid_hundredths >= target_hundredths
    more = None
    if not reached:
        # New innovations are assumed to be like the region's current ones, before the actions.
        maturity = maturity if maturity is not None else _default_maturity(start_agg, compiled)
        count, best = _extra_innovations(agg, compiled, target_hundredths, int(maturity * compiled.scale))
        more = MoreInnovations(
            maturity=maturity,
            count=count,
            iid_after=Decimal(best).scaleb(-2),
            assumes="after every action above, each new innovation submitted with evidence counted in "
            "this figure; new innovations cover missing basic services first",
        )
    return GapPlan(
        region=region.code,
        figure=figure,
        methodology=compiled.id,
        target=GapTarget(label=target_label, iid=Decimal(target_hundredths).scaleb(-2)),
        iid_now=start.iid,
        category_now=start.category,
        reached=reached,
        existing_answers_reach_target=reached,
        actions=actions,
        iid_after_actions=current.iid,
        more_innovations=more,
    )


def render_gap(report: GapPlan) -> str:
    out = [
        f"Region {report.region} — {report.figure} figure ({report.methodology}): "
        f"IID {report.iid_now:.2f} ({report.category_now}), target {report.target.label} "
        f"({report.target.iid:.2f})"
    ]
    actions = report.actions
    if report.reached and not actions:
        out.append("The target is already reached.")
        return "\n".join(out)
    if actions:
        out.append(f"{len(actions)} action(s), largest effect first:")
        for k, a in enumerate(actions[:TEXT_ACTIONS], 1):
            out.append(f"  {k:>3}. {a.describe()} → IID {a.iid_after:.2f}")
        if len(actions) > TEXT_ACTIONS:
            out.append(f"  … and {len(actions) - TEXT_ACTIONS} more (all of them with --json)")
    if report.reached:
        out.append(f"Target reached: IID {report.iid_after_actions:.2f}.")
        return "\n".join(out)
    out.append(f"Existing answers cannot reach the target: at best IID {report.iid_after_actions:.2f}.")
    more = report.more_innovations
    if more is not None and more.count is not None:
        out.append(
            f"Adding {more.count} more innovation(s) of maturity {more.maturity:.2f} would reach "
            f"IID {more.iid_after:.2f} ({more.assumes})."
        )
    elif more is not None:
        out.append(
            f"Even many more innovations of maturity {more.maturity:.2f} would not reach it "
            f"(at best IID {more.iid_after:.2f}); raise the SPD answers or the maturity."
        )
    return "\n".join(out)
