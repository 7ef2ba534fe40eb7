"""Province admins and national principals read, and change nothing: a province admin every
region of its province, a national principal every region. And every event a request causes
names its actor (the caller's subject: an account's id)."""

from __future__ import annotations

import pytest

from services.common.tokens import issue_token
from tests.support.platform import AUTH_SECRET, token

from .helpers import (
    ADMIN,
    OPERATOR,
    REGION,
    all_published,
    create_innovation,
    eligible_body,
    if_match,
    register_agency,
    snapshot,
)

pytestmark = pytest.mark.integration
PROVINCE = "62"  # Provinsi Kalimantan Tengah: 62.10 is one of its kabupaten
FOREIGN = "63.01"  # Kabupaten Tanah Laut, in Provinsi Kalimantan Selatan (63)
PROVINCE_ADMIN = token("province_admin", PROVINCE)
NATIONAL = token("national", None)
FOREIGN_PROVINCE_ADMIN = token("province_admin", "63")


async def test_a_province_admin_reads_its_provinces_regions_and_a_national_principal_all(app, client):
    await register_agency(client, "dinkes")
    await register_agency(client, "dinkes", FOREIGN)
    ours = await create_innovation(client)
    theirs = await create_innovation(client, headers=token("operator", FOREIGN, "dinkes"))

    async def get(url: str, headers: dict[str, str], **params: str) -> int:
        response = await client.get(url, headers=headers, params=params)
        assert response.status_code in (200, 403, 404, 422), response.text
        return response.status_code

    def ids(response) -> list[str]:
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    # Innovations, one by one: a region the caller does not read is "not found", as for others.
    for headers, readable in ((PROVINCE_ADMIN, {ours["id"]}), (NATIONAL, {ours["id"], theirs["id"]}),
                              (FOREIGN_PROVINCE_ADMIN, {theirs["id"]})):
        for innovation in (ours, theirs):
            status = await get(f"/v1/cycles/2026/innovations/{innovation['id']}", headers)
            assert status == (200 if innovation["id"] in readable else 404), (headers, innovation["region"])

    # Listings name the region (`region=`); a region outside the caller's reach is forbidden.
    listed = await client.get("/v1/cycles/2026/innovations", params={"region": REGION}, headers=PROVINCE_ADMIN)
    assert ids(listed) == [ours["id"]] and listed.json()["region"] == REGION
    own = await client.get("/v1/cycles/2026/innovations", headers=PROVINCE_ADMIN)  # its provinsi's
    assert ids(own) == [] and own.json()["region"] == PROVINCE
    assert await get("/v1/cycles/2026/innovations", PROVINCE_ADMIN, region=FOREIGN) == 403
    assert ids(await client.get("/v1/cycles/2026/innovations", params={"region": FOREIGN}, headers=NATIONAL)) == [
        theirs["id"]
    ]
    needs_region = await client.get("/v1/cycles/2026/innovations", headers=NATIONAL)
    assert needs_region.status_code == 422 and needs_region.json()["problems"][0]["field"] == "query.region"
    # The region-bound roles keep their own region, and may name it.
    assert ids(await client.get("/v1/cycles/2026/innovations", params={"region": REGION}, headers=ADMIN)) == [
        ours["id"]
    ]
    assert await get("/v1/cycles/2026/innovations", ADMIN, region=FOREIGN) == 403
    assert await get("/v1/cycles/2026/innovations", ADMIN, region="99.99") == 422

    # A region's agencies, their status and its SPD answers.
    for path in ("/v1/regions/{code}/agencies", "/v1/cycles/2026/regions/{code}/agencies/status",
                 "/v1/cycles/2026/regions/{code}/spd"):
        for code in (REGION, "62.71", PROVINCE):
            assert await get(path.format(code=code), PROVINCE_ADMIN) == 200, (path, code)
            assert await get(path.format(code=code), NATIONAL) == 200, (path, code)
        assert await get(path.format(code=FOREIGN), PROVINCE_ADMIN) == 403, path
        assert await get(path.format(code=FOREIGN), NATIONAL) == 200, path
    status = (await client.get(f"/v1/cycles/2026/regions/{REGION}/agencies/status", headers=PROVINCE_ADMIN)).json()
    assert status["not_reported"] == ["dinkes"]


async def test_they_change_nothing(app, client):
    await register_agency(client, "dinkes")
    innovation = await create_innovation(client)
    url = f"/v1/cycles/2026/innovations/{innovation['id']}"
    before = await snapshot(app)
    for headers in (PROVINCE_ADMIN, NATIONAL):
        writes = [
            client.post("/v1/cycles/2026/innovations", json=eligible_body(), headers=headers),
            client.put(url, json=eligible_body(name="Ambil alih"), headers=if_match(1, headers)),
            client.put(f"{url}/answers/sid-16", json={"level": 3}, headers=if_match(1, headers)),
            client.post(f"{url}/submit", headers=if_match(1, headers)),
            client.post(f"{url}/withdraw", headers=if_match(1, headers)),
            client.put(f"/v1/cycles/2026/regions/{REGION}/spd/spd-01", json={"level": 2}, headers=if_match(0, headers)),
            client.put(f"/v1/cycles/2026/regions/{PROVINCE}/spd/spd-01", json={"level": 2},
                       headers=if_match(0, headers)),
            client.post(f"/v1/regions/{REGION}/agencies", json={"id": "x", "name": "X"}, headers=headers),
            client.post(f"/v1/regions/{PROVINCE}/agencies", json={"id": "x", "name": "X"}, headers=headers),
        ]
        for request in writes:
            response = await request
            assert response.status_code == 403, response.text
            assert response.json()["error"] == "forbidden"
    assert await snapshot(app) == before


def _account(role: str, region: str | None, agency: str | None = None, *, account: str) -> dict[str, str]:
    jwt = issue_token(AUTH_SECRET, role, region, agency, subject=account, token_id=f"tok-{account}")  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {jwt}"}


async def test_every_event_names_the_account_that_caused_it(app, client):
    admin = _account("region_admin", REGION, account="acc-admin-1")
    operator = _account("operator", REGION, "dinkes", account="acc-operator-1")
    await register_agency(client, "dinkes")
    created = await create_innovation(client, headers=operator)
    url = f"/v1/cycles/2026/innovations/{created['id']}"
    updated = await client.put(url, json=eligible_body(name="Posyandu Keliling"), headers=if_match(1, operator))
    assert updated.status_code == 200, updated.text
    answered = await client.put(f"{url}/answers/sid-16", json={"level": 2}, headers=if_match(2, OPERATOR))
    assert answered.status_code == 200, answered.text
    spd = f"/v1/cycles/2026/regions/{REGION}/spd/spd-01"
    assert (await client.put(spd, json={"level": 2}, headers=if_match(0, admin))).status_code == 200
    events = await all_published(app)
    assert [(e.type, e.actor) for e in events] == [
        ("innovation.created", "acc-operator-1"),
        ("innovation.updated", "acc-operator-1"),
        ("innovation.updated", "operator:62.10:dinkes"),  # a token issued by the CLI: its subject
        ("spd.answer_set", "acc-admin-1"),
    ]
