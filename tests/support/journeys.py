"""What users do through the HTTP APIs, step by step, for end-to-end tests and benchmarks."""

from __future__ import annotations

import httpx

from services.common.methodology.catalogue import load_methodology
from tests.support.files import minimal_pdf, tiny_png
from tests.support.platform import token

CYCLE = 2026
RANCANG_BANGUN = " ".join(
    ["Inovasi ini dirancang untuk mempercepat layanan kesehatan ibu dan anak di desa terpencil"] * 25
)  # 14 words × 25 = 350 words: above the 300-word rule


def profile(name: str, urusan: str = "kesehatan") -> dict:
    return {
        "name": name, "urusan_utama": urusan, "urusan_lain": ["sosial"] if urusan != "sosial" else [],
        "tahapan": "penerapan", "jenis": "digital", "bentuk": "pelayanan_publik", "inisiator": "perangkat_daerah",
        "tanggal_uji_coba": "2025-02-01", "tanggal_penerapan": "2025-06-01",
        "rancang_bangun": RANCANG_BANGUN, "tujuan": "Mempercepat layanan", "manfaat": "Waktu tunggu turun",
        "hasil": "Cakupan imunisasi naik",
    }


def evidence_for(indicator: str) -> tuple[bytes | None, dict | None]:
    """(file bytes, or None and a link body) that the indicator accepts."""
    rule = load_methodology("iid-2026").indicator_by_code[indicator].evidence
    kinds = rule.kinds if rule else ("pdf", "image")  # SPD: no rule in the catalogue
    if "pdf" in kinds:
        return minimal_pdf(indicator), None
    if "image" in kinds:
        return tiny_png(), None
    return None, {"link": f"https://www.youtube.com/watch?v={indicator}"}


class Journey:
    def __init__(self, client: httpx.AsyncClient, region: str = "62.10", agency: str = "dinkes"):
        self.client = client
        self.region = region
        self.agency = agency
        self.operator = token("operator", region, agency)
        self.admin = token("region_admin", region)
        self.verifier = token("verifier", region)
        self.viewer = token("viewer", region)
        self.last_spd_event: str | None = None  # X-Event-Id of the last SPD answer set

    async def check(self, response: httpx.Response, *expected: int) -> dict:
        request = response.request
        assert response.status_code in expected, (
            f"{request.method} {request.url}: {response.status_code} {response.text}"
        )
        return response.json() if response.content else {}

    async def register_agency(self, name: str = "Dinas Kesehatan") -> None:
        response = await self.client.post(
            f"/intake/v1/regions/{self.region}/agencies", json={"id": self.agency, "name": name}, headers=self.admin
        )
        await self.check(response, 201, 409)

    async def create_innovation(self, name: str, urusan: str = "kesehatan") -> dict:
        response = await self.client.post(
            f"/intake/v1/cycles/{CYCLE}/innovations", json=profile(name, urusan), headers=self.operator
        )
        return await self.check(response, 201)

    async def answer(self, innovation: dict, indicator: str, level: int) -> dict:
        response = await self.client.put(
            f"/intake/v1/cycles/{CYCLE}/innovations/{innovation['id']}/answers/{indicator}",
            json={"level": level}, headers={**self.operator, "If-Match": str(innovation["version"])})
        return await self.check(response, 200)

    async def submit(self, innovation: dict) -> dict:
        response = await self.client.post(
            f"/intake/v1/cycles/{CYCLE}/innovations/{innovation['id']}/submit",
            headers={**self.operator, "If-Match": str(innovation["version"])})
        return await self.check(response, 200)

    async def set_spd(self, indicator: str, level: int) -> dict:
        spd = await self.client.get(f"/intake/v1/cycles/{CYCLE}/regions/{self.region}/spd", headers=self.admin)
        current = await self.check(spd, 200)
        version = next(a["version"] for a in current["answers"] if a["indicator"] == indicator)
        response = await self.client.put(
            f"/intake/v1/cycles/{CYCLE}/regions/{self.region}/spd/{indicator}",
            json={"level": level}, headers={**self.admin, "If-Match": str(version)})
        body = await self.check(response, 200)
        self.last_spd_event = response.headers.get("x-event-id")
        return body

    async def upload(self, indicator: str, innovation: dict | None = None) -> dict:
        """Upload evidence for an SID answer (operator, with the innovation's upload grant, so
        no wait for the evidence service to learn of it) or an SPD answer (region admin)."""
        content, link = evidence_for(indicator)
        if innovation is not None:
            params = {"cycle": CYCLE, "innovation": innovation["id"], "indicator": indicator}
            headers = {**self.operator, "X-Upload-Grant": innovation["upload_grant"]}
        else:
            params, headers = {"cycle": CYCLE, "region": self.region, "indicator": indicator}, self.admin
        if link is not None:
            response = await self.client.post("/evidence/v1/evidence", params=params, json=link, headers=headers)
        else:
            response = await self.client.post("/evidence/v1/evidence", params=params, content=content,
                                              headers={**headers, "Content-Type": "application/octet-stream"})
        return await self.check(response, 201)

    async def decide(self, evidence: dict, decision: str, reason: str | None = None) -> dict:
        body = {"decision": decision, **({"reason": reason} if reason else {})}
        response = await self.client.post(
            f"/evidence/v1/evidence/{evidence['id']}/decision", json=body, headers=self.verifier
        )
        return await self.check(response, 200)

    async def score(self) -> dict:
        response = await self.client.get(f"/scoring/v1/cycles/{CYCLE}/regions/{self.region}/score", headers=self.viewer)
        return await self.check(response, 200)
