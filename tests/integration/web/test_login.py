"""Signing in and out through the pages: landing per role, wrong passwords, lockout, rate
limits, CSRF, the session cookie, logout and password change — against real PostgreSQL."""

from __future__ import annotations

import re

import asyncpg
import pytest

from tests.integration.web.conftest import PASSWORD, Web

pytestmark = pytest.mark.integration

LANDINGS = [
    ("admin.gumas", "region_admin", "62.10", None, "/daerah/62.10"),
    ("pemantau.gumas", "viewer", "62.10", None, "/daerah/62.10"),
    ("operator.dinkes", "operator", "62.10", "dinkes", "/inovasi"),
    ("verifikator.gumas", "verifier", "62.10", None, "/verifikasi"),
    ("admin.kalteng", "province_admin", "62", None, "/peringkat"),
    ("kemendagri", "national", None, None, "/peringkat"),
]


async def test_each_role_lands_on_its_page(web: Web) -> None:
    for username, role, region, agency, landing in LANDINGS:
        await web.account(username, role, region, agency)
        browser = web.browser()
        page = await browser.get("/login")
        assert page.status_code == 200
        assert len(re.findall(r'name="username"', page.text)) == 1
        assert len(re.findall(r'name="password"', page.text)) == 1
        assert len(re.findall(r'type="submit"', page.text)) == 1
        assert '<html lang="id">' in page.text and "Nama pengguna" in page.text and "Kata sandi" in page.text
        response = await browser.post("/login", {"username": username.upper(), "password": PASSWORD})
        assert response.status_code == 303, (role, response.text)
        assert response.headers["location"] == landing, role
        assert (await browser.get(landing)).status_code == 200, role
        home = await browser.get("/")
        assert home.status_code == 303 and home.headers["location"] == landing


async def test_a_wrong_password_or_unknown_name_is_refused_alike(web: Web) -> None:
    await web.account("admin.gumas", "region_admin")
    browser = web.browser()
    wrong = await browser.login("admin.gumas", "not the password at all")
    unknown = await browser.login("nobody.here", PASSWORD)
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "Nama pengguna atau kata sandi salah." in response.text
        assert browser.session_cookie() is None
    assert 'value="nobody.here"' in unknown.text  # the name is kept, the password never
    assert PASSWORD not in unknown.text


async def test_five_failures_lock_the_account_for_fifteen_minutes(web: Web) -> None:
    await web.account("admin.gumas", "region_admin")
    browser = web.browser()
    for _ in range(4):
        assert (await browser.login("admin.gumas", "wrong password 123")).status_code == 401
    fifth = await browser.login("admin.gumas", "wrong password 123")
    assert fifth.status_code == 423
    assert re.search(r"Akun terkunci sampai \d\d:\d\d WIB", fifth.text), fifth.text
    right = await browser.login("admin.gumas", PASSWORD)  # even the right password, while locked
    assert right.status_code == 423 and "Akun terkunci sampai" in right.text
    assert browser.session_cookie() is None
    conn = await asyncpg.connect(web.settings.database_url)
    try:
        row = await conn.fetchrow(
            f"SELECT failed_logins, locked_until - now() AS left FROM {web.settings.schema_of('web')}.accounts")
    finally:
        await conn.close()
    assert row["failed_logins"] == 5
    assert 14 * 60 < row["left"].total_seconds() <= 15 * 60


async def test_too_many_attempts_from_one_address_get_429_with_retry_after(web: Web) -> None:
    await web.account("admin.gumas", "region_admin")
    browser = web.browser("10.1.2.3")
    for n in range(10):
        response = await browser.login(f"someone{n}", "a wrong password")
        assert response.status_code == 401, n
    limited = await browser.login("admin.gumas", PASSWORD)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 300
    assert "Terlalu banyak percobaan masuk" in limited.text
    other = web.browser("10.9.9.9")  # another address is not held back
    assert (await other.login("admin.gumas", PASSWORD)).status_code == 303


async def test_too_many_attempts_for_one_user_name_get_429(web: Web) -> None:
    web.settings = web.settings  # the defaults: 10 per user name per 5 minutes
    await web.account("admin.gumas", "region_admin")
    for n in range(10):
        browser = web.browser(f"10.0.0.{n + 1}")
        await browser.login("target.name", "a wrong password")
    response = await web.browser("10.0.1.1").login("target.name", "a wrong password")
    assert response.status_code == 429 and "retry-after" in response.headers


async def test_forms_without_the_right_csrf_token_are_refused_and_change_nothing(web: Web) -> None:
    await web.account("admin.gumas", "region_admin")
    browser = web.browser()
    await browser.get("/login")
    for token in (None, "forged-token"):
        refused = await browser.post("/login", {"username": "admin.gumas", "password": PASSWORD}, csrf=token)
        assert refused.status_code == 403
        assert "kedaluwarsa" in refused.text
        assert browser.session_cookie() is None
    assert (await browser.login("admin.gumas")).status_code == 303
    await browser.get("/pengaturan")
    for token in (None, "forged-token", browser.csrf + "x"):
        create = await browser.post("/pengaturan/akun", {"username": "penyusup", "password": "sangat rahasia sekali",
                                                          "role": "viewer"}, csrf=token)
        assert create.status_code == 403
        change = await browser.post("/akun/kata-sandi", {"current_password": PASSWORD, "new_password": "baru sekali ya",
                                                         "repeat_password": "baru sekali ya"}, csrf=token)
        assert change.status_code == 403
        logout = await browser.post("/logout", csrf=token)
        assert logout.status_code == 403
    settings_page = await browser.get("/pengaturan")
    assert "penyusup" not in settings_page.text
    assert (await web.browser().login("admin.gumas", PASSWORD)).status_code == 303  # password unchanged


async def test_the_session_cookie_is_httponly_lax_and_secure_behind_https(web: Web) -> None:
    await web.account("admin.gumas", "region_admin")
    plain = await web.browser().login("admin.gumas")
    cookie = plain.headers["set-cookie"]
    assert cookie.startswith("inovasi_sesi=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie.split("inovasi_csrf")[0]
    https = web.browser()  # through the gateway (127.0.0.1, trusted) that says it was HTTPS
    form = await https.get("/login", headers={"x-forwarded-proto": "https"})
    assert "; Secure" in form.headers["set-cookie"]  # the login form's token too
    # (the test client keeps Secure cookies to itself over http://: sent by hand)
    secure = await https.post("/login", {"username": "admin.gumas", "password": PASSWORD},
                              headers={"x-forwarded-proto": "https", "cookie": f"inovasi_csrf={https.csrf}"})
    assert secure.status_code == 303
    assert "; Secure" in secure.headers["set-cookie"].split("inovasi_csrf")[0]
    untrusted = web.browser("203.0.113.7")  # anyone else saying so is not believed
    await untrusted.get("/login")
    response = await untrusted.post("/login", {"username": "admin.gumas", "password": PASSWORD},
                                    headers={"x-forwarded-proto": "https"})
    assert "Secure" not in response.headers["set-cookie"].split("inovasi_csrf")[0]


async def test_login_rotates_the_session_and_its_csrf_token(web: Web) -> None:
    await web.account("admin.gumas", "region_admin")
    first = web.browser()
    await first.login("admin.gumas")
    planted = first.session_cookie()
    await first.get("/akun")
    first_csrf = first.csrf
    # A browser that already carries a session cookie (planted, or left over) logs in.
    browser = web.browser()
    await browser.get("/login")
    browser.http.cookies.set("inovasi_sesi", planted or "")
    response = await browser.post("/login", {"username": "admin.gumas", "password": PASSWORD})
    assert response.status_code == 303
    new = response.cookies.get("inovasi_sesi")
    assert new not in (None, planted)
    fresh = web.browser()
    fresh.http.cookies.set("inovasi_sesi", new or "")
    await fresh.get("/akun")
    assert fresh.csrf not in (None, first_csrf)
    assert (await first.get("/akun")).status_code == 303  # the carried session ended at login


async def test_logout_ends_the_session_on_the_server(web: Web) -> None:
    await web.account("admin.gumas", "region_admin")
    browser = web.browser()
    await browser.login("admin.gumas")
    cookie = browser.session_cookie()
    await browser.get("/akun")
    response = await browser.post("/logout")
    assert response.status_code == 303 and response.headers["location"] == "/login"
    replay = web.browser()
    replay.http.cookies.set("inovasi_sesi", cookie or "")
    again = await replay.get("/akun")
    assert again.status_code == 303 and again.headers["location"].startswith("/login?next=/akun")


async def test_changing_the_password_needs_the_current_one_and_ends_other_sessions(web: Web) -> None:
    await web.account("admin.gumas", "region_admin")
    here, elsewhere = web.browser(), web.browser()
    await here.login("admin.gumas")
    await elsewhere.login("admin.gumas")
    await here.get("/akun")
    new = "hujan deras di palangka raya"
    wrong = await here.post("/akun/kata-sandi", {"current_password": "bukan ini", "new_password": new,
                                                 "repeat_password": new})
    assert wrong.status_code == 422 and "Kata sandi saat ini salah." in wrong.text
    weak = await here.post("/akun/kata-sandi", {"current_password": PASSWORD, "new_password": "pendek",
                                                "repeat_password": "lain"})
    assert weak.status_code == 422
    assert "Kata sandi minimal 10 karakter." in weak.text and "Kedua kata sandi tidak sama." in weak.text
    done = await here.post("/akun/kata-sandi", {"current_password": PASSWORD, "new_password": new,
                                                "repeat_password": new})
    assert done.status_code == 303 and done.headers["location"] == "/akun?pesan=kata-sandi-diubah"
    assert (await here.get("/akun")).status_code == 200  # this session goes on
    assert (await elsewhere.get("/akun")).status_code == 303  # the other one ended
    assert (await web.browser().login("admin.gumas", PASSWORD)).status_code == 401
    assert (await web.browser().login("admin.gumas", new)).status_code == 303
