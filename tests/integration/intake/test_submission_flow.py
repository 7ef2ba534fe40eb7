"""Intake against real PostgreSQL and Redis: the create → answer → submit path with its
events on `intake.events`, idempotent creates, optimistic concurrency, SPD answers and the
agencies' reporting status."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from services.common import events as ev
from services.common.tokens import UploadGrant, UploadGrants
from services.intake.adapters import store
from tests.support.platform import AUTH_SECRET, token

from .helpers import (
    ADMIN,
    MANDATORY_SID,
    OPERATOR,
    REGION,
    all_published,
    answer_mandatory,
    create_innovation,
    eligible_body,
    if_match,
    published,
    register_agency,
    snapshot,
)

pytestmark = pytest.mark.integration
GRANTS = UploadGrants(AUTH_SECRET)


async def test_create_answer_submit_withdraw_publishes_the_new_state_in_order(app, client, redis, settings):
    await register_agency(client, "dinkes")
    created = await create_innovation(client, eligible_body(rancang_bangun="belum lengkap"))
    assert (created["status"], created["version"]) == ("draft", 1)
    innovation_id = created["id"]
    url = f"/v1/cycles/2026/innovations/{innovation_id}"

    updated = await client.put(url, json=eligible_body(), headers=if_match(1))
    assert updated.status_code == 200, updated.text
    assert updated.headers["ETag"] == '"2"' and updated.json()["rancang_bangun_words"] == 300
    answered = await answer_mandatory(client, updated.json())
    assert answered["version"] == 2 + len(MANDATORY_SID)
    assert answered["eligibility"] == {"eligible": True, "problems": []}
    optional = await client.put(f"{url}/answers/sid-18", json={"level": 1}, headers=if_match(answered["version"]))
    cleared = await client.put(
        f"{url}/answers/sid-18", json={"level": None}, headers=if_match(optional.json()["version"])
    )
    assert cleared.json()["answers"] == {code: 3 for code in MANDATORY_SID}

    version = cleared.json()["version"]
    submitted = await client.post(f"{url}/submit", headers=if_match(version))
    assert submitted.status_code == 200, submitted.text
    assert (submitted.json()["status"], submitted.json()["version"]) == ("submitted", version + 1)
    assert submitted.json()["submitted_at"] is not None
    withdrawn = await client.post(f"{url}/withdraw", headers=if_match(version + 1))
    assert (withdrawn.json()["status"], withdrawn.json()["version"]) == ("withdrawn", version + 2)

    events = await published(redis, settings, version + 2)
    assert [e.type for e in events] == (
        ["innovation.created"] + ["innovation.updated"] * (version - 1)
        + ["innovation.submitted", "innovation.withdrawn"]
    )
    assert [e.version for e in events] == list(range(1, version + 3))
    assert all(e.subject == innovation_id and e.region == REGION and e.cycle == 2026 for e in events)
    assert len({e.event_id for e in events}) == len(events)
    submitted_event = events[-2]
    assert isinstance(submitted_event, ev.InnovationSubmitted)
    assert submitted_event.data == ev.InnovationState(
        id=innovation_id, agency_id="dinkes", name="Posyandu Digital", status="submitted",
        urusan_utama="kesehatan", urusan_lain=["sosial"], answers={code: 3 for code in MANDATORY_SID},
    )
    assert events[0].data.answers == {} and events[0].data.status == "draft"
    # The read side agrees with the last event.
    final = (await client.get(url, headers=OPERATOR)).json()
    assert (final["status"], final["version"]) == ("withdrawn", events[-1].version)
    # Resubmission after withdrawal is allowed while the window is open.
    again = await client.post(f"{url}/submit", headers=if_match(version + 2))
    assert (again.status_code, again.json()["status"]) == (200, "submitted")


async def test_a_submitted_innovation_stays_submitted_and_eligible_when_edited(app, client, redis, settings):
    await register_agency(client, "dinkes")
    innovation = await answer_mandatory(client, await create_innovation(client))
    url = f"/v1/cycles/2026/innovations/{innovation['id']}"
    submitted = (await client.post(f"{url}/submit", headers=if_match(innovation["version"]))).json()

    changed = await client.put(f"{url}/answers/sid-16", json={"level": 1}, headers=if_match(submitted["version"]))
    assert changed.status_code == 200
    assert (changed.json()["status"], changed.json()["answers"]["sid-16"]) == ("submitted", 1)
    before = await snapshot(app)
    cleared = await client.put(
        f"{url}/answers/sid-16", json={"level": None}, headers=if_match(changed.json()["version"])
    )
    assert cleared.status_code == 422
    assert cleared.json()["problems"] == [{
        "field": "answers.sid-16",
        "reason": "mandatory indicator sid-16 (Regulasi Inovasi Daerah) is not answered",
    }]
    shortened = await client.put(
        url, json=eligible_body(rancang_bangun="terlalu pendek"), headers=if_match(changed.json()["version"])
    )
    assert shortened.status_code == 422 and shortened.json()["failed_rules"] == ["rancang_bangun_length"]
    assert await snapshot(app) == before

    events = await all_published(app)
    assert events[-1].type == "innovation.updated" and events[-1].data.status == "submitted"
    assert events[-1].data.answers["sid-16"] == 1


async def test_the_same_idempotency_key_and_body_replays_the_first_response(app, client):
    await register_agency(client, "dinkes")
    headers = {**OPERATOR, "Idempotency-Key": "form-7f3a"}
    first = await client.post("/v1/cycles/2026/innovations", json=eligible_body(), headers=headers)
    # Same body with keys in another order: the same request.
    reordered = dict(reversed(list(eligible_body().items())))
    second = await client.post("/v1/cycles/2026/innovations", json=reordered, headers=headers)
    assert first.status_code == second.status_code == 201
    # The first answer again; only its upload grant is fresh (the stored one may have expired).
    assert {**second.json(), "upload_grant": None} == {**first.json(), "upload_grant": None}
    assert GRANTS.verify(second.json()["upload_grant"]) == GRANTS.verify(first.json()["upload_grant"])
    assert second.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert second.headers["ETag"] == first.headers["ETag"] == '"1"'

    before = await snapshot(app)
    different = await client.post("/v1/cycles/2026/innovations", json=eligible_body(name="Lain"), headers=headers)
    assert different.status_code == 422
    assert different.json()["problems"][0]["field"] == "header.Idempotency-Key"
    assert await snapshot(app) == before

    other_key = await client.post(
        "/v1/cycles/2026/innovations", json=eligible_body(), headers={**OPERATOR, "Idempotency-Key": "form-8b"}
    )
    assert other_key.status_code == 201 and other_key.json()["id"] != first.json()["id"]
    events = await all_published(app)
    assert [e.type for e in events] == ["innovation.created", "innovation.created"]


async def test_concurrent_creates_with_one_key_make_one_innovation(app, client):
    await register_agency(client, "dinkes")
    headers = {**OPERATOR, "Idempotency-Key": "double-click"}
    responses = await asyncio.gather(*(
        client.post("/v1/cycles/2026/innovations", json=eligible_body(), headers=headers) for _ in range(6)
    ))
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    state = await snapshot(app)
    assert len(state["innovations"]) == 1 and state["outbox"] == 1


async def test_a_stale_or_missing_if_match_changes_nothing(app, client):
    await register_agency(client, "dinkes")
    innovation = await create_innovation(client)
    url = f"/v1/cycles/2026/innovations/{innovation['id']}"
    assert (await client.put(url, json=eligible_body(name="Versi 2"), headers=if_match(1))).status_code == 200
    before = await snapshot(app)

    stale = await client.put(url, json=eligible_body(name="Menimpa"), headers=if_match(1))
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 2
    reason = "version 1 is stale; the current version is 2"
    assert stale.json()["problems"] == [{"field": "header.If-Match", "reason": reason}]
    missing = await client.put(url, json=eligible_body(name="Menimpa"), headers=OPERATOR)
    assert missing.status_code == 428 and missing.json()["problems"][0]["field"] == "header.If-Match"
    assert missing.json()["current_version"] == 2
    for request in (
        client.put(f"{url}/answers/sid-16", json={"level": 2}, headers=if_match(1)),
        client.post(f"{url}/submit", headers=if_match(1)),
        client.post(f"{url}/withdraw", headers=OPERATOR),
        client.put(url, json=eligible_body(), headers={**OPERATOR, "If-Match": "versi-dua"}),
    ):
        response = await request
        assert response.status_code in (412, 422, 428), response.text
        assert response.json()["problems"][0]["field"] == "header.If-Match"
    assert await snapshot(app) == before
    current = (await client.get(url, headers=OPERATOR)).json()
    assert (current["name"], current["version"]) == ("Versi 2", 2)
    # Both the bare number and a weak tag are understood.
    bare = await client.put(url, json=eligible_body(name="V3"), headers={**OPERATOR, "If-Match": "2"})
    assert bare.status_code == 200
    weak = await client.put(url, json=eligible_body(name="V4"), headers={**OPERATOR, "If-Match": 'W/"3"'})
    assert weak.status_code == 200


async def test_two_writers_with_the_same_version_one_wins_the_other_gets_412(app, client):
    await register_agency(client, "dinkes")
    innovation = await create_innovation(client)
    url = f"/v1/cycles/2026/innovations/{innovation['id']}"
    responses = await asyncio.gather(*(
        client.put(url, json=eligible_body(name=f"Penulis {n}"), headers=if_match(1)) for n in range(5)
    ))
    assert sorted(r.status_code for r in responses) == [200, 412, 412, 412, 412]
    winner = next(r.json() for r in responses if r.status_code == 200)
    current = (await client.get(url, headers=OPERATOR)).json()
    assert (current["name"], current["version"]) == (winner["name"], 2)
    assert [e.version for e in await all_published(app)] == [1, 2]


async def test_a_write_computed_from_a_version_another_writer_replaced_writes_nothing(app, client):
    """The write after the read, decided on the version read: when a concurrent writer
    committed in between, neither the state nor its event is written (the request answers
    412), however the two interleave."""
    await register_agency(client, "dinkes")
    innovation = await create_innovation(client)
    url = f"/v1/cycles/2026/innovations/{innovation['id']}"
    async with app.state.runtime.pool.acquire() as conn:
        read = await store.get_innovation(conn, 2026, innovation["id"])
    assert read is not None and read.version == 1
    replaced = await client.put(url, json=eligible_body(name="Yang lebih dulu"), headers=if_match(1))
    assert replaced.status_code == 200, replaced.text

    late = read.with_profile(replace(read.profile, name="Yang terlambat"))
    assert late is not None and late.version == 2
    event = ev.InnovationUpdated(
        cycle=2026, region=late.region, subject=late.id, version=late.version,
        data=ev.InnovationState(id=late.id, agency_id=late.agency_id, name=late.profile.name, status=late.status,
                                urusan_utama=late.profile.urusan_utama, answers={}),
    )
    async with app.state.runtime.pool.acquire() as conn:
        assert await store.save_innovation(conn, late, event) is None
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE event_id = $1", event.event_id) == 0
    current = (await client.get(url, headers=OPERATOR)).json()
    assert (current["name"], current["version"]) == ("Yang lebih dulu", 2)


async def test_an_unchanged_write_makes_no_version_and_no_event(app, client):
    await register_agency(client, "dinkes")
    innovation = await create_innovation(client)
    url = f"/v1/cycles/2026/innovations/{innovation['id']}"
    same = await client.put(url, json=eligible_body(), headers=if_match(1))
    assert same.status_code == 200 and same.json()["version"] == 1
    assert same.json()["event_id"] is None and "x-event-id" not in same.headers
    assert [e.type for e in await all_published(app)] == ["innovation.created"]


async def test_every_write_names_the_event_it_caused(app, client):
    """Read your writes: the event id in the body and the X-Event-Id header is the one
    published, so a client can wait for it to be reflected (scoring's `after_event`)."""
    await register_agency(client, "dinkes")
    created = await client.post("/v1/cycles/2026/innovations", json=eligible_body(), headers=OPERATOR)
    innovation = created.json()
    answered = await client.put(
        f"/v1/cycles/2026/innovations/{innovation['id']}/answers/sid-16", json={"level": 2},
        headers=if_match(innovation["version"]),
    )
    spd_url = f"/v1/cycles/2026/regions/{REGION}/spd/spd-01"
    spd = await client.put(spd_url, json={"level": 3}, headers=if_match(0, ADMIN))
    read = await client.get(f"/v1/cycles/2026/innovations/{innovation['id']}", headers=OPERATOR)
    writes = [created, answered, spd]
    assert all(w.status_code in (200, 201) for w in writes)
    assert [w.json()["event_id"] for w in writes] == [w.headers["x-event-id"] for w in writes]
    events = await all_published(app)
    assert [str(e.event_id) for e in events] == [w.json()["event_id"] for w in writes]
    assert [e.type for e in events] == ["innovation.created", "innovation.updated", "spd.answer_set"]
    assert read.json()["event_id"] is None and "x-event-id" not in read.headers


async def test_spd_answers_are_versioned_per_indicator_and_published(app, client, redis, settings):
    base = f"/v1/cycles/2026/regions/{REGION}/spd"
    listing = (await client.get(base, headers=ADMIN)).json()
    assert len(listing["answers"]) == 20 and listing["methodology"] == "iid-2026"
    assert all(a["version"] == 0 and a["level"] is None for a in listing["answers"])

    first = await client.put(f"{base}/spd-01", json={"level": 2}, headers=if_match(0, ADMIN))
    assert first.status_code == 200 and first.headers["ETag"] == '"1"'
    second = await client.put(f"{base}/spd-01", json={"level": 3}, headers=if_match(1, ADMIN))
    other = await client.put(f"{base}/spd-06", json={"level": 1}, headers=if_match(0, ADMIN))
    cleared = await client.put(f"{base}/spd-01", json={"level": None}, headers=if_match(2, ADMIN))
    assert [r.json()["version"] for r in (second, other, cleared)] == [2, 1, 3]
    stale = await client.put(f"{base}/spd-01", json={"level": 1}, headers=if_match(2, ADMIN))
    assert stale.status_code == 412 and stale.json()["current_version"] == 3
    missing = await client.put(f"{base}/spd-06", json={"level": 2}, headers=ADMIN)
    assert missing.status_code == 428

    events = await published(redis, settings, 4)
    assert all(isinstance(e, ev.SpdAnswerSet) for e in events)
    assert [(e.subject, e.version, e.data.level) for e in events] == [
        ("62.10/spd/spd-01", 1, 2), ("62.10/spd/spd-01", 2, 3),
        ("62.10/spd/spd-06", 1, 1), ("62.10/spd/spd-01", 3, None),
    ]
    answers = {a["indicator"]: a for a in (await client.get(base, headers=token("viewer", REGION))).json()["answers"]}
    assert (answers["spd-01"]["level"], answers["spd-01"]["version"]) == (None, 3)
    assert (answers["spd-06"]["level"], answers["spd-06"]["version"]) == (1, 1)


async def test_agency_status_shows_which_agency_has_not_reported(app, client):
    for agency in ("dinkes", "bappeda", "disdik"):
        await register_agency(client, agency)
    listed = (await client.get(f"/v1/regions/{REGION}/agencies", headers=ADMIN)).json()
    assert [a["id"] for a in listed["agencies"]] == ["bappeda", "dinkes", "disdik"]

    submitted = await answer_mandatory(client, await create_innovation(client))
    await client.post(f"/v1/cycles/2026/innovations/{submitted['id']}/submit", headers=if_match(submitted["version"]))
    await create_innovation(client)
    await create_innovation(client, headers=token("operator", REGION, "bappeda"))
    status = await client.get(f"/v1/cycles/2026/regions/{REGION}/agencies/status", headers=ADMIN)
    assert status.status_code == 200
    body = status.json()
    by_id = {a["id"]: a for a in body["agencies"]}
    assert by_id["dinkes"]["innovations"] == {"draft": 1, "submitted": 1, "withdrawn": 0, "total": 2}
    assert by_id["bappeda"]["innovations"] == {"draft": 1, "submitted": 0, "withdrawn": 0, "total": 1}
    assert by_id["disdik"]["innovations"]["total"] == 0
    assert body["not_reported"] == ["bappeda", "disdik"]

    duplicate = await client.post(
        f"/v1/regions/{REGION}/agencies", json={"id": "dinkes", "name": "Lagi"}, headers=ADMIN
    )
    assert duplicate.status_code == 409 and duplicate.json()["problems"][0]["field"] == "body.id"


async def test_lists_show_what_the_caller_may_see(app, client):
    await register_agency(client, "dinkes")
    await register_agency(client, "bappeda")
    mine = await create_innovation(client)
    theirs = await create_innovation(client, headers=token("operator", REGION, "bappeda"))
    url = "/v1/cycles/2026/innovations"
    assert [i["id"] for i in (await client.get(url, headers=OPERATOR)).json()["items"]] == [mine["id"]]
    everything = (await client.get(url, headers=ADMIN)).json()["items"]
    assert {i["id"] for i in everything} == {mine["id"], theirs["id"]}
    params = {"agency": "bappeda", "status": "draft"}
    filtered = (await client.get(url, params=params, headers=token("viewer", REGION))).json()
    assert [i["id"] for i in filtered["items"]] == [theirs["id"]]
    assert (await client.get(url, params={"status": "submitted"}, headers=ADMIN)).json()["items"] == []
    page = (await client.get(url, params={"limit": 1}, headers=ADMIN)).json()
    rest = (await client.get(url, params={"limit": 1, "after": page["next_after"]}, headers=ADMIN)).json()
    assert [i["id"] for i in page["items"] + rest["items"]] == sorted([mine["id"], theirs["id"]])
    elsewhere = (await client.get(url, headers=token("region_admin", "62.01"))).json()
    assert elsewhere["items"] == [] and elsewhere["region"] == "62.01"


async def test_every_innovation_answer_carries_an_upload_grant_for_it(app, client):
    await register_agency(client, "dinkes")
    created = await create_innovation(client)
    read = (await client.get(f"/v1/cycles/2026/innovations/{created['id']}", headers=ADMIN)).json()
    listed = (await client.get("/v1/cycles/2026/innovations", headers=OPERATOR)).json()["items"]
    expected = UploadGrant(created["id"], 2026, REGION, "dinkes")
    for answer in (created, read, *listed):
        assert GRANTS.verify(answer["upload_grant"]) == expected
