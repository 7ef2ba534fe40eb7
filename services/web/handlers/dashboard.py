"""The region dashboard (`/daerah/{code}`) and a region's profile (`/wilayah/{code}`).

Everything is read through the APIs as the signed-in person, so their tenancy rules hold; the
page checks the same rules first (`Principal.can_read_region`, and for the details
`can_read_region_details`). The figures are the score API's answer, unchanged. The dashboard
asks, all at once after the score: the history, intake's agencies' status and the region's
innovations, scoring's explanation (what is missing, pending, rejected) and its gap plan to
the next category, and evidence's rejected items (the verifier's reasons; not for a viewer,
whom evidence does not serve). A section whose service does not answer is marked
unavailable; only the score itself is needed for the page.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar, cast

from services.common.data.regions import RegionInfo, load_regions
from services.common.errors import Forbidden, NotFound, Unavailable
from services.web.adapters.api import (
    AgencyStatus,
    AnswerRef,
    DecidedEvidence,
    Explanation,
    GapPlan,
    RegionInnovation,
    Score,
    ScoreHistory,
)
from services.web.dependencies import WebDeps
from services.web.domain.chart import ScorePoint, history_chart
from services.web.domain.commands import RegionRef
from services.web.domain.region_texts import (
    INNOVATION_STATUS,
    TYPE_LABELS,
    answer_reason,
    category_labels,
    cause_label,
    gap_action_text,
    indicator_names,
    methodology_of,
)
from services.web.handlers.pages import principal_of
from services.web.handlers.shared import api_of
from services.web.views import (
    ActionItem,
    AgencyPanel,
    FigureName,
    FigureView,
    GapActionView,
    GapView,
    HistoryRow,
    HistoryView,
    InnovationItem,
    RankView,
    RegionPage,
    RegionProfilePage,
    ScoreView,
    SignedIn,
)

FIGURES: tuple[FigureName, ...] = ("claimed", "provisional", "validated")
HISTORY_LIMIT = 200  # score versions drawn in the chart
HISTORY_ROWS = 30  # and listed in its table
GAP_FIGURE: FigureName = "validated"  # the plan lifts the figure Kemendagri publishes

T = TypeVar("T")


def known_region(code: str) -> RegionInfo:
    info = load_regions().get(code)
    if info is None:
        raise NotFound.named("region")
    return info


# --- the score, its history ----------------------------------------------------------------


def _rank(rank: Any) -> RankView | None:
    return RankView(position=rank.position, of=rank.of) if rank is not None else None


def figure_views(score: Score, labels: dict[str, str]) -> list[FigureView]:
    views = []
    for name in FIGURES:
        figure = score.figure(name)
        views.append(FigureView(
            figure=name, iid=figure.iid, category=figure.category,
            category_label=labels.get(figure.category, figure.category),
            innovations_counted=figure.innovations_counted,
            rank_type=_rank(figure.ranks.type), rank_province=_rank(figure.ranks.province),
        ))
    return views


def score_view(info: RegionInfo, score: Score, labels: dict[str, str]) -> ScoreView:
    province = None if info.type == "provinsi" else info.province_code
    return ScoreView(
        region=info.code, name=info.name, type=info.type, type_label=TYPE_LABELS.get(info.type, info.type),
        province=province, province_name=info.province_name if province else None, version=score.version,
        computed_at=score.computed_at, figures=figure_views(score, labels),
    )


def history_view(deps: WebDeps, history: ScoreHistory, cycle: int) -> HistoryView:
    scores = [s for s in history.scores if s.version > 0]  # newest first
    rows = [
        HistoryRow(at=s.computed_at, version=s.version, cause=cause_label(s.cause_type),
                   claimed=s.claimed.iid, provisional=s.provisional.iid, validated=s.validated.iid)
        for s in scores
    ]
    points = [ScorePoint(at=s.computed_at, iids={f: s.figure(f).iid for f in FIGURES})
              for s in reversed(scores) if s.computed_at is not None]
    methodology = methodology_of(cycle)
    thresholds = [(c.label, c.min) for c in methodology.categories[:-2]] if methodology is not None else []
    chart = history_chart(points, deps.clock(), thresholds, deps.settings.web_timezone)
    return HistoryView(chart=chart, rows=rows[:HISTORY_ROWS], first=rows[-1] if rows else None,
                       last=rows[0] if rows else None, more=len(rows) > HISTORY_ROWS)


async def _optional(call: Awaitable[T], section: str, unavailable: list[str]) -> T | None:
    """A section's data, or None (the section named unavailable) when its service does not
    answer or does not serve this person."""
    try:
        return await call
    except (Unavailable, NotFound, Forbidden):
        unavailable.append(section)
        return None


async def _none() -> None:
    return None


# --- the dashboard ---------------------------------------------------------------------------


async def region_page(deps: WebDeps, person: SignedIn, ref: RegionRef) -> RegionPage:
    """The region dashboard: for the region's own people, its province's admin, national;
    the details (agencies, what to act on, the gap plan) not for an operator."""
    info = known_region(ref.code)
    principal = principal_of(person)
    if not principal.can_read_region(info.code):
        raise Forbidden("this region's dashboard is not yours to see")
    cycle, api = deps.settings.web_cycle, api_of(deps, person)
    labels = category_labels(cycle)
    score = await api.region_score(cycle, info.code)
    details = principal.can_read_region_details(info.code)
    methodology = methodology_of(cycle)
    above = methodology.next_category_above(score.validated.category) if methodology is not None else None
    unavailable: list[str] = []
    wanted: list[Awaitable[Any]] = [
        _optional(api.region_history(cycle, info.code, HISTORY_LIMIT), "history", unavailable),
    ]
    if details:
        wanted += [
            _optional(api.agency_status(cycle, info.code), "agencies", unavailable),
            _optional(api.region_innovations(cycle, info.code), "agencies", unavailable),
            _optional(api.explanation(cycle, info.code, GAP_FIGURE), "agencies", unavailable),
            # Viewers read scores, not evidence: the reasons of rejections are not theirs.
            _optional(api.decided_evidence(cycle, info.code, "rejected"), "reasons", unavailable)
            if principal.role != "viewer" else _none(),
            _optional(api.gap_plan(cycle, info.code, above.id, GAP_FIGURE), "gap", unavailable)
            if above is not None else _none(),
        ]
    found = await asyncio.gather(*wanted)
    history = cast(ScoreHistory | None, found[0])
    page: dict[str, Any] = {}
    if details:
        status, innovations, explanation, rejected, gap = found[1:]
        names = indicator_names(cycle)
        report = _Report(cast(AgencyStatus | None, status), cast(list[RegionInnovation] | None, innovations),
                         cast(Explanation | None, explanation), cast(list[DecidedEvidence] | None, rejected) or [])
        page = {
            "agencies": report.panels() if status is not None else [],
            "not_reported": len(cast(AgencyStatus, status).not_reported) if status is not None else 0,
            "spd": report.spd_panel(),
            "gap": report.gap(cast(GapPlan | None, gap), labels, names, above.label if above else ""),
            "top_category": above is None,
        }
    view = score_view(info, score, labels)
    return RegionPage(
        person=person, code=info.code, name=info.name, cycle=cycle, version=score.version, score=view,
        figures=view.figures, history=history_view(deps, history, cycle) if history is not None else None,
        live_url=f"/daerah/{info.code}/langsung", details=details, unavailable=sorted(set(unavailable)), **page,
    )


class _Report:
    """The dashboard's agencies and plan, from what intake, scoring and evidence answered."""

    def __init__(self, status: AgencyStatus | None, innovations: Sequence[RegionInnovation] | None,
                 explanation: Explanation | None, rejected: Sequence[DecidedEvidence]) -> None:
        self.status = status
        self.innovations = {i.id: i for i in innovations or ()}
        self.explained = {i.id: i for i in explanation.innovations} if explanation is not None else {}
        self.explanation = explanation
        # The verifier's reason of each rejected answer (the latest decision wins).
        ordered = sorted(rejected, key=lambda e: e.decided_at.timestamp() if e.decided_at is not None else 0.0)
        self.reasons = {(e.innovation, e.indicator): e.reason for e in ordered if e.reason}
        self.agency_names = {a.id: a.name for a in status.agencies} if status is not None else {}

    def innovation_name(self, innovation: str | None) -> str | None:
        if innovation is None:
            return None
        if innovation in self.innovations:
            return self.innovations[innovation].name
        explained = self.explained.get(innovation)
        return (explained.name if explained is not None else None) or innovation

    def agency_of(self, innovation: str | None) -> str | None:
        if innovation is None:
            return None
        if innovation in self.innovations:
            return self.innovations[innovation].agency_id
        explained = self.explained.get(innovation)
        return explained.agency if explained is not None else None

    def _withdrawn(self, innovation: str | None) -> bool:
        status = (self.innovations.get(innovation or "") or self.explained.get(innovation or ""))
        return status is not None and status.status == "withdrawn"

    def _items(self, refs: Sequence[AnswerRef], kind: str) -> list[tuple[str | None, ActionItem]]:
        """(agency, item) of each answer to act on; none of a withdrawn innovation."""
        items = []
        for ref in refs:
            if self._withdrawn(ref.innovation):
                continue
            note = self.reasons.get((ref.innovation, ref.indicator)) if kind == "rejected" else answer_reason(
                ref.reason)
            items.append((self.agency_of(ref.innovation), ActionItem(
                innovation=ref.innovation, innovation_name=self.innovation_name(ref.innovation),
                indicator=ref.indicator, indicator_name=ref.name, note=note,
            )))
        return items

    def _grouped(self) -> dict[str, dict[str | None, list[ActionItem]]]:
        explanation = self.explanation
        grouped: dict[str, dict[str | None, list[ActionItem]]] = {"missing": {}, "pending": {}, "rejected": {}}
        if explanation is None:
            return grouped
        for kind, refs in (("missing", explanation.missing), ("pending", explanation.pending),
                           ("rejected", explanation.rejected)):
            for agency, item in self._items(refs, kind):
                key = agency if item.innovation is not None else None
                grouped[kind].setdefault(key, []).append(item)
        return grouped

    def panels(self) -> list[AgencyPanel]:
        """Each agency, those without a submitted innovation first, then those with the most
        to act on."""
        if self.status is None:
            return []
        grouped = self._grouped()
        panels = []
        for agency in self.status.agencies:
            innovations = sorted(
                (i for i in self.innovations.values() if i.agency_id == agency.id), key=lambda i: (i.status, i.name)
            )
            panels.append(AgencyPanel(
                id=agency.id, name=agency.name, reported=agency.reported, draft=agency.innovations.draft,
                submitted=agency.innovations.submitted, withdrawn=agency.innovations.withdrawn,
                innovations=[InnovationItem(id=i.id, name=i.name, status=i.status,
                                            status_label=INNOVATION_STATUS.get(i.status, i.status))
                             for i in innovations],
                missing=grouped["missing"].get(agency.id, []), pending=grouped["pending"].get(agency.id, []),
                rejected=grouped["rejected"].get(agency.id, []),
            ))
        return sorted(panels, key=lambda p: (p.reported, -p.open_items, p.name.casefold()))

    def spd_panel(self) -> AgencyPanel | None:
        """The region's own SPD answers to act on (the region admin answers them)."""
        if self.explanation is None:
            return None
        grouped = self._grouped()
        return AgencyPanel(
            id="spd", name="Indikator SPD daerah", reported=True, missing=grouped["missing"].get(None, []),
            pending=grouped["pending"].get(None, []), rejected=grouped["rejected"].get(None, []),
        )

    def gap(self, plan: GapPlan | None, labels: dict[str, str], names: dict[str, str],
            target_label: str) -> GapView | None:
        if plan is None:
            return None
        actions = []
        for action in plan.actions:
            indicator_name = names.get(action.indicator, action.indicator)
            agency = self.agency_of(action.innovation)
            actions.append(GapActionView(
                kind=action.kind,
                text=gap_action_text(action.kind, indicator_name, action.level_before, action.level_after,
                                     action.evidence_before),
                innovation=action.innovation, innovation_name=self.innovation_name(action.innovation),
                agency_name=self.agency_names.get(agency or "", agency), indicator=action.indicator,
                indicator_name=indicator_name, iid_after=action.iid_after,
            ))
        more = plan.more_innovations
        reached = plan.reached
        return GapView(
            figure=GAP_FIGURE, target=plan.target.label, target_label=labels.get(plan.target.label, target_label),
            target_min=plan.target.iid, iid_now=plan.iid_now, reached=reached, actions=actions,
            iid_after_actions=plan.iid_after_actions,
            more_count=more.count if more is not None and not reached else None,
            more_maturity=more.maturity if more is not None and not reached else None,
            more_iid_after=more.iid_after if more is not None and not reached else None,
        )


# --- a region's profile ------------------------------------------------------------------------


async def region_profile_page(deps: WebDeps, person: SignedIn, ref: RegionRef) -> RegionProfilePage:
    """Any region's figures, ranks and history, for everyone signed in (the score API serves
    them to every role); the link to its dashboard for those who may open it."""
    info = known_region(ref.code)
    cycle, api = deps.settings.web_cycle, api_of(deps, person)
    labels = category_labels(cycle)
    score = await api.region_score(cycle, info.code)
    unavailable: list[str] = []
    history = await _optional(api.region_history(cycle, info.code, HISTORY_LIMIT), "history", unavailable)
    view = score_view(info, score, labels)
    may_open = principal_of(person).can_read_region(info.code)
    return RegionProfilePage(
        person=person, code=info.code, name=info.name, cycle=cycle, score=view, figures=view.figures,
        history=history_view(deps, history, cycle) if history is not None else None,
        dashboard_href=f"/daerah/{info.code}" if may_open else None, unavailable=unavailable,
    )
