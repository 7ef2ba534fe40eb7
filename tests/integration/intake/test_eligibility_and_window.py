"""Submit names every failed eligibility rule; a closed submission window stops every write."""

from __future__ import annotations

import pytest

from .helpers import (
    ADMIN,
    MANDATORY_SID,
    OPERATOR,
    REGION,
    answer_mandatory,
    create_innovation,
    eligible_body,
    if_match,
    register_agency,
    set_window,
    snapshot,
)

pytestmark = pytest.mark.integration


async def test_submit_names_every_failed_rule_and_changes_nothing(app, client):
    await register_agency(client, "dinkes")
    draft = await create_innovation(client, {
        "name": "Baru dimulai",
        "urusan_utama": "pendidikan",
        "tanggal_penerapan": "2023-12-31",
        "rancang_bangun": "Rancang bangun yang masih terlalu pendek.",
    })
    url = f"/v1/cycles/2026/innovations/{draft['id']}"
    await set_window(app, open_=False)
    before = await snapshot(app)

    response = await client.post(f"{url}/submit", headers=if_match(1))
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "not_eligible"
    assert body["failed_rules"] == sorted([
        "required_fields", "application_date_in_period", "rancang_bangun_length",
        "mandatory_indicators", "submission_window",
    ])
    problems = {p["field"]: p["reason"] for p in body["problems"]}
    assert set(problems) == {
        "tahapan", "jenis", "bentuk", "inisiator", "tanggal_uji_coba", "tujuan", "manfaat", "hasil",
        "tanggal_penerapan", "rancang_bangun", "cycle", *(f"answers.{c}" for c in MANDATORY_SID),
    }
    assert "2023-12-31 is outside the period of cycle 2026 (2024-01-01 to 2026-12-31)" in problems["tanggal_penerapan"]
    assert problems["rancang_bangun"] == "rancang bangun has 6 words; at least 300 are required"
    assert "closed at" in problems["cycle"]
    assert await snapshot(app) == before
    # The read model shows the same problems before anyone presses submit.
    shown = (await client.get(url, headers=OPERATOR)).json()["eligibility"]
    assert not shown["eligible"] and {p["field"] for p in shown["problems"]} == set(problems)


@pytest.mark.parametrize(
    ("change", "rule", "field"),
    [
        ({"tujuan": None}, "required_fields", "tujuan"),
        ({"tanggal_penerapan": "2027-01-01"}, "application_date_in_period", "tanggal_penerapan"),
        ({"rancang_bangun": " ".join(["kata"] * 299)}, "rancang_bangun_length", "rancang_bangun"),
    ],
)
async def test_one_failed_rule_is_named_alone(app, client, change, rule, field):
    await register_agency(client, "dinkes")
    innovation = await answer_mandatory(client, await create_innovation(client, eligible_body(**change)))
    response = await client.post(
        f"/v1/cycles/2026/innovations/{innovation['id']}/submit", headers=if_match(innovation["version"])
    )
    assert response.status_code == 422
    assert response.json()["failed_rules"] == [rule]
    assert [p["field"] for p in response.json()["problems"]] == [field]


async def test_a_closed_window_refuses_every_write_and_changes_nothing(app, client):
    await register_agency(client, "dinkes")
    draft = await create_innovation(client)
    submitted = await answer_mandatory(client, await create_innovation(client))
    submitted = (await client.post(f"/v1/cycles/2026/innovations/{submitted['id']}/submit",
                                   headers=if_match(submitted["version"]))).json()
    await set_window(app, open_=False)
    before = await snapshot(app)

    submitted_url = f"/v1/cycles/2026/innovations/{submitted['id']}"
    writes = {
        "create": client.post("/v1/cycles/2026/innovations", json=eligible_body(), headers=OPERATOR),
        "update": client.put(f"/v1/cycles/2026/innovations/{draft['id']}", json=eligible_body(name="Ubah"),
                             headers=if_match(1)),
        "answer": client.put(f"{submitted_url}/answers/sid-16", json={"level": 1},
                             headers=if_match(submitted["version"])),
        "withdraw": client.post(f"{submitted_url}/withdraw", headers=if_match(submitted["version"])),
        "spd": client.put(f"/v1/cycles/2026/regions/{REGION}/spd/spd-01", json={"level": 2},
                          headers=if_match(0, ADMIN)),
    }
    for name, request in writes.items():
        response = await request
        assert response.status_code == 409, (name, response.text)
        assert response.json()["error"] == "submission_window_closed"
        assert response.json()["problems"][0]["field"] == "cycle"
    assert await snapshot(app) == before

    await set_window(app, open_=True)
    reopened = await client.post(f"{submitted_url}/withdraw", headers=if_match(submitted["version"]))
    assert reopened.status_code == 200


async def test_status_changes_the_status_does_not_allow_are_conflicts(app, client):
    await register_agency(client, "dinkes")
    innovation = await answer_mandatory(client, await create_innovation(client))
    url = f"/v1/cycles/2026/innovations/{innovation['id']}"
    version = innovation["version"]
    early = await client.post(f"{url}/withdraw", headers=if_match(version))
    assert early.status_code == 409
    reason = "only a submitted innovation can be withdrawn; this one is draft"
    assert early.json()["problems"] == [{"field": "status", "reason": reason}]
    assert (await client.post(f"{url}/submit", headers=if_match(version))).status_code == 200
    twice = await client.post(f"{url}/submit", headers=if_match(version + 1))
    assert twice.status_code == 409 and "already submitted" in twice.json()["problems"][0]["reason"]
