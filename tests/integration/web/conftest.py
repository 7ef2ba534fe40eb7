"""The web app as `inovasi up` runs it — mounted at `/` beside intake, scoring and notify in
one platform app, calling them in process — against the machine's PostgreSQL and Redis,
with a browser-like client (cookies kept, forms posted with the page's CSRF token)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.platform import create_platform_app
from services.web.domain.commands import CreateAccount
from services.web.entrypoints.cli import create_user
from services.web.settings import WebSettings
from services.web.views import AccountView
from tests.support.infra import drop_schema
from tests.support.platform import cleanup, isolated_settings

APIS = ("intake", "scoring", "notify")  # evidence (S3) is not needed by these pages
PASSWORD = "kopi tubruk di tepi kahayan"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def web_settings(**overrides: Any) -> WebSettings:
    base = isolated_settings(pg_pool_min=1, pg_pool_max=3)
    return WebSettings(**{**base.model_dump(), **overrides})


async def drop_all(settings: WebSettings) -> None:
    await cleanup(settings)
    await drop_schema(settings.database_url, settings.schema_of("web"))


class Browser:
    """A person's browser: keeps cookies, reads the CSRF token of the page it got last."""

    def __init__(self, app: Any, client_address: str = "127.0.0.1", base_url: str = "http://test") -> None:
        transport = httpx.ASGITransport(app=app, client=(client_address, 40000))
        self.http = httpx.AsyncClient(transport=transport, base_url=base_url, timeout=30,
                                      headers={"accept": "text/html"})
        self.csrf: str | None = None

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.http.get(path, **kwargs)
        found = CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    async def post(self, path: str, data: Mapping[str, Any] | None = None, *, csrf: str | None = "page",
                   **kwargs: Any) -> httpx.Response:
        """POST a form with the last page's CSRF token (`csrf=None`: without one)."""
        fields = dict(data or {})
        if csrf == "page":
            fields["csrf_token"] = self.csrf
        elif csrf is not None:
            fields["csrf_token"] = csrf
        response = await self.http.post(path, data=fields, **kwargs)
        found = CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    async def login(self, username: str, password: str = PASSWORD, **kwargs: Any) -> httpx.Response:
        await self.get("/login")
        return await self.post("/login", {"username": username, "password": password}, **kwargs)

    def session_cookie(self) -> str | None:
        return self.http.cookies.get("inovasi_sesi")

    async def aclose(self) -> None:
        await self.http.aclose()


@dataclass
class Web:
    app: Any
    settings: WebSettings
    browsers: list[Browser]

    def browser(self, client_address: str = "127.0.0.1") -> Browser:
        browser = Browser(self.app, client_address)
        self.browsers.append(browser)
        return browser

    async def account(self, username: str, role: str, region: str | None = "62.10", agency: str | None = None,
                      password: str = PASSWORD) -> AccountView:
        command = CreateAccount(username=username, password=password, role=role, region=region,  # type: ignore[arg-type]
                                agency=agency)
        return await create_user(self.settings, command)

    async def signed_in(self, username: str, role: str, region: str | None = "62.10",
                        agency: str | None = None) -> Browser:
        await self.account(username, role, region, agency)
        browser = self.browser()
        response = await browser.login(username)
        assert response.status_code == 303, response.text
        return browser


@pytest.fixture
def web_factory() -> Callable[..., WebSettings]:
    return web_settings


@pytest.fixture
async def web() -> AsyncIterator[Web]:
    settings = web_settings()
    app = create_platform_app([*APIS, "web"], settings)
    web = Web(app, settings, [])
    try:
        async with app.router.lifespan_context(app):
            yield web
            for browser in web.browsers:
                await browser.aclose()
    finally:
        await drop_all(settings)
