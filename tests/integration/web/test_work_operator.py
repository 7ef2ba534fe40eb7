"""Inovasi saya, as an operator uses it: create an innovation through the form (a validation
error next to its field first), answer the mandatory indicators, upload a real PDF with the
upload script's request and with the plain form, add the video link, watch the eligibility
checklist turn green, submit; a stale version comes back with the current values; another
agency's innovation is not found."""

from __future__ import annotations

import re

import pytest

from services.web.domain.work import PROFILE_FIELDS
from tests.integration.web.conftest import Web
from tests.integration.web.work import (
    CYCLE,
    MANDATORY,
    PROFILE,
    api,
    attribute,
    form_of,
    innovation_id,
    post_form,
    register_agency,
    s3,
    until,
    version_of,
    work,
)
from tests.support.files import minimal_pdf, tiny_png

pytestmark = pytest.mark.integration
__all__ = ["s3", "work"]  # fixtures


def checklist(page: str) -> dict[str, str]:
    return dict(re.findall(r'data-rule="(\w+)" data-met="(true|false)"', page))


async def test_an_operator_creates_answers_uploads_and_submits_through_the_pages(work: Web) -> None:
    await register_agency(work)
    operator = await work.signed_in("operator.dinkes", "operator", "62.10", "dinkes")
    landing = await operator.get("/inovasi")
    assert landing.status_code == 200 and 'data-testid="inovasi-baru"' in landing.text

    form = await operator.get("/inovasi/baru")
    assert form.status_code == 200
    for name in PROFILE_FIELDS:  # every field of the profile is on the form, with a label
        assert f'id="profil-{name}"' in form.text, name
        if name != "urusan_lain":
            assert f'<label for="profil-{name}">' in form.text, name
    assert '<option value="kesehatan">Kesehatan</option>' in form.text
    assert '<option value="pelayanan_publik">Inovasi pelayanan publik</option>' in form.text

    # A validation error of intake's comes back next to its field, focused, the rest kept.
    refused = await post_form(operator, "/inovasi/baru", form_of({**PROFILE, "name": "  ",
                                                                  "tanggal_penerapan": "2025-01-01"}))
    assert refused.status_code == 422
    assert re.search(r'<p class="field-error" id="profil-name-error">Wajib diisi\.</p>', refused.text)
    assert re.search(r'<input id="profil-name" name="name" type="text" value="  " '
                     r'aria-describedby="profil-name-error" aria-invalid="true" autofocus', refused.text)
    assert "Tanggal penerapan tidak boleh sebelum tanggal uji coba (01-02-2025)." in refused.text
    assert 'aria-describedby="profil-tanggal_penerapan-hint profil-tanggal_penerapan-error"' in refused.text
    assert 'value="Mempercepat layanan"' not in refused.text and ">Mempercepat layanan</textarea>" in refused.text
    assert 'value="sosial" checked' in refused.text

    created = await post_form(operator, "/inovasi/baru", form_of(PROFILE))
    assert created.status_code == 303, created.text
    location = created.headers["location"]
    assert location.endswith("?pesan=inovasi-dibuat")
    innovation = innovation_id(location)
    page = await operator.get(location)
    assert page.status_code == 200
    assert "Inovasi dibuat sebagai draf" in page.text and 'data-status="draft"' in page.text
    assert checklist(page.text) == {"required_fields": "true", "application_date_in_period": "true",
                                    "rancang_bangun_length": "true", "mandatory_indicators": "false",
                                    "submission_window": "true"}
    assert 'data-testid="kelayakan" data-eligible="false"' in page.text
    # Each indicator with its levels as the catalogue describes them, the mandatory ones marked.
    assert re.search(r'id="indikator-sid-16"[^>]*data-mandatory="true"', page.text)
    assert "Peraturan Daerah" in page.text and "1-10 SDM" in page.text
    assert 'data-testid="jenis-sid-16">PDF<' in page.text
    assert 'data-testid="jenis-sid-19">PDF atau gambar (PNG atau JPEG)<' in page.text
    assert 'data-testid="jenis-sid-35">video (MP4 atau MOV) atau tautan video (mis. YouTube)<' in page.text

    # The answers, saved with the version the page was read at.
    answers = [(code, str(level)) for code, level in MANDATORY.items()]
    saved = await post_form(operator, f"/inovasi/{innovation}/jawaban",
                            [*answers, ("sid-18", ""), ("version", version_of(page.text))])
    assert saved.status_code == 303 and "pesan=jawaban-disimpan" in saved.headers["location"]
    page = await operator.get(f"/inovasi/{innovation}")
    assert checklist(page.text)["mandatory_indicators"] == "true"
    assert re.search(r'name="sid-16" value="3" checked', page.text)

    # Evidence: the upload script's request (the file as the body) ...
    pdf = minimal_pdf("Peraturan Daerah Posyandu")
    for code in ("sid-16", "sid-17", "sid-32"):
        uploaded = await operator.http.post(
            f"/bukti/unggah?inovasi={innovation}&indikator={code}", content=pdf,
            headers={"X-CSRF-Token": operator.csrf or "", "Content-Type": "application/pdf",
                     "Accept": "application/json"})
        assert uploaded.status_code == 201, uploaded.text
        assert uploaded.json()["state"] == "pending" and uploaded.json()["state_label"] == "Menunggu verifikasi"
    # ... a refused one says why in Bahasa Indonesia, for beside the file input ...
    wrong = await operator.http.post(
        f"/bukti/unggah?inovasi={innovation}&indikator=sid-18", content=tiny_png(),
        headers={"X-CSRF-Token": operator.csrf or "", "Content-Type": "image/png", "Accept": "application/json"})
    assert wrong.status_code == 422
    assert wrong.json()["message"] == "Jenis berkas ini tidak diterima untuk indikator ini."
    no_token = await operator.http.post(f"/bukti/unggah?inovasi={innovation}&indikator=sid-33", content=pdf,
                                        headers={"Content-Type": "application/pdf"})
    assert no_token.status_code == 403
    # ... the plain form without JavaScript, and the video link.
    posted = await operator.http.post(
        f"/bukti/formulir?inovasi={innovation}&indikator=sid-33", data={"csrf_token": operator.csrf or ""},
        files={"berkas": ("sk-pelaksana.pdf", pdf, "application/pdf")})
    assert posted.status_code == 303 and posted.headers["location"].endswith("pesan=bukti-diunggah#indikator-sid-33")
    empty = await operator.http.post(
        f"/bukti/formulir?inovasi={innovation}&indikator=sid-33", data={"csrf_token": operator.csrf or ""},
        files={"berkas": ("", b"", "application/octet-stream")})
    assert empty.status_code == 422 and "Pilih berkas yang akan diunggah." in empty.text
    assert 'id="berkas-sid-33-error" data-upload-error>Pilih berkas' in empty.text
    link = await post_form(operator, f"/inovasi/{innovation}/tautan",
                           [("indicator", "sid-35"), ("link", "https://www.youtube.com/watch?v=posyandu")])
    assert link.status_code == 303

    async def listed() -> str | None:
        text = (await operator.get(f"/inovasi/{innovation}")).text
        return text if all(f'data-testid="bukti-{code}"' in text for code in MANDATORY) and \
            text.count('data-state="pending"') >= 2 * len(MANDATORY) else None

    page = await until(listed)
    assert page, "the evidence items are not listed"
    for code in MANDATORY:
        assert re.search(rf'id="indikator-{code}"[^>]*data-evidence-state="pending"', page), code
    assert 'href="https://www.youtube.com/watch?v=posyandu" target="_blank" rel="noopener noreferrer nofollow"' in page
    assert checklist(page) == dict.fromkeys(checklist(page), "true")
    assert 'data-testid="kelayakan" data-eligible="true"' in page

    submitted = await post_form(operator, f"/inovasi/{innovation}/ajukan", [("version", version_of(page))])
    assert submitted.status_code == 303 and "pesan=diajukan" in submitted.headers["location"]
    page = (await operator.get(f"/inovasi/{innovation}")).text
    assert 'data-status="submitted"' in page and 'data-testid="tarik"' in page
    listing = (await operator.get("/inovasi")).text
    assert f'data-id="{innovation}" data-status="submitted" data-eligible="true"' in listing

    # What it adds to the region's IID: the same as scoring's explanation says (read by the
    # region's verifier, as an operator may not read explanations) once scoring has applied
    # everything: the page reckons with the evidence service's states, and scoring reads the
    # evidence events on their own stream, so it may count the submission before the last
    # upload.
    compared: list[tuple[tuple[str, str], tuple[str, str]]] = []
    async with api(work) as client:
        async def agreeing() -> bool:
            response = await client.get(f"/scoring/v1/cycles/{CYCLE}/regions/62.10/explain?figure=claimed",
                                        headers=_token("verifier"))
            found = [i for i in response.json()["innovations"] if i["id"] == innovation and i["counted"]]
            if not found:
                return False
            page = (await operator.get(f"/inovasi/{innovation}")).text
            row = attribute(page, r'(?s)(<tr data-figure-effect="claimed" data-counted="true">.*?</tr>)')
            shown = (attribute(row, r"<td data-maturity>([\d.,]+)</td>"),
                     attribute(row, r"<td data-iid-points><strong>([\d.,]+)</strong>"))
            compared.append((shown, (_comma(found[0]["maturity"]), _comma(found[0]["iid_points"]))))
            return shown == compared[-1][1]

        agreed = await until(agreeing)
    assert compared, "scoring never counted the innovation"
    # (The region covers one basic-service urusan, so the count of innovations adds nothing yet.)
    assert agreed, f"the page's (maturity, points) never matched scoring's explanation: {compared[-1]}"
    assert compared[-1][0][1] != "0,00"


def _comma(value: str) -> str:
    from decimal import ROUND_HALF_UP, Decimal

    return f"{Decimal(value).quantize(Decimal('0.01'), ROUND_HALF_UP)}".replace(".", ",")


def _token(role: str) -> dict[str, str]:
    from tests.support.platform import token

    return token(role, "62.10")  # type: ignore[arg-type]


async def test_a_stale_form_comes_back_with_the_current_values_and_the_persons_own(work: Web) -> None:
    await register_agency(work)
    operator = await work.signed_in("operator.dinkes", "operator", "62.10", "dinkes")
    await operator.get("/inovasi/baru")
    created = await post_form(operator, "/inovasi/baru", form_of(PROFILE))
    innovation = innovation_id(created.headers["location"])
    page = (await operator.get(f"/inovasi/{innovation}")).text
    old = version_of(page)
    # Another tab saves a new name first...
    first = await post_form(operator, f"/inovasi/{innovation}", form_of({**PROFILE, "name": "Posyandu Cerdas"})
                            + [("version", old)])
    assert first.status_code == 303 and "pesan=profil-disimpan" in first.headers["location"]
    # ... this tab, still at the old version, is told so and shown the current values.
    stale = await post_form(operator, f"/inovasi/{innovation}", form_of({**PROFILE, "name": "Posyandu Lama"})
                            + [("version", old)])
    assert stale.status_code == 412
    assert "telah diubah (di tab lain atau oleh orang lain)" in stale.text
    assert 'id="profil-name" name="name" type="text" value="Posyandu Cerdas"' in stale.text
    assert '<p class="unsaved-value">Posyandu Lama</p>' in stale.text
    assert int(version_of(stale.text)) == int(old) + 1
    # The answers form too: nothing is sent on top of a change it has not seen.
    answers = await post_form(operator, f"/inovasi/{innovation}/jawaban", [("sid-16", "2"), ("version", old)])
    assert answers.status_code == 412 and "Pilihan Anda yang belum tersimpan: tingkat 2" in answers.text
    # A submit without the mandatory answers names what is missing.
    refused = await post_form(operator, f"/inovasi/{innovation}/ajukan", [("version", version_of(stale.text))])
    assert refused.status_code == 422 and "Inovasi belum dapat diajukan" in refused.text
    assert "Indikator wajib 16. Regulasi Inovasi Daerah belum dijawab." in refused.text


async def test_another_agencys_innovation_and_the_pages_of_other_roles_are_refused(work: Web) -> None:
    await register_agency(work)
    await register_agency(work, agency="bappeda")
    operator = await work.signed_in("operator.dinkes", "operator", "62.10", "dinkes")
    await operator.get("/inovasi/baru")
    created = await post_form(operator, "/inovasi/baru", form_of(PROFILE))
    innovation = innovation_id(created.headers["location"])

    other = await work.signed_in("operator.bappeda", "operator", "62.10", "bappeda")
    assert (await other.get(f"/inovasi/{innovation}")).status_code == 404
    await other.get("/inovasi")
    upload = await other.http.post(f"/bukti/unggah?inovasi={innovation}&indikator=sid-16", content=minimal_pdf(),
                                   headers={"X-CSRF-Token": other.csrf or "", "Content-Type": "application/pdf",
                                            "Accept": "application/json"})
    assert upload.status_code == 404
    assert f'href="/inovasi/{innovation}"' not in (await other.get("/inovasi")).text

    verifier = await work.signed_in("verifikator.gumas", "verifier", "62.10")
    assert (await verifier.get("/inovasi")).status_code == 403
    assert (await verifier.get(f"/inovasi/{innovation}")).status_code == 403
    assert (await operator.get("/verifikasi")).status_code == 403
