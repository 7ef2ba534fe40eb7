"""Logging in and out in a real browser: each role lands on its page, five failures lock the
account (even the right password is refused then), a form whose CSRF token was tampered
with or left out is refused and changes nothing, and logging out ends the session on the
server."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import LANDING, People

IID = re.compile(r"\d+[,.]\d\d")
ROLES = [
    ("region_admin", "62.10", None),
    ("viewer", "62.10", None),
    ("operator", "62.10", "dinkes"),
    ("verifier", "62.10", None),
    ("province_admin", "62", None),
    ("national", None, None),
]


@pytest.mark.parametrize(("role", "region", "agency"), ROLES, ids=[role for role, *_ in ROLES])
async def test_login_lands_on_the_page_of_the_role(people: People, role: str, region: str | None,
                                                   agency: str | None) -> None:
    account = await people.platform.account(role, region, agency)
    person = await people.person(role, account)
    await person.page.goto("/login")
    # The stable hooks: one username input, one password input, one submit button.
    form = person.page.locator('form[action="/login"]')
    assert await person.page.locator('input[name="username"]').count() == 1
    assert await person.page.locator('input[name="password"]').count() == 1
    assert await person.page.locator('[type="submit"]').count() == 1
    assert await person.page.get_attribute("html", "lang") == "id"

    await person.page.get_by_label("Nama pengguna").fill(account.username)
    await person.page.get_by_label("Kata sandi").fill(account.password)
    async with person.page.expect_navigation() as navigation:
        await form.get_by_role("button").click()
    response = await navigation.value
    assert response is not None and response.status == 200
    assert person.path() == LANDING[role].format(region=region)
    assert await person.session_cookie() is not None
    if person.path().startswith("/daerah/"):
        for figure in ("claimed", "provisional", "validated"):
            text = await person.page.locator(f'[data-figure="{figure}"]').inner_text()
            assert IID.search(text), f"{figure}: {text!r}"
    # The front door sends a signed-in person to the same page.
    await person.page.goto("/")
    assert person.path() == account.landing


async def test_five_failed_logins_lock_the_account_even_for_the_right_password(people: People) -> None:
    account = await people.platform.account("region_admin")
    person = await people.person("admin", account)
    page = person.page
    for attempt in range(1, 5):
        response = await person.login(password=f"salah sekali {attempt}")
        assert response is not None and response.status == 401, attempt
        await page.get_by_role("alert").filter(has_text="Nama pengguna atau kata sandi salah.").wait_for()
        assert person.path() == "/login"
    fifth = await person.login(password="salah sekali 5")
    assert fifth is not None and fifth.status == 423
    alert = page.get_by_role("alert")
    await alert.filter(has_text="Akun terkunci sampai").wait_for()
    assert re.search(r"Akun terkunci sampai \d\d[:.]\d\d", await alert.inner_text())
    # While locked, the right password is refused the same way, and no session is made.
    locked = await person.login()
    assert locked is not None and locked.status == 423
    await alert.filter(has_text="Akun terkunci sampai").wait_for()
    assert person.path() == "/login"
    assert await person.session_cookie() is None
    await page.goto(account.landing)
    assert person.path() == "/login"
    # The lock is the account's, not the browser's: another browser is refused too.
    other = await people.person("admin elsewhere", account)
    again = await other.login()
    assert again is not None and again.status == 423
    assert await other.session_cookie() is None


async def test_a_form_with_a_tampered_or_missing_csrf_token_is_refused_and_changes_nothing(people: People) -> None:
    admin = await people.signed_in("region_admin")
    page = admin.page
    await page.goto("/pengaturan")
    token_form = page.locator('form[action="/pengaturan/token"]')
    await token_form.get_by_label("Nama token").fill("layar dasbor palsu")
    # Tampered in the page, as a script injected into it (or a cross-site form) would.
    await token_form.locator('input[name="csrf_token"]').evaluate("field => { field.value = field.value + 'x'; }")
    async with page.expect_navigation() as navigation:
        await token_form.get_by_role("button", name="Buat token").click()
    refused = await navigation.value
    assert refused is not None and refused.status == 403
    assert "kedaluwarsa" in await page.content()

    # Replayed through the page's own request context (its cookies), without the token.
    replay = await page.request.post("/pengaturan/token", form={"name": "layar dasbor palsu", "days": "30"},
                                     max_redirects=0)
    assert replay.status == 403
    account_form = {"username": "penyusup-csrf", "password": "sangat rahasia sekali", "role": "viewer"}
    replay = await page.request.post("/pengaturan/akun", form=account_form, max_redirects=0)
    assert replay.status == 403
    logout = await page.request.post("/logout", form={}, max_redirects=0)
    assert logout.status == 403

    # Nothing changed: no token of that name, no such account, still signed in.
    await page.goto("/pengaturan")
    assert admin.path() == "/pengaturan"
    listing = await page.locator("#token").inner_text()
    assert "layar dasbor palsu" not in listing
    assert "penyusup-csrf" not in await page.locator("#akun").inner_text()

    # The same form with the page's token works (the refusal was the token's doing).
    await token_form.get_by_label("Nama token").fill("layar dasbor asli")
    async with page.expect_navigation() as navigation:
        await token_form.get_by_role("button", name="Buat token").click()
    created = await navigation.value
    assert created is not None and created.ok
    await page.goto("/pengaturan")
    assert "layar dasbor asli" in await page.locator("#token").inner_text()


async def test_logout_ends_the_session_on_the_server(people: People) -> None:
    viewer = await people.signed_in("viewer")
    page = viewer.page
    cookies = await viewer.context.cookies()
    async with page.expect_navigation():
        await page.get_by_role("button", name="Keluar").click()
    assert viewer.path() == "/login"
    assert await viewer.session_cookie() is None
    await page.goto(viewer.account.landing if viewer.account else "/")
    assert viewer.path() == "/login"
    # The old cookie, replayed in a fresh browser, signs no one in.
    replay = await people.person("replay")
    await replay.context.add_cookies(cookies)
    await replay.page.goto("/daerah/62.10")
    assert replay.path() == "/login"
    assert await replay.page.locator('[data-figure="claimed"]').count() == 0
