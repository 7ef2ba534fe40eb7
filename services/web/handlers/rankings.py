"""`/peringkat`: the rankings of scoring's API — national or one province, by region type and
figure — searched by name or code on the server and shown a page at a time. Everyone signed
in reads rankings (the API serves them to every role); each region links to its profile."""

from __future__ import annotations

from urllib.parse import urlencode

from services.common.data.regions import load_regions
from services.web.dependencies import WebDeps
from services.web.domain.commands import RankingsQuery
from services.web.domain.rankings import (
    FIGURES,
    NATIONAL,
    PAGE_SIZE,
    TYPES,
    RankingChoice,
    choose,
    matches,
    page_of,
    provinces,
)
from services.web.domain.region_texts import TYPE_LABELS, category_labels
from services.web.handlers.shared import api_of
from services.web.views import FigureName, Option, RankingRow, RankingsPage, SignedIn

FIGURE_LABELS = {"claimed": "Klaim", "provisional": "Sementara", "validated": "Tervalidasi"}
BY_NAME: dict[str, FigureName] = {"claimed": "claimed", "provisional": "provisional", "validated": "validated"}


def _href(choice: RankingChoice, page: int) -> str:
    params = {"jenis": choice.type, "angka": choice.figure, "provinsi": choice.province or NATIONAL}
    if choice.search:
        params["cari"] = choice.search
    if page > 1:
        params["halaman"] = str(page)
    return "/peringkat?" + urlencode(params)


async def rankings_page(deps: WebDeps, person: SignedIn, query: RankingsQuery) -> RankingsPage:
    account = person.account
    choice = choose(account.role, account.region, jenis=query.jenis, angka=query.angka, provinsi=query.provinsi,
                    cari=query.cari, halaman=query.halaman)
    cycle = deps.settings.web_cycle
    ranking = await api_of(deps, person).rankings(cycle, choice.type, choice.figure, choice.province)
    labels = category_labels(cycle)
    own = account.region
    rows = [
        RankingRow(rank=r.rank, region=r.region, name=r.name, iid=r.iid, category=r.category,
                   category_label=labels.get(r.category, r.category), own=r.region == own)
        for r in ranking.regions if matches(choice.search, r.name, r.region)
    ]
    shown, page, pages = page_of(rows, choice.page)
    province = load_regions().get(choice.province or "")
    figure = BY_NAME.get(choice.figure, "validated")
    return RankingsPage(
        person=person, cycle=cycle, type=choice.type, type_label=TYPE_LABELS[choice.type], figure=figure,
        figure_label=FIGURE_LABELS[figure], province=choice.province,
        scope_label=province.name if province is not None else "nasional", search=choice.search, rows=shown,
        total=len(ranking.regions), matched=len(rows), page=page, pages=pages, first=(page - 1) * PAGE_SIZE + 1,
        prev_href=_href(choice, page - 1) if page > 1 else None,
        next_href=_href(choice, page + 1) if page < pages else None,
        types=[Option(value=t, label=TYPE_LABELS[t], selected=t == choice.type) for t in TYPES],
        figures=[Option(value=f, label=FIGURE_LABELS[f], selected=f == figure) for f in FIGURES],
        provinces=[Option(value=NATIONAL, label="Nasional (semua provinsi)", selected=choice.province is None)]
        + [Option(value=code, label=name, selected=code == choice.province) for code, name in provinces()],
        province_dropped=choice.province_dropped,
    )
