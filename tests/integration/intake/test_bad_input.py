"""Bad input gets a 4xx naming the field and the reason, and changes nothing (no row, no
event)."""

from __future__ import annotations

import json

import pytest

from .helpers import ADMIN, OPERATOR, REGION, create_innovation, eligible_body, if_match, register_agency, snapshot

pytestmark = pytest.mark.integration
JSON = {"Content-Type": "application/json"}


def _fields(response) -> list[str]:
    return [p["field"] for p in response.json().get("problems", [])]


@pytest.fixture
async def draft(client):
    await register_agency(client, "dinkes")
    return await create_innovation(client)


ANSWER_CASES = [
    ({"level": "2"}, "sid-16", 422, "body.level"),
    ({"level": True}, "sid-16", 422, "body.level"),
    ({"level": 2.5}, "sid-16", 422, "body.level"),
    ({"level": 4}, "sid-16", 422, "body.level"),
    ({"level": 0}, "sid-16", 422, "body.level"),
    ({}, "sid-16", 422, "body.level"),
    ({"level": 2, "evidence": "x"}, "sid-16", 422, "body.evidence"),
    ({"level": 2}, "sid-99", 422, "path.indicator"),
    ({"level": 2}, "spd-01", 422, "path.indicator"),
]


async def test_bad_sid_answers_are_refused(app, client, draft):
    # One app for all cases: starting one per case would dominate the run time.
    before = await snapshot(app)
    for body, indicator, status, field in ANSWER_CASES:
        response = await client.put(
            f"/v1/cycles/2026/innovations/{draft['id']}/answers/{indicator}", json=body, headers=if_match(1)
        )
        assert response.status_code == status, (body, indicator, response.text)
        assert _fields(response) == [field], (body, indicator, response.text)
    assert await snapshot(app) == before


async def test_the_reasons_say_what_is_wrong(app, client, draft):
    url = f"/v1/cycles/2026/innovations/{draft['id']}/answers"
    spd = (await client.put(f"{url}/spd-01", json={"level": 2}, headers=if_match(1))).json()
    assert "spd-01 is an SPD indicator, answered once per region" in spd["problems"][0]["reason"]
    unknown = (await client.put(f"{url}/sid-99", json={"level": 2}, headers=if_match(1))).json()
    assert unknown["problems"][0]["reason"] == "'sid-99' is not an indicator of methodology iid-2026"
    high = (await client.put(f"{url}/sid-16", json={"level": 4}, headers=if_match(1))).json()
    assert "less than or equal to 3" in high["problems"][0]["reason"]


PROFILE_CASES = [
    ({"name": 7}, ["body.name"]),
    ({"name": "   "}, ["body.name"]),
    ({"tahapan": "selesai"}, ["body.tahapan"]),
    ({"jenis": "online", "bentuk": "x", "inisiator": "bupati"}, ["body.jenis", "body.bentuk", "body.inisiator"]),
    ({"urusan_utama": "urusan_fiktif"}, ["body.urusan_utama"]),
    ({"urusan_lain": "sosial"}, ["body.urusan_lain"]),
    ({"urusan_lain": ["kesehatan"]}, ["body.urusan_lain"]),
    ({"urusan_lain": ["sosial", 3]}, ["body.urusan_lain[1]"]),
    ({"tanggal_penerapan": "15-01-2025"}, ["body.tanggal_penerapan"]),
    ({"tanggal_penerapan": "2025-02-30"}, ["body.tanggal_penerapan"]),
    ({"tanggal_penerapan": 20250115}, ["body.tanggal_penerapan"]),
    ({"tanggal_uji_coba": "2025-03-01", "tanggal_penerapan": "2025-01-15"}, ["body.tanggal_penerapan"]),
    ({"rancang_bangun": ["a", "b"]}, ["body.rancang_bangun"]),
    ({"status": "submitted"}, ["body.status"]),
    ({"version": 9}, ["body.version"]),
    ({"name": "Posyandu\u0000"}, ["body.name"]),  # PostgreSQL cannot store NUL: 422, never 500
    ({"tujuan": "Tujuan\u001b[2J"}, ["body.tujuan"]),  # a terminal escape: control characters are refused
    ({"manfaat": "baris\r\nkedua"}, ["body.manfaat"]),  # newline and tab only
    ({"hasil": "Hasil \ud800"}, ["body.hasil"]),  # a lone surrogate is not text
]


async def test_bad_profiles_are_refused_on_create_and_update(app, client, draft):
    before = await snapshot(app)
    for change, fields in PROFILE_CASES:
        # json.dumps escapes to ASCII, so even a lone surrogate travels as the client sent it.
        body = json.dumps(eligible_body(**change))
        created = await client.post("/v1/cycles/2026/innovations", content=body, headers={**OPERATOR, **JSON})
        updated = await client.put(
            f"/v1/cycles/2026/innovations/{draft['id']}", content=body, headers={**if_match(1), **JSON}
        )
        for response in (created, updated):
            assert response.status_code == 422, (change, response.text)
            assert _fields(response) == fields, (change, response.text)
            assert all(p["reason"] for p in response.json()["problems"])
    assert await snapshot(app) == before


async def test_missing_required_fields_and_malformed_bodies(app, client, draft):
    before = await snapshot(app)
    url = "/v1/cycles/2026/innovations"
    missing = await client.post(url, json={"tahapan": "penerapan"}, headers=OPERATOR)
    assert missing.status_code == 422 and set(_fields(missing)) == {"body.name", "body.urusan_utama"}
    not_json = await client.post(url, content=b"{name: x", headers={**OPERATOR, "Content-Type": "application/json"})
    assert not_json.status_code == 422 and _fields(not_json)[0].startswith("body")
    array = await client.post(url, json=[eligible_body()], headers=OPERATOR)
    assert array.status_code == 422 and _fields(array) == ["body"]
    bad_key = await client.post(url, json=eligible_body(), headers={**OPERATOR, "Idempotency-Key": "with space"})
    assert bad_key.status_code == 422 and _fields(bad_key) == ["header.Idempotency-Key"]
    assert await snapshot(app) == before


async def test_unknown_cycles_regions_and_paths(app, client, draft):
    before = await snapshot(app)
    spd = f"/v1/cycles/2026/regions/{REGION}/spd"
    agencies = f"/v1/regions/{REGION}/agencies"
    as_admin = if_match(0, ADMIN)
    cases = [
        (client.get("/v1/cycles/2025/innovations", headers=OPERATOR), 404, "path.year"),
        (client.get("/v1/cycles/dua-ribu/innovations", headers=OPERATOR), 422, "path.year"),
        (client.get("/v1/cycles/99999999999/innovations", headers=OPERATOR), 422, "path.year"),
        (client.get("/v1/cycles/2026/innovations/abc%00", headers=OPERATOR), 404, "path.innovation_id"),
        (client.get("/v1/cycles/2026/innovations", params={"after": "\x00"}, headers=ADMIN), 422, "query.after"),
        (client.post("/v1/cycles/2030/innovations", json=eligible_body(), headers=OPERATOR), 404, "path.year"),
        (client.get(f"/v1/cycles/2026/innovations/{draft['id']}x", headers=OPERATOR), 404, "path.innovation_id"),
        (client.put(f"/v1/cycles/2025/innovations/{draft['id']}", json=eligible_body(), headers=if_match(1)),
         404, "path.year"),
        (client.post("/v1/regions/99.99/agencies", json={"id": "dinkes", "name": "X"}, headers=ADMIN),
         404, "path.code"),
        (client.get("/v1/regions/6210/agencies", headers=ADMIN), 404, "path.code"),
        (client.put("/v1/cycles/2026/regions/99.99/spd/spd-01", json={"level": 1}, headers=as_admin), 404, "path.code"),
        (client.put(f"{spd}/sid-16", json={"level": 1}, headers=as_admin), 422, "path.indicator"),
        (client.put(f"{spd}/spd-99", json={"level": 1}, headers=as_admin), 422, "path.indicator"),
        (client.put(f"{spd}/spd-01", json={"level": 9}, headers=as_admin), 422, "body.level"),
        (client.put(f"{spd}/spd-01", json={"level": "1"}, headers=as_admin), 422, "body.level"),
        (client.post(agencies, json={"id": "Dinas Kesehatan", "name": "X"}, headers=ADMIN), 422, "body.id"),
        (client.post(agencies, json={"id": "dinsos", "name": " "}, headers=ADMIN), 422, "body.name"),
        (client.get("/v1/cycles/2026/innovations", params={"status": "done"}, headers=ADMIN), 422, "query.status[0]"),
        (client.get("/v1/cycles/2026/innovations", params={"limit": 0}, headers=ADMIN), 422, "query.limit"),
    ]
    for request, status, field in cases:
        response = await request
        assert response.status_code == status, response.text
        assert field in _fields(response), response.json()
    assert await snapshot(app) == before
