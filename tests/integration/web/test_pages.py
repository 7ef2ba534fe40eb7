"""The pages: tenancy enforced by the server, the region's three figures, headers that keep
scripts and frames out, the friendly 503, and no password or token in the logs."""

from __future__ import annotations

import io
import json
import logging
import re
from html.parser import HTMLParser

import pytest
import structlog

from services.common.logging import configure_logging
from services.platform import create_platform_app
from tests.integration.web.conftest import PASSWORD, Browser, Web, drop_all, web_settings
from tests.support.infra import free_port

pytestmark = pytest.mark.integration


async def test_a_person_sees_only_the_dashboards_of_its_scope(web: Web) -> None:
    viewer = await web.signed_in("pemantau.gumas", "viewer", "62.10")
    page = await viewer.get("/daerah/62.10")
    assert page.status_code == 200
    figures = dict(re.findall(r'data-figure="(\w+)">([^<]*)<', page.text))
    assert figures == {"claimed": "0,00", "provisional": "0,00", "validated": "0,00"}
    assert "Kabupaten Gunung Mas" in page.text
    assert (await viewer.get("/daerah/62.01")).status_code == 403  # another region: the server refuses
    assert (await viewer.get("/daerah/99.99")).status_code == 404
    assert (await viewer.get("/inovasi")).status_code == 403  # an operator's page
    assert (await viewer.get("/verifikasi")).status_code == 403

    province = await web.signed_in("admin.kalteng", "province_admin", "62")
    for code in ("62", "62.10", "62.01", "62.71"):
        assert (await province.get(f"/daerah/{code}")).status_code == 200, code
    assert (await province.get("/daerah/63.01")).status_code == 403  # another province's kabupaten
    national = await web.signed_in("kemendagri", "national", None)
    assert (await national.get("/daerah/63.01")).status_code == 200


async def test_without_a_session_a_page_leads_to_login_and_back(web: Web) -> None:
    await web.account("pemantau.gumas", "viewer")
    browser = web.browser()
    response = await browser.get("/pengaturan")
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/pengaturan"
    await browser.get(response.headers["location"])
    signed_in = await browser.post("/login", {"username": "pemantau.gumas", "password": PASSWORD,
                                              "next": "/pengaturan"})
    assert signed_in.headers["location"] == "/pengaturan"
    await browser.get("/login?next=//evil.example")
    elsewhere = await web.browser().login("pemantau.gumas")
    assert elsewhere.headers["location"] == "/daerah/62.10"


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inline_scripts = 0
        self.styles: list[str] = []
        self.assets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and not values.get("src"):
            self.inline_scripts += 1
        if tag == "style" or values.get("style") is not None:
            self.styles.append(tag)
        self.assets += [v for k, v in attrs if k in ("src", "href") and v and tag in ("script", "link", "img")]


async def test_pages_carry_a_strict_policy_and_load_only_their_own_assets(web: Web) -> None:
    admin = await web.signed_in("admin.gumas", "region_admin")
    for path in ("/login", "/akun", "/pengaturan", "/daerah/62.10", "/peringkat"):
        browser = web.browser() if path == "/login" else admin
        response = await browser.get(path)
        assert response.status_code == 200, path
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "same-origin"
        assert response.headers["cache-control"] == "no-store"
        assert '<html lang="id">' in response.text and 'href="#isi"' in response.text
        page = Page()
        page.feed(response.text)
        assert page.inline_scripts == 0 and page.styles == [], path
        assert not re.search(r"""(src|href)=["'](https?:)?//""", response.text), path
        for asset in page.assets:
            assert asset.startswith("/static/"), asset
            fetched = await browser.get(asset)
            assert fetched.status_code == 200 and fetched.content, asset


async def test_an_unreachable_api_is_a_friendly_503_page() -> None:
    settings = web_settings(web_api_url=f"http://127.0.0.1:{free_port()}", web_api_timeout_s=2)
    app = create_platform_app(["web"], settings)  # as `inovasi serve web`, the APIs down
    try:
        async with app.router.lifespan_context(app):
            web = Web(app, settings, [])
            viewer = await web.signed_in("pemantau.gumas", "viewer")
            response = await viewer.get("/daerah/62.10")
            assert response.status_code == 503
            assert "Layanan sedang tidak tersedia" in response.text and response.headers["retry-after"]
            assert (await viewer.get("/akun")).status_code == 200  # what needs no API still works
            admin = await web.signed_in("admin.gumas", "region_admin")
            settings_page = await admin.get("/pengaturan")
            assert settings_page.status_code == 200 and "tidak dapat dimuat" in settings_page.text
            json_client = Browser(app)
            json_client.http.headers["accept"] = "application/json"
            missing = await json_client.get("/no/such/page")
            assert missing.status_code == 404 and missing.json()["error"] == "not_found"
            await json_client.aclose()
            for browser in web.browsers:
                await browser.aclose()
    finally:
        await drop_all(settings)


async def test_no_password_or_token_reaches_the_logs(web: Web) -> None:
    out = io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging("DEBUG", json=True, service="web", stream=out)
    try:
        await web.account("admin.gumas", "region_admin")
        admin = web.browser()
        await admin.login("admin.gumas", "a wrong password here")
        await admin.login("admin.gumas")
        await admin.get("/pengaturan")
        created = await admin.post("/pengaturan/akun", {"username": "pemantau.baru", "password": "rahasia pemantau 1",
                                                        "role": "viewer"})
        assert created.status_code == 303
        token_page = await admin.post("/pengaturan/token", {"name": "dasbor", "days": "30"})
        (token,) = re.findall(r'<textarea id="token-baru"[^>]*>([^<]+)</textarea>', token_page.text)
        await admin.get("/akun")
        await admin.post("/akun/kata-sandi", {"current_password": PASSWORD, "new_password": "sandi baru yang panjang",
                                              "repeat_password": "sandi baru yang panjang"})
        cookie = admin.session_cookie()
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.reset_defaults()
    logs = out.getvalue()
    assert '"logged in"' in logs and '"API token created"' in logs  # the logs were captured
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    assert lines
    for secret in (PASSWORD, "a wrong password here", "rahasia pemantau 1", "sandi baru yang panjang", token,
                   token.split(".")[2], cookie):
        assert secret and secret not in logs, secret[:12]


async def test_the_web_app_alone_reaches_the_apis_at_the_configured_url() -> None:
    """As `inovasi serve web` behind the gateway: the APIs in another server."""
    from tests.support.servers import serve

    settings = web_settings()
    apis = create_platform_app(["intake", "scoring", "notify"], settings)
    try:
        async with serve(apis) as base:
            alone = web_settings(**{**settings.model_dump(), "web_api_url": base})
            app = create_platform_app(["web"], alone)
            async with app.router.lifespan_context(app):
                web = Web(app, alone, [])
                admin = await web.signed_in("admin.gumas", "region_admin")
                page = await admin.get("/daerah/62.10")
                assert page.status_code == 200 and 'data-figure="validated">0,00<' in page.text
                await admin.get("/pengaturan")
                registered = await admin.post("/pengaturan/opd", {"id": "dinkes", "name": "Dinas Kesehatan"})
                assert registered.status_code == 303
                assert "Dinas Kesehatan" in (await admin.get("/pengaturan")).text
                for browser in web.browsers:
                    await browser.aclose()
    finally:
        await drop_all(settings)
