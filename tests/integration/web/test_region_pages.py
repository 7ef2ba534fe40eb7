"""The region pages against the whole platform (the four APIs, the web app, PostgreSQL, Redis
and moto's S3): the dashboard shows the score API's figures, ranks and history, marks the
agencies with no submitted innovation, says per agency what is missing, pending and rejected,
and names innovations in the gap plan; its live feed (Server-Sent Events, over a real
server) delivers a score update after a write and refuses another region; the rankings
filter by type, figure, province and search; a region's profile; tenancy on every one."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from html import unescape
from typing import Any

import httpx
import pytest

from services.platform import SERVICES, create_platform_app
from services.web.entrypoints.texts import two_decimals
from tests.integration.web.conftest import PASSWORD, Web, drop_all, web_settings
from tests.support.journeys import CYCLE, Journey
from tests.support.s3 import S3Endpoint, moto_s3_server
from tests.support.servers import listen_sse, serve

pytestmark = pytest.mark.integration

FIGURES = ("claimed", "provisional", "validated")
REJECTION = "Dokumen tidak ditandatangani kepala dinas"


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Endpoint]:
    with moto_s3_server() as endpoint:
        yield endpoint


def platform_settings(s3: S3Endpoint) -> Any:
    return web_settings(s3_endpoint=s3.netloc, s3_access_key=s3.access_key, s3_secret_key=s3.secret_key,
                        s3_bucket="web-region-pages")


@pytest.fixture
async def platform(s3: S3Endpoint) -> AsyncIterator[tuple[Web, httpx.AsyncClient]]:
    """The platform as `inovasi up` runs it, the web app calling the APIs in process; a
    client for the APIs (with tokens, as the journeys use them)."""
    settings = platform_settings(s3)
    app = create_platform_app([*SERVICES, "web"], settings)
    web = Web(app, settings, [])
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=30) as api:
                yield web, api
            for browser in web.browsers:
                await browser.aclose()
    finally:
        await drop_all(settings)


async def claim_spd(journey: Journey, *indicators: str) -> dict[str, Any]:
    """The region admin answers SPD indicators at level 3 with evidence (pending): the
    claimed and provisional figures move, the validated one waits for a verifier. The
    region's score once it reflects the last upload."""
    events: list[str] = []
    for indicator in indicators:
        await journey.set_spd(indicator, 3)
        assert journey.last_spd_event is not None
        uploaded = await journey.upload(indicator)
        events += [journey.last_spd_event, uploaded["event_id"]]
    # Both kinds of event: intake's and evidence's streams are scored by separate consumers,
    # so the upload may be reflected before the answer it documents.
    for event in events:
        response = await journey.client.get(f"/scoring/v1/cycles/{CYCLE}/regions/{journey.region}/score",
                                            params={"after_event": event}, headers=journey.viewer)
        assert response.headers["x-event-reflected"] == "true"
    return response.json()


def figures_of(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-figure="(\w+)">([^<]*)<', html))


def text_of(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def element(html: str, testid: str, **attributes: str) -> str:
    """The HTML of the first `<li>`/`<section>`/… carrying data-testid and the attributes,
    up to its closing tag (elements of the same name inside are counted)."""
    attrs = "".join(rf'[^>]*{name.replace("_", "-")}="{re.escape(value)}"' for name, value in attributes.items())
    start = re.search(rf'<(\w+)(?=[^>]*data-testid="{testid}"){attrs}[^>]*>', html)
    assert start, f"no element {testid} {attributes}"
    tag, depth, position = start.group(1), 0, start.start()
    for match in re.finditer(rf"<(/?){tag}\b[^>]*>", html[position:]):
        depth += -1 if match.group(1) else 1
        if depth == 0:
            return html[position: position + match.end()]
    raise AssertionError(f"unclosed {tag}")


async def seeded_region(api: httpx.AsyncClient) -> dict[str, Any]:
    """Gunung Mas (62.10): Dinas Kesehatan with a submitted innovation whose evidence is
    accepted (sid-16), rejected with a reason (sid-17), pending (sid-32) and missing
    (sid-33, sid-35); Dinas Perhubungan with only a draft; Dinas Pendidikan with nothing."""
    dinkes = Journey(api, "62.10", "dinkes")
    await dinkes.register_agency("Dinas Kesehatan")
    dishub = Journey(api, "62.10", "dishub")
    await dishub.register_agency("Dinas Perhubungan")
    await Journey(api, "62.10", "disdik").register_agency("Dinas Pendidikan")
    posyandu = await dinkes.create_innovation("Posyandu Digital")
    for indicator, level in (("sid-16", 3), ("sid-17", 2), ("sid-32", 2), ("sid-33", 3), ("sid-35", 2)):
        posyandu = await dinkes.answer(posyandu, indicator, level)
    evidence = {indicator: await dinkes.upload(indicator, posyandu) for indicator in ("sid-16", "sid-17", "sid-32")}
    posyandu = await dinkes.submit(posyandu)
    draft = await dishub.create_innovation("Angkutan Desa Daring")
    await dinkes.decide(evidence["sid-16"], "accepted")
    decided = await dinkes.decide(evidence["sid-17"], "rejected", REJECTION)
    score = await api.get(f"/scoring/v1/cycles/{CYCLE}/regions/62.10/score",
                          params={"after_event": decided["event_id"]}, headers=dinkes.viewer)
    assert score.headers["x-event-reflected"] == "true"
    return {"journey": dinkes, "posyandu": posyandu, "draft": draft, "score": score.json()}


async def test_the_dashboard_shows_the_score_apis_figures_and_what_each_agency_must_do(
    platform: tuple[Web, httpx.AsyncClient],
) -> None:
    web, api = platform
    seeded = await seeded_region(api)
    journey: Journey = seeded["journey"]
    admin = await web.signed_in("admin.gumas", "region_admin")
    page = await admin.get("/daerah/62.10")
    assert page.status_code == 200, page.text
    html = page.text

    # The three figures, categories and ranks are the score API's.
    score = (await api.get(f"/scoring/v1/cycles/{CYCLE}/regions/62.10/score", headers=journey.viewer)).json()
    assert figures_of(html) == {f: two_decimals(score[f]["iid"]) for f in FIGURES}
    assert score["claimed"]["iid"] != score["validated"]["iid"]  # the figures differ: each is its own
    for figure in FIGURES:
        card = element(html, f"figure-{figure}")
        ranks = score[figure]["ranks"]
        assert f'{ranks["type"]["position"]} dari {ranks["type"]["of"]}' in text_of(
            element(card, f"rank-type-{figure}"))
        assert f'{ranks["province"]["position"]} dari {ranks["province"]["of"]}' in text_of(
            element(card, f"rank-province-{figure}"))
        assert "Kurang Inovatif" in text_of(card)  # the catalogue's label, not the id
    assert "kurang_inovatif" not in text_of(html)

    # Satu OPD satu inovasi: the agencies with no submitted innovation stand out, first.
    agencies = re.findall(r'data-testid="agency" data-agency="([\w-]+)" data-reported="(true|false)"', html)
    assert agencies[:2] == [("disdik", "false"), ("dishub", "false")] and agencies[2] == ("dinkes", "true")
    assert "Belum mengajukan inovasi" in text_of(element(html, "agency", data_agency="dishub"))
    assert "Angkutan Desa Daring" in text_of(element(html, "agency", data_agency="dishub"))  # its draft
    summary = text_of(element(html, "not-reported-summary"))
    assert "2 perangkat daerah belum mengajukan inovasi" in summary and "Dinas Pendidikan" in summary

    # Per agency: what is rejected (with the verifier's reason), pending and missing.
    dinkes = element(html, "agency", data_agency="dinkes")
    rejected, pending, missing = (text_of(element(dinkes, kind)) for kind in ("rejected", "pending", "missing"))
    assert "Posyandu Digital" in rejected and "Ketersediaan dan peran SDM" in rejected and REJECTION in rejected
    assert "Kecepatan penciptaan inovasi" in pending and "(sid-32)" in pending
    assert "Kemanfaatan inovasi" in missing and "Video inovasi daerah" in missing
    assert "data dukung belum diunggah" in missing
    assert "Visi dan Misi" in text_of(element(html, "spd"))  # the region's own SPD answers

    # The gap plan to the next category: each action names its innovation or the SPD, with
    # the IID after it, as the gap API plans it.
    gap = (await api.get(f"/scoring/v1/cycles/{CYCLE}/regions/62.10/gap",
                         params={"target": "inovatif"}, headers=journey.viewer)).json()
    plan = element(html, "gap-plan")
    assert "Rencana menuju Inovatif" in text_of(plan)
    actions = re.findall(r'data-testid="gap-action" data-kind="(\w+)" data-innovation="([^"]*)" '
                         r'data-indicator="([\w-]+)"', plan)
    assert actions == [(a["kind"], a["innovation"] or "", a["indicator"]) for a in gap["actions"]]
    innovation_id = seeded["posyandu"]["id"]
    sid_actions = [a for a in gap["actions"] if a["innovation"] == innovation_id]
    assert sid_actions, "the plan acts on the innovation"
    first = element(plan, "gap-action", data_innovation=innovation_id, data_indicator=sid_actions[0]["indicator"])
    assert "Inovasi Posyandu Digital (Dinas Kesehatan)" in text_of(first)
    assert innovation_id not in text_of(first)  # its name, not its id
    assert two_decimals(sid_actions[0]["iid_after"]) in text_of(element(first, "gap-iid-after"))
    spd = element(plan, "gap-action", data_innovation="", data_indicator=gap["actions"][0]["indicator"])
    assert "SPD daerah" in text_of(spd)

    # The IID over time: a chart and the same versions in a table.
    history = (await api.get(f"/scoring/v1/cycles/{CYCLE}/regions/62.10/history",
                             headers=journey.viewer)).json()["scores"]
    chart = element(html, "history-chart")
    assert chart.count("<polyline") == 3 and 'role="img"' in chart and "<desc" in chart
    table = element(html, "history-table")
    assert "<caption>" in table and table.count('<th scope="row">') == len(history)
    assert two_decimals(history[0]["validated"]["iid"]) in text_of(table)

    # A viewer reads the same dashboard (evidence serves it no reasons: none are shown).
    viewer = await web.signed_in("pemantau.gumas", "viewer")
    seen = (await viewer.get("/daerah/62.10")).text
    assert figures_of(seen) == figures_of(html)
    assert 'data-agency="dishub" data-reported="false"' in seen and REJECTION not in seen
    # An operator sees its region's figures and history, not every agency's details.
    operator = await web.signed_in("operator.dinkes", "operator", agency="dinkes")
    own = await operator.get("/daerah/62.10")
    assert own.status_code == 200 and figures_of(own.text) == figures_of(html)
    assert 'data-testid="agencies"' not in own.text and 'data-testid="gap-plan"' not in own.text


async def test_a_region_without_data_shows_zeros_and_no_history(platform: tuple[Web, httpx.AsyncClient]) -> None:
    web, _api = platform
    province = await web.signed_in("admin.kalteng", "province_admin", "62")
    page = await province.get("/daerah/62.11")
    assert page.status_code == 200
    assert figures_of(page.text) == dict.fromkeys(FIGURES, "0,00")
    assert 'data-testid="history-empty"' in page.text
    assert "Tidak Dapat Dinilai" in text_of(element(page.text, "figure-validated"))
    assert "Rencana menuju Kurang Inovatif" in text_of(element(page.text, "gap-plan"))


async def test_the_region_pages_refuse_what_is_not_the_persons(platform: tuple[Web, httpx.AsyncClient]) -> None:
    web, _api = platform
    viewer = await web.signed_in("pemantau.gumas", "viewer")
    assert (await viewer.get("/daerah/62.01")).status_code == 403
    refused = await viewer.get("/daerah/62.01/langsung", headers={"accept": "text/event-stream"})
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    assert (await viewer.get("/daerah/99.99")).status_code == 404
    assert (await viewer.get("/daerah/99.99/langsung", headers={"accept": "text/event-stream"})).status_code == 404
    assert (await viewer.get("/wilayah/99.99")).status_code == 404
    province = await web.signed_in("admin.kalteng", "province_admin", "62")
    assert (await province.get("/daerah/63.01")).status_code == 403
    assert (await province.get("/daerah/63.01/langsung", headers={"accept": "text/event-stream"})).status_code == 403
    nobody = web.browser()
    assert (await nobody.get("/daerah/62.10/langsung", headers={"accept": "text/event-stream"})).status_code == 403
    for path in ("/peringkat", "/wilayah/62.10", "/daerah/62.10"):
        response = await nobody.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next="), path
    bad = await viewer.get("/daerah/62.10/langsung", headers={"accept": "text/event-stream", "last-event-id": "x"})
    assert bad.status_code == 422


async def test_a_profile_shows_any_regions_figures_and_links_its_dashboard_to_those_who_may_open_it(
    platform: tuple[Web, httpx.AsyncClient],
) -> None:
    web, api = platform
    journey = Journey(api, "62.10")
    score = await claim_spd(journey, "spd-01")
    outsider = await web.signed_in("pemantau.kapuas", "viewer", "62.03")
    page = await outsider.get("/wilayah/62.10")
    assert page.status_code == 200
    assert figures_of(page.text) == {f: two_decimals(score[f]["iid"]) for f in FIGURES}
    assert "Kabupaten Gunung Mas" in page.text and 'data-testid="history-chart"' in page.text
    assert 'data-testid="dashboard-link"' not in page.text  # not its region
    ranks = score["claimed"]["ranks"]
    assert f'{ranks["province"]["position"]} dari {ranks["province"]["of"]}' in text_of(
        element(page.text, "rank-province-claimed"))
    own = await web.signed_in("pemantau.gumas", "viewer", "62.10")
    assert 'href="/daerah/62.10" data-testid="dashboard-link"' in (await own.get("/wilayah/62.10")).text
    provinsi = await own.get("/wilayah/62")  # a provinsi: ranked nationally only
    assert provinsi.status_code == 200 and 'data-testid="rank-province-claimed"' not in provinsi.text


async def test_rankings_filter_by_type_figure_province_and_search(platform: tuple[Web, httpx.AsyncClient]) -> None:
    web, api = platform
    journey = Journey(api, "62.10")
    await claim_spd(journey, "spd-01")  # claimed and provisional move; validated waits for a verifier
    rankings = await api.get(f"/scoring/v1/cycles/{CYCLE}/rankings",
                             params={"type": "kabupaten", "province": "62", "figure": "claimed"},
                             headers=journey.viewer)
    expected = rankings.json()["regions"]
    assert expected[0]["region"] == "62.10"

    province = await web.signed_in("admin.kalteng", "province_admin", "62")
    page = await province.get("/peringkat?angka=claimed")  # by default: its province's kabupaten
    rows = re.findall(r'data-testid="ranking-row" data-region="([\d.]+)"', page.text)
    assert rows == [r["region"] for r in expected] and len(rows) == 13
    table = element(page.text, "rankings-table")
    assert "<caption>Peringkat kabupaten di Provinsi Kalimantan Tengah, angka klaim</caption>" in table
    first = element(table, "ranking-row", data_region="62.10")
    assert two_decimals(expected[0]["iid"]) in text_of(first) and 'href="/wilayah/62.10"' in first
    assert expected[0]["category"] == "kurang_inovatif" and "Kurang Inovatif" in text_of(first)
    validated = await province.get("/peringkat?angka=validated")
    assert "0,00" in text_of(element(validated.text, "ranking-row", data_region="62.10"))

    searched = await province.get("/peringkat?cari=GUNUNG")
    assert re.findall(r'data-region="([\d.]+)"', element(searched.text, "rankings-table")) == ["62.10"]
    assert "yang cocok dengan «GUNUNG» (dari 13)" in text_of(element(searched.text, "rankings-count"))
    by_code = await province.get("/peringkat?cari=62.1")
    assert re.findall(r'data-region="([\d.]+)"', element(by_code.text, "rankings-table")) == [
        "62.10", "62.11", "62.12", "62.13"]
    nothing = await province.get("/peringkat?cari=tidak+ada+daerah+ini")
    assert 'data-testid="rankings-table"' not in nothing.text and "Tidak ada kabupaten" in nothing.text
    kota = await province.get("/peringkat?jenis=kota")
    assert re.findall(r'data-region="([\d.]+)"', kota.text) == ["62.71"]

    national = await web.signed_in("kemendagri", "national", None)
    everywhere = await national.get("/peringkat")  # kabupaten nationally, 100 a page
    assert "Menampilkan 1–100 dari 415 kabupaten" in text_of(element(everywhere.text, "rankings-count"))
    assert everywhere.text.count('data-testid="ranking-row"') == 100 and 'rel="next"' in everywhere.text
    last = await national.get("/peringkat?halaman=9")  # beyond the last page: the last one
    assert "Halaman 5 dari 5" in text_of(last.text) and last.text.count('data-testid="ranking-row"') == 15
    provinces = await national.get("/peringkat?jenis=provinsi&provinsi=62")  # ranked nationally only
    assert provinces.text.count('data-testid="ranking-row"') == 38 and "cakupan provinsi diabaikan" in provinces.text
    odd = await national.get("/peringkat?jenis=desa&angka=x&provinsi=99&halaman=-1")
    assert odd.status_code == 200 and "Menampilkan 1–100 dari 415 kabupaten" in text_of(odd.text)
    viewer = await web.signed_in("pemantau.gumas", "viewer", "62.10")
    mine = await viewer.get("/peringkat?angka=claimed")
    assert 'class="row-own"' in element(mine.text, "ranking-row", data_region="62.10") and "Daerah Anda" in mine.text


# --- the live feed, over a real server (ASGITransport does not stream) ------------------------


async def login(client: httpx.AsyncClient, username: str) -> None:
    form = await client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert csrf
    answer = await client.post("/login", data={"username": username, "password": PASSWORD,
                                               "csrf_token": csrf.group(1)})
    assert answer.status_code == 303, answer.text


async def next_event(listener: Any, seen: int, name: str, timeout: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        for event in listener.events[seen:]:
            if event.event == name:
                return event
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {name} event within {timeout} s: {listener.events[seen:]}")


async def test_the_live_feed_delivers_score_updates_and_rank_changes(s3: S3Endpoint) -> None:
    settings = platform_settings(s3)
    app = create_platform_app([*SERVICES, "web"], settings)
    web = Web(app, settings, [])
    try:
        async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
            await web.account("pemantau.gumas", "viewer")
            await login(client, "pemantau.gumas")
            gumas, kapuas = Journey(client, "62.10"), Journey(client, "62.03")
            async with listen_sse(client, "/daerah/62.10/langsung", {"accept": "text/event-stream"}) as listener:
                snapshot = await next_event(listener, 0, "score")
                assert snapshot.id and snapshot.json()["version"] == 0
                assert {f["figure"]: f["iid"] for f in snapshot.json()["figures"]} == dict.fromkeys(FIGURES, "0,00")
                await claim_spd(gumas, "spd-01")
                update = await next_event(listener, 1, "score")
                score = await gumas.score()
                data = update.json()
                assert data["version"] == score["version"] >= 1
                assert {f["figure"]: f["iid"] for f in data["figures"]} == {
                    f: two_decimals(score[f]["iid"]) for f in FIGURES}
                claimed = next(f for f in data["figures"] if f["figure"] == "claimed")
                assert claimed["label"] == "Klaim" and claimed["category_label"] == "Kurang Inovatif"
                assert claimed["rank_province"] == "1 dari 13"
                # Kapuas climbs past Gunung Mas: its rank moves, with no score of its own.
                seen = len(listener.events)
                await claim_spd(kapuas, "spd-01", "spd-06", "spd-07")
                moved = await next_event(listener, seen, "ranks")
                claimed_ranks = next(f for f in moved.json()["figures"] if f["figure"] == "claimed")
                assert claimed_ranks["rank_province"] == "2 dari 13"

            # Resuming after the snapshot (Last-Event-ID) misses nothing: the update comes again.
            async with listen_sse(client, "/daerah/62.10/langsung",
                                  {"accept": "text/event-stream", "last-event-id": snapshot.id}) as resumed:
                again = await next_event(resumed, 0, "score")
                assert again.id == update.id and again.json() == update.json()

            refused = await client.get("/daerah/62.01/langsung", headers={"accept": "text/event-stream"})
            assert refused.status_code == 403
    finally:
        await drop_all(settings)


async def test_the_live_feed_ends_with_the_session(s3: S3Endpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    from services.web.handlers import live

    monkeypatch.setattr(live, "SESSION_CHECK_S", 0.2)
    settings = platform_settings(s3)
    app = create_platform_app(["intake", "scoring", "web"], settings)
    web = Web(app, settings, [])
    try:
        async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
            await web.account("pemantau.gumas", "viewer")
            await login(client, "pemantau.gumas")
            async with listen_sse(client, "/daerah/62.10/langsung", {"accept": "text/event-stream"}) as listener:
                await next_event(listener, 0, "score")
                page = await client.get("/akun")
                csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
                assert csrf
                await client.post("/logout", data={"csrf_token": csrf.group(1)})
                assert listener.task is not None
                await asyncio.wait_for(asyncio.shield(listener.task), 10)  # the server ended the stream
            again = await client.get("/daerah/62.10/langsung", headers={"accept": "text/event-stream"})
            assert again.status_code == 403
    finally:
        await drop_all(settings)

