"""Browser tests: the whole platform (the four APIs and the web app, as `inovasi up` runs
them) under a real uvicorn server on a free loopback port, against the machine's PostgreSQL
and Redis and moto's S3 server, driven by Debian's Chromium through Playwright (never a
downloaded browser: `executable_path=/usr/bin/chromium`).

Fixtures:

* `platform` (one per test package): the base URL, the settings, and the accounts it made;
* `browser`: one Chromium for the package;
* `people` (per test): `await people.signed_in("viewer")` makes an account and logs it in
  in a browser context of its own (its own cookies: one person per context); every page
  opened through it is saved as a full-page screenshot (and its HTML and console) in
  `test-artifacts/browser/<test>/` when the test fails.

Without /usr/bin/chromium the tests are skipped with the reason — except under CI (`CI`, or
`INOVASI_REQUIRE_BROWSER` as `.ci/run` sets it), where the browser must be there and its
absence fails them.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.tokens import issue_token
from services.platform import APPS, create_platform_app
from services.web.domain.commands import CreateAccount
from services.web.entrypoints.cli import create_user
from services.web.settings import WebSettings
from tests.support.platform import AUTH_SECRET, cleanup, isolated_settings
from tests.support.s3 import moto_s3_server
from tests.support.servers import serve

CHROMIUM = Path(os.environ.get("INOVASI_TEST_CHROMIUM", "/usr/bin/chromium"))
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
PASSWORD = "kopi tubruk di tepi kahayan"
CYCLE = 2026
TIMEOUT_MS = 15_000  # any one wait of a page (a failing test says what it waited for)

# The page each role lands on after logging in (a stable hook of the web app).
LANDING = {
    "region_admin": "/daerah/{region}",
    "viewer": "/daerah/{region}",
    "operator": "/inovasi",
    "verifier": "/verifikasi",
    "province_admin": "/peringkat",
    "national": "/peringkat",
}

pytestmark = pytest.mark.integration


def under_ci() -> bool:
    """CI (set by CI systems) or INOVASI_REQUIRE_BROWSER (set by .ci/run): the browser must be there."""
    return any(os.environ.get(name, "").lower() not in ("", "0", "false", "no")
               for name in ("CI", "INOVASI_REQUIRE_BROWSER"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM.exists() or under_ci():
        return  # under CI a missing browser fails the `browser` fixture, loudly
    reason = (f"{CHROMIUM} is missing: install Debian's Chromium (apt-get install chromium) "
              "to run the browser tests (under CI they fail instead)")
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.skip(reason=reason))


# --- failures: which phase failed, for the screenshots ------------------------------------------

PHASE_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    item.stash.setdefault(PHASE_REPORTS, {})[report.when] = report
    return report


def failed(item: pytest.Item) -> bool:
    return any(report.failed for report in item.stash.get(PHASE_REPORTS, {}).values())


def artifact_dir(item: pytest.Item) -> Path:
    module = Path(str(item.fspath)).stem
    return ARTIFACTS / re.sub(r"[^\w.-]+", "_", f"{module}.{item.name}").strip("_")


# --- the platform ---------------------------------------------------------------------------


@dataclass
class Account:
    username: str
    role: str
    region: str | None
    agency: str | None
    password: str = PASSWORD

    @property
    def landing(self) -> str:
        return LANDING[self.role].format(region=self.region)


@dataclass
class Platform:
    url: str
    settings: WebSettings
    accounts: list[Account] = field(default_factory=list)

    async def account(self, role: str, region: str | None = "62.10", agency: str | None = None, *,
                      username: str | None = None, password: str = PASSWORD) -> Account:
        """An account made as `inovasi users create` makes it (any role; an operator's
        agency is not looked up)."""
        username = username or f"{role.replace('_', '-')}-{uuid.uuid4().hex[:8]}"
        command = CreateAccount(username=username, password=password, role=role,  # type: ignore[arg-type]
                                region=region, agency=agency)
        await create_user(self.settings, command)
        account = Account(username, role, region, agency, password)
        self.accounts.append(account)
        return account

    def token(self, role: str, region: str | None = "62.10", agency: str | None = None) -> dict[str, str]:
        """An API token (as `inovasi token issue` makes it) for checking what the pages show."""
        return {"Authorization": f"Bearer {issue_token(AUTH_SECRET, role, region, agency)}"}  # type: ignore[arg-type]

    def api(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=30)


def browser_settings(**overrides: Any) -> WebSettings:
    base = isolated_settings(**overrides)
    # Every page of these tests logs in from 127.0.0.1: the per-address login limit (10 in
    # 5 minutes) would refuse the later tests' logins; the per-account lockout stays as is.
    return WebSettings(**{**base.model_dump(), "web_login_address_limit": 10_000})


@pytest.fixture(scope="package")
async def platform() -> AsyncIterator[Platform]:
    with moto_s3_server() as s3:
        settings = browser_settings(
            s3_endpoint=s3.netloc, s3_access_key=s3.access_key, s3_secret_key=s3.secret_key,
            s3_bucket="browser-evidence",
        )
        try:
            async with serve(create_platform_app(APPS, settings)) as url:
                yield Platform(url, settings)
        finally:
            await cleanup(settings)


# --- the browser ----------------------------------------------------------------------------


@pytest.fixture(scope="package")
async def browser() -> AsyncIterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing under CI: .ci/run installs Debian's chromium before the tests")
    from playwright.async_api import async_playwright

    # Chromium's sandbox needs an unprivileged user; as root (containers, CI) it refuses to
    # start without --no-sandbox.
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=args, headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()


DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}


@dataclass
class Person:
    """One person at a browser: an account, its own browser context (cookies), a page."""

    name: str
    account: Account | None
    context: Any
    page: Any
    console: list[str] = field(default_factory=list)

    async def login(self, account: Account | None = None, password: str | None = None) -> Any:
        """Fill in and send the login form; the response of the page it leads to."""
        account = account or self.account
        assert account is not None
        page = self.page
        await page.goto("/login")
        await page.locator('input[name="username"]').fill(account.username)
        await page.locator('input[name="password"]').fill(password if password is not None else account.password)
        async with page.expect_navigation() as navigation:
            await page.locator('form[action="/login"] [type="submit"]').click()
        return await navigation.value

    def path(self) -> str:
        return httpx.URL(self.page.url).path

    async def session_cookie(self) -> str | None:
        cookies = await self.context.cookies()
        return next((c["value"] for c in cookies if c["name"] == "inovasi_sesi"), None)


@dataclass
class People:
    platform: Platform
    browser: Any
    persons: list[Person] = field(default_factory=list)

    async def person(self, name: str, account: Account | None = None, *,
                     viewport: dict[str, int] | None = None) -> Person:
        """A new browser context and page for `name` (not logged in)."""
        context = await self.browser.new_context(
            base_url=self.platform.url, viewport=viewport or DESKTOP, locale="id-ID", timezone_id="Asia/Jakarta",
        )
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        page = await context.new_page()
        person = Person(name, account, context, page)
        page.on("console", lambda message: person.console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: person.console.append(f"pageerror: {error}"))
        self.persons.append(person)
        return person

    async def signed_in(self, role: str, region: str | None = "62.10", agency: str | None = None, *,
                        name: str | None = None, viewport: dict[str, int] | None = None) -> Person:
        """A new account of `role`, logged in through the login page (it is on its landing page)."""
        account = await self.platform.account(role, region, agency)
        person = await self.person(name or role, account, viewport=viewport)
        response = await person.login()
        assert person.path() == account.landing, f"{role} landed on {person.page.url}, not {account.landing}"
        assert response is not None and response.status == 200, f"{role}: {response and response.status}"
        return person

    async def save_artifacts(self, directory: Path) -> None:
        """Full-page screenshots, the HTML and the console of every open page."""
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True, exist_ok=True)
        for number, person in enumerate(self.persons, 1):
            safe = re.sub(r"[^\w.-]+", "_", person.name)
            stem = directory / f"{number:02d}-{safe}"
            for index, page in enumerate(person.context.pages):
                suffix = "" if index == 0 else f"-{index + 1}"
                if page.is_closed():
                    continue
                try:
                    await page.screenshot(path=f"{stem}{suffix}.png", full_page=True, timeout=10_000)
                    Path(f"{stem}{suffix}.html").write_text(f"<!-- {page.url} -->\n" + await page.content())
                except Exception as exc:  # a crashed page: say so, save the rest
                    Path(f"{stem}{suffix}.error.txt").write_text(f"{page.url}\n{exc!r}\n")
            if person.console:
                Path(f"{stem}.console.txt").write_text("\n".join(person.console) + "\n")

    async def close(self) -> None:
        for person in self.persons:
            await person.context.close()


@pytest.fixture
async def people(request: pytest.FixtureRequest, platform: Platform, browser: Any) -> AsyncIterator[People]:
    people = People(platform, browser)
    try:
        yield people
    finally:
        try:
            if failed(request.node):
                directory = artifact_dir(request.node)
                await people.save_artifacts(directory)
                print(f"\nscreenshots of the open pages: {directory.relative_to(ROOT)}")
        finally:
            await people.close()
