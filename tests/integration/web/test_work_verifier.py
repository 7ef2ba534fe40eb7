"""Verifikasi, as a verifier works through it: the region's pending evidence oldest first,
the document shown in the page through this site (inline, nosniff, its own policy), another
region refused, a rejection without a reason shown back with the message, a rejection and an
acceptance each leading to the next item, the operator reading the verdict."""

from __future__ import annotations

import re

import pytest

from tests.integration.web.conftest import Web
from tests.integration.web.work import api, attribute, register_agency, s3, work
from tests.support.files import minimal_pdf
from tests.support.journeys import Journey

pytestmark = pytest.mark.integration
__all__ = ["s3", "work"]  # fixtures


def queue(page: str) -> list[str]:
    return re.findall(r'data-testid="antrean-item" data-id="([^"]+)"', page)


async def uploaded(work: Web) -> tuple[dict, list[dict]]:
    """An innovation of 62.10 with four evidence items, uploaded in this order: three PDFs
    and the video link."""
    await register_agency(work)
    async with api(work) as client:
        journey = Journey(client, "62.10", "dinkes")
        innovation = await journey.create_innovation("Posyandu Keliling")
        items = [await journey.upload(code, innovation) for code in ("sid-16", "sid-17", "sid-35", "sid-32")]
    return innovation, items


async def test_a_verifier_works_through_the_queue_oldest_first(work: Web) -> None:
    innovation, items = await uploaded(work)
    verifier = await work.signed_in("verifikator.gumas", "verifier", "62.10")
    page = await verifier.get("/verifikasi")
    assert page.status_code == 200
    assert queue(page.text) == [item["id"] for item in items]  # oldest first
    assert "Posyandu Keliling" in page.text and "Regulasi Inovasi Daerah" in page.text
    assert attribute(page.text, r'href="([^"]+)" data-testid="mulai"') == f"/verifikasi/{items[0]['id']}"

    first = items[0]
    item = await verifier.get(f"/verifikasi/{first['id']}")
    assert item.status_code == 200
    file_url = f"/bukti/{first['id']}/berkas"
    assert re.search(rf'<iframe class="doc-frame" src="{file_url}" title="[^"]+" data-testid="dokumen"', item.text)
    csp = item.headers["content-security-policy"]
    assert "frame-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert 'class="claimed" aria-current="true"' not in item.text  # nothing answered: nothing claimed

    served = await verifier.get(file_url)
    assert served.status_code == 200
    assert served.content == minimal_pdf("sid-16")
    assert served.headers["content-type"] == "application/pdf"
    assert served.headers["content-disposition"] == f'inline; filename="sid-16-{first["id"]}.pdf"'
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["x-frame-options"] == "SAMEORIGIN"
    file_csp = served.headers["content-security-policy"]
    assert "default-src 'none'" in file_csp and "frame-ancestors 'self'" in file_csp and "script" not in file_csp
    assert served.headers["cache-control"] == "private, no-store"

    # Another region's verifier: neither the item nor its file.
    other = await work.signed_in("verifikator.kapuas", "verifier", "62.03")
    assert (await other.get(f"/verifikasi/{first['id']}")).status_code == 404
    assert (await other.get(file_url)).status_code == 404
    assert queue((await other.get("/verifikasi")).text) == []
    # A viewer of the region reads scores, not documents.
    viewer = await work.signed_in("pemantau.gumas", "viewer", "62.10")
    assert (await viewer.get(file_url)).status_code == 403
    assert (await viewer.get(f"/verifikasi/{first['id']}")).status_code == 403
    # Without a session: to the login page.
    assert (await work.browser().get(file_url)).status_code == 303

    # Rejecting needs a reason: the form comes back with the message next to the field.
    await verifier.get(f"/verifikasi/{first['id']}")
    refused = await verifier.post(f"/verifikasi/{first['id']}/keputusan", {"decision": "rejected", "reason": "  "})
    assert refused.status_code == 422
    assert re.search(r'<p class="field-error" id="keputusan-reason-error">Alasan wajib diisi saat menolak data '
                     r'dukung\.</p>', refused.text)
    assert re.search(r'<textarea id="keputusan-reason" name="reason" rows="4" '
                     r'aria-describedby="keputusan-reason-hint keputusan-reason-error" aria-invalid="true" autofocus',
                     refused.text)
    rejected = await verifier.post(f"/verifikasi/{first['id']}/keputusan",
                                   {"decision": "rejected", "reason": "SK tidak memuat nama inovasi."})
    assert rejected.status_code == 303
    assert rejected.headers["location"] == f"/verifikasi/{items[1]['id']}?pesan=ditolak"  # the next item

    second = await verifier.get(rejected.headers["location"])
    assert "Data dukung ditolak" in second.text
    accepted = await verifier.post(f"/verifikasi/{items[1]['id']}/keputusan", {"decision": "accepted"})
    assert accepted.headers["location"] == f"/verifikasi/{items[2]['id']}?pesan=diterima"
    link = await verifier.get(accepted.headers["location"])
    assert re.search(r'href="https://www\.youtube\.com/watch\?v=sid-35" target="_blank" '
                     r'rel="noopener noreferrer nofollow"', link.text)
    assert 'data-display="link"' in link.text
    # Skipping leads on; past the end, back to the oldest one still pending.
    skipped = await verifier.get(f"/verifikasi/{items[2]['id']}/lewati")
    assert skipped.headers["location"] == f"/verifikasi/{items[3]['id']}"
    wrapped = await verifier.get(f"/verifikasi/{items[3]['id']}/lewati")
    assert wrapped.headers["location"] == f"/verifikasi/{items[2]['id']}"
    await verifier.get(f"/verifikasi/{items[3]['id']}")
    last = await verifier.post(f"/verifikasi/{items[3]['id']}/keputusan", {"decision": "accepted"})
    assert last.headers["location"] == f"/verifikasi/{items[2]['id']}?pesan=diterima"
    await verifier.get(f"/verifikasi/{items[2]['id']}")
    done = await verifier.post(f"/verifikasi/{items[2]['id']}/keputusan", {"decision": "accepted"})
    assert done.headers["location"] == "/verifikasi?pesan=diterima"
    empty = await verifier.get(done.headers["location"])
    assert queue(empty.text) == [] and 'data-testid="antrean-kosong"' in empty.text

    # The operator reads the verdicts on its innovation's page.
    operator = await work.signed_in("operator.dinkes", "operator", "62.10", "dinkes")
    mine = (await operator.get(f"/inovasi/{innovation['id']}")).text
    assert re.search(rf'data-evidence="{first["id"]}" data-state="rejected"', mine)
    assert "Alasan verifikator: SK tidak memuat nama inovasi." in mine
    assert re.search(r'id="indikator-sid-17"[^>]*data-evidence-state="accepted"', mine)
    # ... and its own file, through the same route.
    own = await operator.get(f"/bukti/{items[1]['id']}/berkas")
    assert own.status_code == 200 and own.content == minimal_pdf("sid-17")


async def test_an_image_is_shown_in_an_img_and_its_file_is_sandboxed(work: Web) -> None:
    await register_agency(work)
    async with api(work) as client:
        journey = Journey(client, "62.10", "dinkes")
        innovation = await journey.create_innovation("Layanan Daring")
        item = await journey.upload("sid-30", innovation)  # the screenshot indicator: images only
    verifier = await work.signed_in("verifikator.gumas", "verifier", "62.10")
    page = await verifier.get(f"/verifikasi/{item['id']}")
    assert re.search(rf'<img class="doc-image" src="/bukti/{item["id"]}/berkas" alt="[^"]+" data-testid="dokumen"',
                     page.text)
    served = await verifier.get(f"/bukti/{item['id']}/berkas")
    assert served.headers["content-type"] == "image/png"
    assert served.headers["content-security-policy"].startswith("sandbox; default-src 'none'")
    assert served.headers["x-content-type-options"] == "nosniff"
    # A body under another name is still what the evidence service detected; an unknown id is 404.
    assert (await verifier.get("/bukti/01a2-tidak-ada/berkas")).status_code == 404
