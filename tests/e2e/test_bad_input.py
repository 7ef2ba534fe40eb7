"""Bad input through the platform's URLs: each a 4xx naming the problem, and nothing stored
(no row, no event in any outbox, no object)."""

from __future__ import annotations

import asyncpg
import pytest
from minio import Minio

from services.evidence.settings import EvidenceSettings
from tests.support.files import minimal_pdf, tiny_png
from tests.support.journeys import CYCLE, Journey

pytestmark = pytest.mark.integration
REGION = "62.10"


def stored_objects(settings) -> int:
    client = Minio(settings.s3_endpoint, settings.s3_access_key, settings.s3_secret_key.get_secret_value(),
                   secure=False, region=settings.s3_region)
    return sum(1 for _ in client.list_objects(settings.s3_bucket, recursive=True))


async def footprint(db: asyncpg.Connection, settings) -> dict[str, int]:
    intake, evidence = settings.schema_of("intake"), settings.schema_of("evidence")
    return {
        "s3.objects": stored_objects(settings),
        "intake.outbox": await db.fetchval(f"SELECT count(*) FROM {intake}.outbox"),
        "evidence.outbox": await db.fetchval(f"SELECT count(*) FROM {evidence}.outbox"),
        "evidence.rows": await db.fetchval(f"SELECT count(*) FROM {evidence}.evidence"),
    }


def problem_fields(body: dict) -> list[str]:
    return [p["field"] for p in body.get("problems", [])]


async def test_bad_input_is_refused_with_the_field_named_and_nothing_stored(platform):
    client, settings = platform
    journey = Journey(client, REGION)
    await journey.register_agency()
    innovation = await journey.create_innovation("Layanan Antar Obat")
    innovation = await journey.answer(innovation, "sid-16", 2)
    await journey.upload("sid-16", innovation)  # the projection now knows the innovation
    db = await asyncpg.connect(settings.database_url)
    try:
        before = await footprint(db, settings)
        url = f"/intake/v1/cycles/{CYCLE}/innovations/{innovation['id']}"
        operator = journey.operator
        fresh = {**operator, "If-Match": str(innovation["version"])}
        stale = {**operator, "If-Match": "1"}
        as_pdf = {**operator, "Content-Type": "application/pdf"}

        def evidence_of(indicator: str) -> dict:
            return {"cycle": CYCLE, "innovation": innovation["id"], "indicator": indicator}

        cases = [
            # wrong type
            (await client.put(f"{url}/answers/sid-17", json={"level": "2"}, headers=fresh), 422, "body.level"),
            # level out of range
            (await client.put(f"{url}/answers/sid-17", json={"level": 4}, headers=fresh), 422, "body.level"),
            # unknown indicator
            (await client.put(f"{url}/answers/sid-99", json={"level": 1}, headers=fresh), 422, "path.indicator"),
            # stale If-Match
            (await client.put(f"{url}/answers/sid-17", json={"level": 1}, headers=stale), 412, "header.If-Match"),
            # unknown enumeration value and a wrong type in a profile
            (await client.post(f"/intake/v1/cycles/{CYCLE}/innovations", json={"name": "X", "urusan_utama": "magic"},
                               headers=operator), 422, "body.urusan_utama"),
            # a "PDF" that is a PNG, for an indicator that accepts only PDF
            (await client.post("/evidence/v1/evidence", params=evidence_of("sid-17"),
                               content=tiny_png(), headers=as_pdf), 422, None),
            # text pretending to be a PDF
            (await client.post("/evidence/v1/evidence", params=evidence_of("sid-17"),
                               content=b"this is not a pdf at all", headers=operator), 422, None),
            # unknown indicator for evidence
            (await client.post("/evidence/v1/evidence", params=evidence_of("sid-99"),
                               content=minimal_pdf(), headers=operator), 422, "query.indicator"),
        ]
        cap = EvidenceSettings(**settings.model_dump()).evidence_max_upload_bytes
        too_big = minimal_pdf() + b"\0" * cap
        cases.append((await client.post("/evidence/v1/evidence", params=evidence_of("sid-17"),
                                        content=too_big, headers=operator), 413, None))
        for response, status, field in cases:
            assert response.status_code == status, (response.request.url, response.status_code, response.text)
            body = response.json()
            assert body.get("error"), body
            if field is not None:
                assert field in problem_fields(body), body
            else:
                assert body.get("problems") or body.get("reason"), body
        # The file-type refusals say what the file is and what is accepted.
        assert "png" in cases[5][0].text.lower() and "pdf" in cases[5][0].text.lower()
        assert await footprint(db, settings) == before
        current = await journey.check(await client.get(url, headers=journey.operator), 200)
        assert current["version"] == innovation["version"] and current["answers"] == {"sid-16": 2}
    finally:
        await db.close()
