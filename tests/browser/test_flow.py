"""The issue's main flow in a real browser, every step through the pages: an operator creates
an innovation, answers the mandatory indicators, uploads a PDF (the progress bar runs) and
submits it; a verifier goes through the queue, rejects one item with a reason and accepts the
others; the region dashboard, open in another browser the whole time, shows the same three
IIDs as the score API and changes within 2 s of each decision — without a reload."""

from __future__ import annotations

import json
import re
import time

from services.common.methodology.catalogue import load_methodology
from tests.browser.conftest import CYCLE, ROOT, People, Person, Platform

REGION = "62.06"  # Kabupaten Katingan: no other browser test scores it
AGENCY = "dinkes-katingan"
MANDATORY = load_methodology("iid-2026").mandatory_codes("sid")  # sid-16, sid-17, sid-32, sid-33, sid-35
LEVELS = {"sid-16": 3, "sid-17": 2, "sid-32": 2, "sid-33": 3, "sid-35": 2}
PDF = ROOT / "docs" / "examples" / "perda-posyandu.pdf"
PROFILE = json.loads((ROOT / "docs" / "examples" / "innovation.json").read_text())
FIGURES = ("claimed", "provisional", "validated")
LIVE_WITHIN_S = 2.0
REJECTION = "Halaman tanda tangan tidak terbaca; unggah ulang hasil pindaian yang jelas."


def two_decimals(iid: str) -> str:
    """The API's IID ("47.0400") as the pages write it (47,04)."""
    return f"{float(iid):.2f}".replace(".", ",")


async def shown(dashboard: Person) -> dict[str, str]:
    """The three figures on the dashboard, normalised to a decimal comma."""
    figures = {}
    for figure in FIGURES:
        text = await dashboard.page.locator(f'[data-figure="{figure}"]').inner_text()
        found = re.search(r"\d+[,.]\d\d", text)
        assert found, f"{figure}: {text!r}"
        figures[figure] = found.group(0).replace(".", ",")
    return figures


async def api_score(platform: Platform) -> dict[str, str]:
    async with platform.api() as client:
        response = await client.get(f"/scoring/v1/cycles/{CYCLE}/regions/{REGION}/score",
                                    headers=platform.token("viewer", REGION))
    if response.status_code == 404:  # nothing scored yet
        return dict.fromkeys(FIGURES, "0,00")
    assert response.status_code == 200, response.text
    score = response.json()
    return {figure: two_decimals(score[figure]["iid"]) for figure in FIGURES}


async def wait_for_change(dashboard: Person, platform: Platform, before: dict[str, str], since: float,
                          what: str) -> float:
    """Wait (at most LIVE_WITHIN_S after `since`) until a figure on the dashboard differs from
    `before`; the seconds it took."""
    left_ms = max(1.0, (since + LIVE_WITHIN_S - time.monotonic()) * 1000)
    script = """before => ["claimed", "provisional", "validated"].some(f => {
        const el = document.querySelector(`[data-figure="${f}"]`);
        const m = el && el.textContent.match(/\\d+[,.]\\d\\d/);
        return m && m[0].replace(".", ",") !== before[f];
    })"""
    try:
        await dashboard.page.wait_for_function(script, arg=before, timeout=left_ms, polling=50)
    except Exception as exc:
        raise AssertionError(f"the dashboard did not change within {LIVE_WITHIN_S} s of {what}: "
                             f"still {await shown(dashboard)} (the API: {await api_score(platform)})") from exc
    return time.monotonic() - since


async def agrees_with_api(dashboard: Person, platform: Platform, timeout_s: float = 5.0) -> dict[str, str]:
    """The dashboard's figures equal the score API's (read after the page changed: the page
    may show an update the API has too, never one it has not)."""
    deadline = time.monotonic() + timeout_s
    while True:
        on_page, from_api = await shown(dashboard), await api_score(platform)
        if on_page == from_api:
            return on_page
        if time.monotonic() > deadline:
            raise AssertionError(f"the dashboard shows {on_page}, the score API {from_api}")
        await dashboard.page.wait_for_timeout(100)


async def open_dashboard(people: People) -> tuple[Person, list[str]]:
    """The region's viewer on its dashboard, live; a marker in the window and a record of
    every navigation of the page, to prove later that it never reloaded."""
    viewer = await people.signed_in("viewer", REGION, name="viewer dashboard")
    navigations: list[str] = []
    viewer.page.on("framenavigated",
                   lambda frame: navigations.append(frame.url) if frame == viewer.page.main_frame else None)
    await viewer.page.evaluate("window.__flowMarker = 'dimuat sekali'")
    await viewer.page.locator('[data-live-state][data-state="open"]').wait_for()
    return viewer, navigations


async def register_agency(people: People) -> None:
    admin = await people.signed_in("region_admin", REGION, name="region admin")
    page = admin.page
    await page.goto("/pengaturan")
    form = page.locator('form[action="/pengaturan/opd"]')
    await form.get_by_label("Nama OPD").fill("Dinas Kesehatan Katingan")
    await form.get_by_label("Kode OPD").fill(AGENCY)
    async with page.expect_navigation():
        await form.get_by_role("button", name="Daftarkan").click()
    await page.goto("/pengaturan")
    assert AGENCY in await page.locator("#opd").inner_text()


async def create_innovation(operator: Person) -> str:
    page = operator.page
    await page.get_by_test_id("inovasi-baru").click()
    await page.wait_for_url("**/inovasi/baru")
    form = page.get_by_test_id("form-profil")
    await form.locator("#profil-name").fill(PROFILE["name"])
    for name in ("urusan_utama", "tahapan", "jenis", "bentuk", "inisiator"):
        await form.locator(f"#profil-{name}").select_option(PROFILE[name])
    for name in ("tanggal_uji_coba", "tanggal_penerapan", "rancang_bangun", "tujuan", "manfaat", "hasil"):
        await form.locator(f"#profil-{name}").fill(PROFILE[name])
    async with page.expect_navigation():
        await page.get_by_test_id("simpan-profil").click()
    found = re.search(r"/inovasi/([^/?#]+)$", operator.path())
    assert found and found.group(1) != "baru", f"still on {page.url}: {await page.locator('main').inner_text()}"
    assert await page.get_by_test_id("status-inovasi").get_attribute("data-status") == "draft"
    return found.group(1)


async def answer_mandatory(operator: Person) -> None:
    page = operator.page
    mandatory = await page.locator('li.indicator[data-mandatory="true"]').evaluate_all(
        "items => items.map(li => li.dataset.indicator)")
    assert sorted(mandatory) == sorted(MANDATORY)
    for code in MANDATORY:
        await page.locator(f'#level-{code} input[type="radio"][value="{LEVELS[code]}"]').check()
    async with page.expect_navigation():
        await page.get_by_test_id("simpan-jawaban").click()
    for code in MANDATORY:
        assert await page.locator(f'#level-{code} input[value="{LEVELS[code]}"]').is_checked(), code


async def upload_evidence(operator: Person) -> None:
    page = operator.page
    pdf = PDF.read_bytes()
    for code in MANDATORY:
        upload = page.get_by_test_id(f"unggah-{code}")
        items = page.get_by_test_id(f"bukti-{code}").locator("[data-evidence]")
        if code == "sid-35":  # the video indicator: a link
            link = page.get_by_test_id(f"tautan-{code}")
            await link.get_by_label(re.compile("Tautan video")).fill("https://www.youtube.com/watch?v=posyandu-katingan")
            async with page.expect_navigation():
                await link.get_by_role("button", name="Tambah tautan").click()
            await items.first.wait_for()
            continue
        assert "PDF" in (await page.get_by_test_id(f"jenis-{code}").inner_text()).upper(), code
        await upload.locator('input[type="file"]').set_input_files(
            {"name": f"perda-{code}.pdf", "mimeType": "application/pdf", "buffer": pdf})
        await page.get_by_test_id(f"kirim-{code}").click()
        # The script sends the bytes with progress events and adds the item in place.
        await items.first.wait_for()
        status = upload.locator("[data-upload-status]")
        assert "diunggah" in (await status.inner_text()).lower(), await status.inner_text()
        assert await upload.locator("[data-upload-percent]").inner_text() == "100%"
        assert await upload.locator("[data-upload-error]").is_hidden()


async def submit(operator: Person, innovation: str) -> float:
    """Submit through the page; when the button was pressed (time.monotonic())."""
    page = operator.page
    await page.goto(f"/inovasi/{innovation}")  # the checklist as the server sees it now
    checklist = page.get_by_test_id("kelayakan")
    unmet = await checklist.locator('[data-met="false"]').all_inner_texts()
    assert await checklist.get_attribute("data-eligible") == "true", unmet
    pressed = time.monotonic()
    async with page.expect_navigation():
        await page.get_by_test_id("ajukan").click()
    assert await page.get_by_test_id("status-inovasi").get_attribute("data-status") == "submitted"
    # The evidence of every mandatory indicator is there, waiting for a verifier.
    for code in MANDATORY:
        states = await page.get_by_test_id(f"bukti-{code}").locator("[data-evidence]").evaluate_all(
            "items => items.map(li => li.dataset.state)")
        assert states == ["pending"], (code, states)
    return pressed


async def test_operator_submits_verifier_decides_and_the_dashboard_follows_live(people: People) -> None:
    platform = people.platform
    await register_agency(people)
    dashboard, navigations = await open_dashboard(people)
    assert await shown(dashboard) == dict.fromkeys(FIGURES, "0,00")

    operator = await people.signed_in("operator", REGION, AGENCY, name="operator")
    innovation = await create_innovation(operator)
    await answer_mandatory(operator)
    await upload_evidence(operator)
    before = await shown(dashboard)
    pressed = await submit(operator, innovation)
    await wait_for_change(dashboard, platform, before, pressed, "the submission")
    await agrees_with_api(dashboard, platform)

    verifier = await people.signed_in("verifier", REGION, name="verifier")
    page = verifier.page
    queue = page.get_by_test_id("antrean-item")
    assert await queue.count() == len(MANDATORY)
    indicators = dict(await queue.evaluate_all("items => items.map(li => [li.dataset.id, li.dataset.indicator])"))
    assert sorted(indicators.values()) == sorted(MANDATORY)
    async with page.expect_navigation():
        await page.get_by_test_id("mulai").click()
    decided: dict[str, str] = {}
    rejected_indicator = "sid-33"
    timings: dict[str, float] = {}
    while re.fullmatch(r"/verifikasi/[^/]+", verifier.path()):
        document = page.get_by_test_id("dokumen")
        display = await document.get_attribute("data-display")
        code = indicators[verifier.path().rsplit("/", 1)[1]]
        if display == "pdf":
            source = await document.get_attribute("src")
            assert source, "the PDF frame has no address"
            served = await page.request.get(source)
            assert served.status == 200 and served.headers["content-type"].startswith("application/pdf")
        before = await shown(dashboard)
        form = page.get_by_test_id("form-keputusan")
        started = time.monotonic()
        if code == rejected_indicator:
            await form.get_by_label("Alasan penolakan").fill(REJECTION)
            async with page.expect_navigation():
                await page.get_by_test_id("tolak").click()
            decided[code] = "rejected"
        else:
            async with page.expect_navigation():
                await page.get_by_test_id("terima").click()
            decided[code] = "accepted"
        timings[code] = await wait_for_change(dashboard, platform, before, started, f"the decision on {code}")
        await agrees_with_api(dashboard, platform)
    assert decided == {code: "rejected" if code == rejected_indicator else "accepted" for code in MANDATORY}
    assert verifier.path() == "/verifikasi"
    await page.get_by_test_id("antrean-kosong").wait_for()

    # The same figures as the API, and the dashboard page was never reloaded.
    final = await agrees_with_api(dashboard, platform)
    assert final["claimed"] != "0,00" and final["validated"] != "0,00", final
    assert await dashboard.page.evaluate("window.__flowMarker") == "dimuat sekali"
    assert navigations == [], navigations
    print(f"dashboard changed after: {', '.join(f'{k} {v * 1000:.0f} ms' for k, v in timings.items())}")

    # The operator reads the reason next to the rejected item.
    await operator.page.goto(f"/inovasi/{innovation}")
    rejected = operator.page.get_by_test_id(f"bukti-{rejected_indicator}").locator('[data-state="rejected"]')
    assert REJECTION in await rejected.first.inner_text()

