"""A region admin manages its region's accounts on /pengaturan, and every person its
personal API tokens: the events on `web.events`, sessions ended, tokens refused by the
services once revoked — end to end through the platform, real PostgreSQL and Redis."""

from __future__ import annotations

import hashlib
import json
import re
import time

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from tests.integration.web.conftest import PASSWORD, Web
from tests.support.infra import wait_until

pytestmark = pytest.mark.integration


async def events_on_web_stream(web: Web) -> list[dict]:
    redis = Redis.from_url(web.settings.redis_url)
    try:
        entries = await redis.xrange(web.settings.stream("web.events"))
    finally:
        await redis.aclose()
    return [json.loads(fields[b"__data__"]) for _, fields in entries]


async def web_rows(web: Web, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(web.settings.database_url)
    try:
        await conn.execute(f"SET search_path TO {web.settings.schema_of('web')}")
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def test_a_region_admin_creates_and_disables_an_account_of_its_region(web: Web) -> None:
    admin = await web.signed_in("admin.gumas", "region_admin")
    await admin.get("/pengaturan")
    created = await admin.post("/pengaturan/akun", {"username": "pemantau.baru", "password": PASSWORD,
                                                    "role": "viewer", "agency": "", "email": ""})
    assert created.status_code == 303 and created.headers["location"] == "/pengaturan?pesan=akun-dibuat#akun"
    page = await admin.get("/pengaturan?pesan=akun-dibuat")
    assert "pemantau.baru" in page.text and "Akun dibuat." in page.text

    viewer = web.browser()
    assert (await viewer.login("pemantau.baru")).headers["location"] == "/daerah/62.10"
    assert (await viewer.get("/daerah/62.10")).status_code == 200

    (account_id,) = re.findall(r'action="/pengaturan/akun/(acc-[0-9a-f]+)/nonaktifkan"', page.text)
    disabled = await admin.post(f"/pengaturan/akun/{account_id}/nonaktifkan")
    assert disabled.status_code == 303
    after = await viewer.get("/daerah/62.10")  # its session ended with it
    assert after.status_code == 303 and after.headers["location"].startswith("/login")
    again = await web.browser().login("pemantau.baru")
    assert again.status_code == 403 and "dinonaktifkan" in again.text

    events = await wait_until(lambda: _types_for(web, account_id, {"account.created", "account.disabled"}))
    disabled_event = next(e for e in events if e["type"] == "account.disabled")
    assert disabled_event["data"] == {"id": account_id, "username": "pemantau.baru", "role": "viewer",
                                      "region": "62.10", "agency": None, "status": "disabled"}
    assert disabled_event["version"] == 2 and disabled_event["actor"].startswith("acc-")

    await admin.get("/pengaturan")
    enabled = await admin.post(f"/pengaturan/akun/{account_id}/aktifkan")
    assert enabled.status_code == 303
    assert (await web.browser().login("pemantau.baru")).status_code == 303
    await wait_until(lambda: _types_for(web, account_id, {"account.updated"}))


async def _types_for(web: Web, account_id: str, wanted: set[str]) -> list[dict] | None:
    events = [e for e in await events_on_web_stream(web) if e["subject"] == account_id]
    return events if wanted <= {e["type"] for e in events} else None


async def test_an_operator_needs_an_agency_of_the_region_and_problems_show_by_their_fields(web: Web) -> None:
    admin = await web.signed_in("admin.gumas", "region_admin")
    await admin.get("/pengaturan")
    refused = await admin.post("/pengaturan/akun", {"username": "x", "password": "pendek", "role": "operator",
                                                    "agency": "dinkes"})
    assert refused.status_code == 422
    for text in ("Gunakan 3–64 huruf", "Kata sandi minimal 10 karakter.", "OPD ini belum terdaftar"):
        assert text in refused.text, text
    assert 'aria-invalid="true"' in refused.text
    # The agency registered through intake's API (as the admin), then the operator.
    bad = await admin.post("/pengaturan/opd", {"id": "Dinas Kesehatan!", "name": "Dinas Kesehatan"})
    assert bad.status_code == 422 and 'id="agency-id-error"' in bad.text
    registered = await admin.post("/pengaturan/opd", {"id": "dinkes", "name": "Dinas Kesehatan"})
    assert registered.status_code == 303
    page = await admin.get("/pengaturan")
    assert "Dinas Kesehatan" in page.text
    created = await admin.post("/pengaturan/akun", {"username": "operator.dinkes", "password": PASSWORD,
                                                    "role": "operator", "agency": "dinkes"})
    assert created.status_code == 303
    operator = web.browser()
    assert (await operator.login("operator.dinkes")).headers["location"] == "/inovasi"
    duplicate = await admin.post("/pengaturan/akun", {"username": "OPERATOR.DINKES", "password": PASSWORD,
                                                      "role": "viewer"})
    assert duplicate.status_code == 422 and "Nama pengguna ini sudah dipakai." in duplicate.text


async def test_a_region_admin_cannot_manage_another_region_or_grant_oversight(web: Web) -> None:
    other = await web.account("admin.katingan", "viewer", "62.06")
    admin = await web.signed_in("admin.gumas", "region_admin")
    await admin.get("/pengaturan")
    assert (await admin.post(f"/pengaturan/akun/{other.id}/nonaktifkan")).status_code == 404
    rows = await web_rows(web, "SELECT status FROM accounts WHERE id = $1", other.id)
    assert rows[0]["status"] == "active"
    for role in ("province_admin", "national"):
        refused = await admin.post("/pengaturan/akun", {"username": f"x-{role}", "password": PASSWORD, "role": role})
        assert refused.status_code == 422 and "tidak dapat diberikan di sini" in refused.text
    viewer = await web.signed_in("pemantau.gumas", "viewer")
    await viewer.get("/pengaturan")
    assert "Buat akun" not in (await viewer.get("/pengaturan")).text
    forbidden = await viewer.post("/pengaturan/akun", {"username": "penyusup", "password": PASSWORD, "role": "viewer"})
    assert forbidden.status_code == 403
    assert not await web_rows(web, "SELECT 1 FROM accounts WHERE username = 'penyusup'")


async def test_a_personal_token_is_shown_once_stored_hashed_works_and_is_refused_once_revoked(web: Web) -> None:
    viewer = await web.signed_in("pemantau.gumas", "viewer")
    await viewer.get("/pengaturan")
    created = await viewer.post("/pengaturan/token", {"name": "Layar dasbor", "days": "30"})
    assert created.status_code == 201
    (token,) = re.findall(r'<textarea id="token-baru"[^>]*>([^<]+)</textarea>', created.text)
    listing = await viewer.get("/pengaturan")
    assert "Layar dasbor" in listing.text and token not in listing.text  # shown once
    rows = await web_rows(web, "SELECT id, token_hash, expires_at - created_at AS life FROM api_tokens")
    assert rows[0]["token_hash"] == hashlib.sha256(token.encode()).digest()
    assert rows[0]["life"].days == 30
    token_id = rows[0]["id"]

    api = httpx.AsyncClient(transport=httpx.ASGITransport(app=web.app), base_url="http://test")
    score_path = "/scoring/v1/cycles/2026/regions/62.10/score"
    try:
        headers = {"Authorization": f"Bearer {token}"}
        assert (await api.get(score_path, headers=headers)).status_code == 200
        # The account's scope: a viewer reads, it registers no agency.
        register = await api.post("/intake/v1/regions/62.10/agencies", headers=headers,
                                  json={"id": "dinkes", "name": "Dinas Kesehatan"})
        assert register.status_code == 403

        revoked = await viewer.post(f"/pengaturan/token/{token_id}/cabut")
        assert revoked.status_code == 303
        started = time.monotonic()
        events = await wait_until(
            lambda: _events_of(web, "token.revoked"), timeout=5)
        assert events[0]["data"] == {"token_id": token_id, "account_id": events[0]["actor"]}

        async def refused() -> bool:
            return (await api.get(score_path, headers=headers)).status_code == 401

        await wait_until(refused, timeout=5)
        assert time.monotonic() - started < 5
    finally:
        await api.aclose()
    assert "Dicabut" in (await viewer.get("/pengaturan")).text


async def _events_of(web: Web, event_type: str) -> list[dict]:
    return [e for e in await events_on_web_stream(web) if e["type"] == event_type]


async def test_a_disabled_account_s_tokens_are_refused_by_the_services(web: Web) -> None:
    viewer = await web.signed_in("pemantau.gumas", "viewer")
    await viewer.get("/pengaturan")
    created = await viewer.post("/pengaturan/token", {"name": "skrip", "days": "366"})
    (token,) = re.findall(r'<textarea id="token-baru"[^>]*>([^<]+)</textarea>', created.text)
    admin = await web.signed_in("admin.gumas", "region_admin")
    page = await admin.get("/pengaturan")
    account_id = re.search(r'/pengaturan/akun/(acc-[0-9a-f]+)/nonaktifkan', page.text).group(1)
    await admin.post(f"/pengaturan/akun/{account_id}/nonaktifkan")
    api = httpx.AsyncClient(transport=httpx.ASGITransport(app=web.app), base_url="http://test")
    try:
        async def refused() -> bool:
            response = await api.get("/scoring/v1/cycles/2026/regions/62.10/score",
                                     headers={"Authorization": f"Bearer {token}"})
            return response.status_code == 401

        await wait_until(refused, timeout=5)
    finally:
        await api.aclose()


async def test_webhooks_are_listed_created_and_deleted_through_notify(web: Web) -> None:
    admin = await web.signed_in("admin.gumas", "region_admin")
    await admin.get("/pengaturan")
    created = await admin.post("/pengaturan/webhook", {"url": "http://127.0.0.1:9/hook", "kinds": ["score.updated"]})
    assert created.status_code == 201 and "Kunci penanda tangan" in created.text
    page = await admin.get("/pengaturan")
    assert "http://127.0.0.1:9/hook" in page.text
    (hook_id,) = re.findall(r'/pengaturan/webhook/([0-9a-f-]+)/hapus', page.text)
    assert (await admin.post(f"/pengaturan/webhook/{hook_id}/hapus")).status_code == 303
    assert "http://127.0.0.1:9/hook" not in (await admin.get("/pengaturan")).text
    refused = await admin.post("/pengaturan/webhook", {"url": "not a url", "kinds": []})
    assert refused.status_code == 422 and 'id="webhook-url-error"' in refused.text
