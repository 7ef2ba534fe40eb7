"""An operator's work: its agency's innovations, the profile form, the SID answers, evidence
uploads, submit and withdraw — all through intake's and evidence's APIs as the operator
(their tenancy rules, their validation), and what an innovation adds to the region's IID.

Each page builder checks on the server that the person is an operator; the APIs answer
another agency's innovation with 404 whatever the page does."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable

from services.common.errors import (
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    Problem,
    StaleVersion,
    Unavailable,
)
from services.common.methodology.catalogue import Indicator, load_urusan, methodology_for_cycle
from services.web.adapters.api import EvidenceItem, Innovation, PersonApi, ScoreBasis
from services.web.dependencies import WebDeps
from services.web.domain.score_effect import FIGURES, FigureBasis, score_effect
from services.web.domain.work import (
    AddLink,
    ChangeStatus,
    InnovationRef,
    PageQuery,
    SaveAnswers,
    SaveProfile,
    UploadFile,
    best_state,
    changed_answers,
    checklist,
    profile_body,
)
from services.web.handlers.shared import api_of
from services.web.views import (
    EffectView,
    EvidenceView,
    IndicatorBasis,
    IndicatorLevel,
    IndicatorView,
    InnovationFormPage,
    InnovationRow,
    InnovationsPage,
    RuleView,
    SignedIn,
    WorkChoice,
)

LIST_PAGE = 50
EVIDENCE_PAGES = 10  # × 500 items: far more than one innovation ever has
# What a file input offers for each evidence kind (the evidence service decides by content).
ACCEPT = {
    "pdf": "application/pdf,.pdf",
    "image": "image/png,image/jpeg,.png,.jpg,.jpeg",
    "video": "video/mp4,video/quicktime,.mp4,.mov",
}
MIN_RANCANG_BANGUN_WORDS = 300  # intake's rule, shown beside the field (intake enforces it)


def _operator(person: SignedIn) -> tuple[str, str]:
    """The operator's region and agency; any other role is refused."""
    account = person.account
    if account.role != "operator" or account.region is None or account.agency is None:
        raise Forbidden("this page is an operator's")
    return account.region, account.agency


# --- the list ---------------------------------------------------------------------------------


async def innovations_page(deps: WebDeps, person: SignedIn, query: PageQuery) -> InnovationsPage:
    region, agency = _operator(person)
    cycle = deps.settings.web_cycle
    api = api_of(deps, person)
    listing, agency_name = await asyncio.gather(
        api.agency_innovations(cycle, agency, after=query.after, limit=LIST_PAGE), _agency_name(api, region, agency)
    )
    methodology = methodology_for_cycle(cycle)
    mandatory = methodology.mandatory_codes("sid")
    urusan = {u.code: u.name for u in load_urusan().urusan}
    rows = [
        InnovationRow(
            id=item.id, name=item.name, status=item.status, version=item.version,
            urusan_utama=urusan.get(item.urusan_utama, item.urusan_utama), eligible=item.eligibility.eligible,
            open_rules=list(dict.fromkeys(p.rule for p in item.eligibility.problems)),
            mandatory_answered=sum(1 for code in mandatory if code in item.answers),
            mandatory_total=len(mandatory), updated_at=item.updated_at,
        )
        for item in listing.items
    ]
    return InnovationsPage(person=person, cycle=cycle, agency=agency, agency_name=agency_name, items=rows,
                           next_after=listing.next_after, after=query.after)


async def _agency_name(api: PersonApi, region: str, agency: str) -> str | None:
    try:
        agencies = await api.agencies(region)
    except (Unavailable, Forbidden, NotFound):
        return None
    return next((a.name for a in agencies if a.id == agency), None)


# --- the form page ------------------------------------------------------------------------------


def _choices() -> dict[str, list[WorkChoice]]:
    catalogue = load_urusan()
    return {name: [WorkChoice(value=o.id, label=o.label) for o in options]
            for name, options in catalogue.enumerations.items()}


def _urusan() -> list[WorkChoice]:
    return [WorkChoice(value=u.code, label=u.name, group=u.group) for u in load_urusan().urusan]


async def new_innovation_page(deps: WebDeps, person: SignedIn) -> InnovationFormPage:
    _operator(person)
    return InnovationFormPage(
        person=person, cycle=deps.settings.web_cycle, is_new=True, values={}, urusan_lain=[], choices=_choices(),
        urusan=_urusan(), max_upload_bytes=deps.settings.evidence_max_upload_bytes,
        idempotency_key=f"web-{uuid.uuid4().hex}", min_words=MIN_RANCANG_BANGUN_WORDS,
    )


async def innovation_page(deps: WebDeps, person: SignedIn, ref: InnovationRef) -> InnovationFormPage:
    """The innovation's form, answers, evidence, checklist and score effect. Evidence and the
    score are read beside it; if one of those services does not answer, its part says so and
    the rest of the page still works."""
    _operator(person)
    cycle = deps.settings.web_cycle
    api = api_of(deps, person)
    innovation = await api.innovation(cycle, ref.innovation_id)
    found_evidence, found_basis = await asyncio.gather(
        _evidence_of(api, innovation), _score_basis(api, innovation), return_exceptions=True
    )
    unavailable: list[str] = []
    evidence: list[EvidenceItem] = []
    basis: ScoreBasis | None = None
    if isinstance(found_evidence, BaseException):
        _only_unavailable(found_evidence)
        unavailable.append("evidence")
    else:
        evidence = found_evidence
    if isinstance(found_basis, BaseException):
        _only_unavailable(found_basis)
        unavailable.append("score")
    else:
        basis = found_basis
    methodology = methodology_for_cycle(innovation.cycle)
    by_indicator: dict[str, list[EvidenceItem]] = {}
    for item in evidence:
        by_indicator.setdefault(item.indicator, []).append(item)
    indicators = [_indicator_view(i, innovation.answers.get(i.code), by_indicator.get(i.code, []))
                  for i in methodology.indicators_of("sid")]
    rules = checklist([(p.rule, p.field, p.reason) for p in innovation.eligibility.problems])
    effects: list[EffectView] = []
    if basis is not None:
        states = {view.code: view.evidence_state for view in indicators}
        figures = {name: _basis_figure(basis, name) for name in FIGURES}
        for effect in score_effect(methodology, innovation.answers, states, innovation.status == "submitted",
                                   figures):
            effects.append(EffectView(
                figure=effect.figure, counted=effect.counted, potential=effect.potential,
                answers_counted=effect.answers_counted, maturity=effect.maturity, divisor=effect.divisor,
                sid_iid_points=effect.sid_iid_points, sji_iid_points=effect.sji_iid_points,
                iid_points=effect.iid_points, region_iid=effect.region_iid, region_category=effect.region_category,
            ))
    return InnovationFormPage(
        person=person, cycle=innovation.cycle, is_new=False, id=innovation.id, status=innovation.status,
        version=innovation.version, updated_at=innovation.updated_at, values=_values(innovation),
        urusan_lain=list(innovation.urusan_lain), rancang_bangun_words=innovation.rancang_bangun_words,
        min_words=MIN_RANCANG_BANGUN_WORDS, choices=_choices(), urusan=_urusan(), indicators=indicators,
        checklist=[RuleView(rule=r.rule, met=r.met, fields=list(r.fields), reasons=list(r.reasons)) for r in rules],
        eligible=innovation.eligibility.eligible, effects=effects,
        region_version=basis.version if basis is not None else 0, unavailable=unavailable,
        max_upload_bytes=deps.settings.evidence_max_upload_bytes,
    )


def _only_unavailable(error: BaseException) -> None:
    """A side part of the page may be unavailable; any other failure is the page's."""
    if not isinstance(error, Unavailable):
        raise error


def _values(innovation: Innovation) -> dict[str, str]:
    values: dict[str, str] = {"name": innovation.name, "urusan_utama": innovation.urusan_utama}
    for name in ("tahapan", "jenis", "bentuk", "inisiator", "rancang_bangun", "tujuan", "manfaat", "hasil"):
        values[name] = getattr(innovation, name) or ""
    for name in ("tanggal_uji_coba", "tanggal_penerapan"):
        value = getattr(innovation, name)
        values[name] = value.isoformat() if value is not None else ""
    return values


def _basis_figure(basis: ScoreBasis, name: str) -> FigureBasis:
    figure = getattr(basis, name)
    return FigureBasis(iid=figure.iid, category=figure.category, innovations_counted=figure.innovations_counted,
                       basic_services_covered=figure.basic_services_covered)


async def _score_basis(api: PersonApi, innovation: Innovation) -> ScoreBasis:
    return await api.score_basis(innovation.cycle, innovation.region)


async def _evidence_of(api: PersonApi, innovation: Innovation) -> list[EvidenceItem]:
    """The innovation's evidence items. The evidence service learns of an innovation from
    intake's events; until it has (a moment after creation), it lists by innovation as "not
    found", so then the agency's items of the region are listed and this one's kept."""
    try:
        return await _all_evidence(api, innovation.cycle, innovation=innovation.id)
    except NotFound:
        items = await _all_evidence(api, innovation.cycle, region=innovation.region)
        return [item for item in items if item.innovation == innovation.id]


async def _all_evidence(api: PersonApi, cycle: int, *, innovation: str | None = None,
                        region: str | None = None) -> list[EvidenceItem]:
    found: list[EvidenceItem] = []
    after: str | None = None
    for _ in range(EVIDENCE_PAGES):
        page = await api.evidence_list(cycle, innovation=innovation, region=region, after=after, limit=500)
        found += page.items
        after = page.next_after
        if not after:
            break
    return found


def evidence_view(item: EvidenceItem) -> EvidenceView:
    return EvidenceView(
        id=item.id, kind=item.kind, state=item.state, reason=item.reason, size=item.size,
        content_type=item.content_type, link=item.link, uploaded_at=item.uploaded_at, decided_at=item.decided_at,
        file_url=f"/bukti/{item.id}/berkas" if item.kind != "link" else None,
    )


def _levels(options: Iterable[object]) -> list[IndicatorLevel]:
    return [IndicatorLevel(level=o.level, label=o.label) for o in options]  # type: ignore[attr-defined]


def _indicator_view(indicator: Indicator, level: int | None, items: list[EvidenceItem]) -> IndicatorView:
    kinds: list[str] = list(indicator.evidence.kinds) if indicator.evidence is not None else ["pdf", "image"]
    accept = ",".join(ACCEPT[kind] for kind in kinds if kind in ACCEPT)
    return IndicatorView(
        code=indicator.code, number=indicator.number, name=indicator.name, variable=indicator.variable,
        weight=indicator.weight, mandatory=indicator.mandatory, assumed=indicator.assumed,
        levels=_levels(indicator.levels),
        bases=[IndicatorBasis(id=b.id, name=b.name, levels=_levels(b.levels)) for b in indicator.bases],
        level=level, evidence_rule=indicator.evidence.description if indicator.evidence is not None else None,
        kinds=kinds, accept=accept, accepts_file=bool(accept), accepts_link="link" in kinds,
        items=[evidence_view(item) for item in items], evidence_state=best_state([item.state for item in items]),
    )


# --- changes ------------------------------------------------------------------------------------


async def save_profile(deps: WebDeps, person: SignedIn, command: SaveProfile) -> Innovation:
    """Create the innovation (a draft) or replace its profile, with the version the form was
    filled in on: a stale one is intake's 412 (StaleVersion), for the page to say so."""
    _operator(person)
    cycle = deps.settings.web_cycle
    api = api_of(deps, person)
    body = profile_body(command.values, command.urusan_lain)
    if command.ref is None:
        return await api.create_innovation(cycle, body, command.idempotency_key)
    return await api.update_innovation(cycle, command.ref.innovation_id, command.version, body)


async def save_answers(deps: WebDeps, person: SignedIn, command: SaveAnswers) -> Innovation:
    """Send the answers that changed, one by one, each with the version the previous one
    returned, starting from the form's: if the innovation changed since the form was read,
    the first is refused as stale and nothing is saved."""
    _operator(person)
    cycle = deps.settings.web_cycle
    api = api_of(deps, person)
    sid = {i.code for i in methodology_for_cycle(cycle).indicators_of("sid")}
    wanted = {code: level for code, level in command.levels.items() if code in sid}
    bad = [code for code, level in wanted.items() if level not in (None, 1, 2, 3)]
    if bad:
        raise InvalidInput(problems=[Problem(code, "level must be 1, 2 or 3") for code in bad])
    innovation = await api.innovation(cycle, command.ref.innovation_id)
    version = command.version
    if version is not None and version != innovation.version:
        # Someone changed it since: sending this form's levels would undo their change.
        raise StaleVersion(reason="the innovation changed since the form was read",
                           current_version=innovation.version)
    for code, level in changed_answers(innovation.answers, wanted):
        try:
            innovation = await api.set_answer(cycle, innovation.id, version, code, level)
        except InvalidInput as error:
            raise _at_answer(error, code) from None
        version = innovation.version
    return innovation


def _at_answer(error: DomainError, code: str) -> InvalidInput:
    """Intake's refusal of one answer, named at that answer (`body.level` → the indicator;
    eligibility's `answers.sid-16` → sid-16)."""
    problems = [
        Problem(p.field.removeprefix("answers.") if p.field.startswith("answers.") else code, p.reason)
        for p in error.problems
    ] or [Problem(code, error.reason or "refused")]
    return InvalidInput(problems=problems, reason=error.reason, code=error.code)


async def change_status(deps: WebDeps, person: SignedIn, command: ChangeStatus) -> Innovation:
    """Submit (intake checks eligibility first: a 422 names every rule it breaks) or withdraw."""
    _operator(person)
    return await api_of(deps, person).change_status(
        deps.settings.web_cycle, command.ref.innovation_id, command.version, command.action
    )


async def upload_file(deps: WebDeps, person: SignedIn, command: UploadFile) -> EvidenceItem:
    """A file for one answer, streamed through to the evidence service with the innovation's
    upload grant (read from intake now, so it is fresh, and for an innovation the operator
    may see: another agency's is "not found" before a byte is sent on)."""
    _operator(person)
    cycle = deps.settings.web_cycle
    api = api_of(deps, person)
    innovation = await api.innovation(cycle, command.ref.innovation_id)
    return await api.upload_evidence(cycle, innovation.id, command.indicator, innovation.upload_grant,
                                     command.body, command.content_type, command.length)


async def add_link(deps: WebDeps, person: SignedIn, command: AddLink) -> EvidenceItem:
    """A link (the video indicator's) as one answer's evidence."""
    _operator(person)
    cycle = deps.settings.web_cycle
    api = api_of(deps, person)
    innovation = await api.innovation(cycle, command.ref.innovation_id)
    return await api.upload_link(cycle, innovation.id, command.indicator, innovation.upload_grant,
                                 command.link.strip())


__all__ = [
    "add_link", "change_status", "evidence_view", "innovation_page", "innovations_page", "new_innovation_page",
    "save_answers", "save_profile", "upload_file",
]
