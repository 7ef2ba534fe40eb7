"""Tenants stay apart: an operator sees and changes only its agency's innovations, a region
admin only its region; verifiers and viewers read but never write."""

from __future__ import annotations

import pytest

from tests.support.platform import token

from .helpers import (
    ADMIN,
    OPERATOR,
    OTHER_AGENCY,
    OTHER_REGION,
    REGION,
    create_innovation,
    eligible_body,
    if_match,
    register_agency,
    snapshot,
)

pytestmark = pytest.mark.integration
VERIFIER = token("verifier", REGION)
VIEWER = token("viewer", REGION)
OPERATOR_ELSEWHERE = token("operator", OTHER_REGION, "dinkes")
ADMIN_ELSEWHERE = token("region_admin", OTHER_REGION)


async def test_reads_another_agency_or_region_gets_404_and_region_readers_see_it(app, client):
    await register_agency(client, "dinkes")
    innovation = await create_innovation(client)
    url = f"/v1/cycles/2026/innovations/{innovation['id']}"
    for headers in (OTHER_AGENCY, OPERATOR_ELSEWHERE, ADMIN_ELSEWHERE, token("viewer", OTHER_REGION)):
        response = await client.get(url, headers=headers)
        assert response.status_code == 404, headers
        assert response.json()["problems"][0]["field"] == "path.innovation_id"
    # Indistinguishable from an id that does not exist.
    unknown = await client.get("/v1/cycles/2026/innovations/nope", headers=OTHER_AGENCY)
    assert unknown.json() == (await client.get(url.replace(innovation["id"], "nope"), headers=OTHER_AGENCY)).json()
    for headers in (OPERATOR, ADMIN, VERIFIER, VIEWER):
        response = await client.get(url, headers=headers)
        assert response.status_code == 200 and response.headers["ETag"] == '"1"'
    assert (await client.get(url, headers={})).status_code == 401


async def test_writes_outside_the_callers_scope_are_refused_and_change_nothing(app, client):
    await register_agency(client, "dinkes")
    await register_agency(client, "bappeda")
    innovation = await create_innovation(client)
    url = f"/v1/cycles/2026/innovations/{innovation['id']}"
    before = await snapshot(app)

    def writes(headers: dict[str, str]):
        return [
            client.put(url, json=eligible_body(name="Ambil alih"), headers=if_match(1, headers)),
            client.put(f"{url}/answers/sid-16", json={"level": 3}, headers=if_match(1, headers)),
            client.post(f"{url}/submit", headers=if_match(1, headers)),
            client.post(f"{url}/withdraw", headers=if_match(1, headers)),
        ]

    # Another agency's operator cannot even see it.
    for request in writes(OTHER_AGENCY) + writes(OPERATOR_ELSEWHERE):
        assert (await request).status_code == 404
    # Readers of the region see it but may not change it.
    for headers in (ADMIN, VERIFIER, VIEWER):
        for request in writes(headers):
            response = await request
            assert response.status_code == 403, response.text
            assert response.json()["error"] == "forbidden"
    for headers in (ADMIN, VERIFIER, VIEWER):
        response = await client.post("/v1/cycles/2026/innovations", json=eligible_body(), headers=headers)
        assert response.status_code == 403
    spd = f"/v1/cycles/2026/regions/{REGION}/spd/spd-01"
    for headers in (OPERATOR, VERIFIER, VIEWER, ADMIN_ELSEWHERE):
        assert (await client.put(spd, json={"level": 2}, headers=if_match(0, headers))).status_code == 403
    for headers in (OPERATOR, VERIFIER, ADMIN_ELSEWHERE):
        response = await client.post(f"/v1/regions/{REGION}/agencies", json={"id": "x", "name": "X"}, headers=headers)
        assert response.status_code == 403
    assert await snapshot(app) == before


async def test_an_operator_of_an_unregistered_agency_cannot_create(app, client):
    before = await snapshot(app)
    response = await client.post("/v1/cycles/2026/innovations", json=eligible_body(), headers=OPERATOR)
    assert response.status_code == 403
    assert "agency 'dinkes' is not registered in region 62.10" in response.json()["reason"]
    assert await snapshot(app) == before


async def test_region_data_is_for_the_regions_own_people(app, client):
    await register_agency(client, "dinkes")
    assert (await client.get(f"/v1/regions/{REGION}/agencies", headers=ADMIN_ELSEWHERE)).status_code == 403
    assert (await client.get(f"/v1/cycles/2026/regions/{REGION}/spd", headers=ADMIN_ELSEWHERE)).status_code == 403
    status = f"/v1/cycles/2026/regions/{REGION}/agencies/status"
    assert (await client.get(status, headers=OPERATOR)).status_code == 403
    assert (await client.get(status, headers=ADMIN_ELSEWHERE)).status_code == 403
    assert (await client.get(status, headers=VIEWER)).status_code == 200
    listing = await client.get("/v1/cycles/2026/innovations", params={"agency": "bappeda"}, headers=OPERATOR)
    assert listing.status_code == 403
