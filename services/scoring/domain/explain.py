"""Why a region stands where it does, for one figure: each answer's contribution in points and
in IID points, what is missing, pending or rejected, and the distance to the next category."""

from __future__ import annotations

from fractions import Fraction

from .dataset import EVIDENCE_RANK
from .engine import FIGURE_THRESHOLD, Answer, CompiledMethodology, Figure, Region, score_region

EVIDENCE_NAME = {rank: name for name, rank in EVIDENCE_RANK.items()}


def answer_status(answer: Answer | None, threshold: int) -> str:
    """Why an answer does or does not count in a figure."""
    level, rank = answer if answer is not None else (None, 0)
    if level is None:
        return "unanswered"
    if rank >= threshold:
        return "counted"
    if rank == 0:
        return "no_evidence"
    return "evidence_pending" if rank == EVIDENCE_RANK["pending"] else "evidence_rejected"


def _iid_points(points: Fraction, compiled: CompiledMethodology) -> Fraction:
    return points * 100 * compiled.scale / compiled.total


def explain_region(region: Region, compiled: CompiledMethodology, figure: Figure) -> dict:
    methodology = compiled.methodology
    threshold = FIGURE_THRESHOLD[figure]
    score = score_region(region, compiled).figures[figure]
    divisor = max(compiled.divisor_floor, score.innovations_counted)
    missing: list[dict] = []
    pending: list[dict] = []
    rejected: list[dict] = []

    def line(answer: Answer | None, code: str, per: int, where: str | None, counts_here: bool) -> dict:
        indicator = methodology.indicator_by_code[code]
        level, rank = answer if answer is not None else (None, 0)
        status = answer_status(answer, threshold) if counts_here else "innovation_not_counted"
        points = Fraction(compiled.weight[code] * level, compiled.scale) if level else Fraction(0)
        counted = status == "counted"
        contribution = points / per if counted else Fraction(0)
        item = {
            "indicator": code,
            "name": indicator.name,
            "weight": float(indicator.weight),
            "mandatory": indicator.mandatory,
            "assumed": indicator.assumed,
            "level": level,
            "evidence": EVIDENCE_NAME[rank],
            "status": status,
            "points": float(points) if counted else 0.0,
            "potential_points": float(points),
            "iid_points": float(_iid_points(contribution, compiled)),
        }
        ref = {"innovation": where, "indicator": code, "name": indicator.name}
        if level is not None and rank == 0:
            missing.append({**ref, "reason": "level set but no evidence uploaded"})
        elif level is None and indicator.mandatory:
            missing.append({**ref, "reason": "mandatory indicator not answered"})
        elif level is not None and rank == EVIDENCE_RANK["pending"]:
            pending.append(ref)
        elif level is not None and rank == EVIDENCE_RANK["rejected"]:
            rejected.append(ref)
        return item

    spd_lines = [
        line(region.spd.get(i.code), i.code, 1, None, True) for i in methodology.indicators_of("spd")
    ]
    innovations = []
    for innovation in region.innovations.values():
        tally = innovation.tally(compiled)
        counts = innovation.submitted and tally.counts_in(threshold)
        answers = [
            line(innovation.answers.get(i.code), i.code, divisor, innovation.id, counts)
            for i in methodology.indicators_of("sid")
            if innovation.submitted or i.code in innovation.answers
        ]
        maturity = Fraction(tally.points_in(threshold), compiled.scale) if counts else Fraction(0)
        innovations.append(
            {
                "id": innovation.id,
                "name": innovation.name,
                "agency": innovation.agency,
                "status": innovation.status,
                "urusan_utama": innovation.urusan_utama,
                "counted": counts,
                "maturity": float(maturity),
                "iid_points": float(_iid_points(maturity / divisor, compiled)),
                "answers": answers,
            }
        )

    covered_codes = sorted(
        {
            i.urusan_utama
            for i in region.innovations.values()
            if i.submitted and i.tally(compiled).counts_in(threshold) and i.urusan_utama in compiled.basic_services
        }
    )
    category = methodology.categories[[c.id for c in methodology.categories].index(score.category)]
    above = methodology.next_category_above(score.category)
    return {
        "code": region.code,
        "figure": figure,
        "methodology": compiled.id,
        "score": score.as_json(),
        "category": {"id": category.id, "label": category.label},
        "next_category": (
            {
                "id": above.id,
                "label": above.label,
                "min": float(above.min),
                "distance": float(above.min - score.iid),
            }
            if above
            else None
        ),
        "sid_divisor": divisor,
        "spd": spd_lines,
        "innovations": innovations,
        "sji": {
            "innovations_counted": score.innovations_counted,
            "basic_services_covered": covered_codes,
            "basic_services_missing": sorted(compiled.basic_services - set(covered_codes)),
            "required": compiled.sji_required,
            "points": float(score.sji),
            "iid_points": float(_iid_points(score.sji, compiled)),
        },
        "missing": missing,
        "pending": pending,
        "rejected": rejected,
    }


def render_explanation(report: dict) -> str:
    """A planner-readable text version of `explain_region`."""
    s = report["score"]
    out = [
        f"Region {report['code']} — {report['figure']} figure ({report['methodology']})",
        f"IID {s['iid']:.2f}: {report['category']['label']}",
        f"  SPD {s['spd']:.2f} + SID average {s['sid_average']:.2f} + SJI {s['sji']:.2f} = {s['total']:.2f} of 250",
    ]
    nxt = report["next_category"]
    if nxt:
        out.append(f"  {nxt['distance']:.2f} IID points below {nxt['label']} ({nxt['min']:.2f})")
    sji = report["sji"]
    out.append(
        f"  {sji['innovations_counted']} innovations counted (SID divisor {report['sid_divisor']}); "
        f"basic services covered {len(sji['basic_services_covered'])} of 6, {sji['required']} needed for the SJI"
    )
    out.append("")
    out.append("SPD answers (points → IID points):")
    for a in report["spd"]:
        out.append(
            f"  {a['indicator']:<8} {a['name'][:48]:<48} L{a['level'] or '-'} {a['evidence']:<8} "
            f"{a['points']:6.2f} → {a['iid_points']:5.2f}  {'' if a['status'] == 'counted' else a['status']}"
        )
    out.append("")
    out.append("Innovations (maturity → IID points through the SID average):")
    for inv in sorted(report["innovations"], key=lambda i: -i["iid_points"]):
        label = inv["name"] or inv["id"]
        state = "counted" if inv["counted"] else f"not counted ({inv['status']})"
        out.append(f"  {label[:50]:<50} {inv['maturity']:6.2f} → {inv['iid_points']:5.2f}  {state}")
    for title, key in (("Missing", "missing"), ("Pending verification", "pending"), ("Rejected", "rejected")):
        items = report[key]
        if items:
            out.append("")
            out.append(f"{title} ({len(items)}):")
            for item in items[:50]:
                where = f"innovation {item['innovation']}" if item["innovation"] else "SPD"
                reason = f" — {item['reason']}" if "reason" in item else ""
                out.append(f"  {where}: {item['indicator']} {item['name']}{reason}")
            if len(items) > 50:
                out.append(f"  … and {len(items) - 50} more")
    return "\n".join(out)
