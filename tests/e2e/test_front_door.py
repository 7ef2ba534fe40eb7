"""The platform's front door: with the web app, `/` leads to its login page; `/api` is a page
in Bahasa Indonesia linking to each mounted service's API docs, which the platform serves
itself (no CDN, no outside font); `/docs` leads there; without the web app `/` does too, and
any other unknown path is a JSON 404 in the services' error shape; and every service's
OpenAPI document declares the bearer token each of its operations needs."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser

import httpx
import pytest

from services.platform import SERVICES, create_platform_app
from tests.support.platform import cleanup, isolated_settings, token
from tests.support.servers import serve

pytestmark = pytest.mark.integration
UNAUTHENTICATED = {"/healthz", "/readyz", "/metrics"}


class Links(HTMLParser):
    """Every URL a page links to or loads: `href`, `src`, ReDoc's `spec-url`."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("href", "src", "spec-url") and value]


def urls_of(page: str) -> list[str]:
    parser = Links()
    parser.feed(page)
    # Swagger UI's document is named in its script: `url: '/intake/openapi.json'`.
    return parser.urls + re.findall(r"\burl: '([^']+)'", page)


def assert_local(page: str, urls: list[str]) -> None:
    assert urls, page
    outside = [url for url in urls if not url.startswith("/") or url.startswith("//")]
    assert not outside, f"loaded from elsewhere: {outside}"
    assert not re.search(r"""["'(]\s*(https?:)?//""", page), "a URL to another host in the page"


@pytest.fixture
def settings():
    return isolated_settings()


def in_process(app) -> httpx.AsyncClient:
    """The app without its lifespan: enough for pages and documents that need no server."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_the_api_page_leads_to_every_service_s_api_docs_served_locally(platform) -> None:
    client, _settings = platform
    response = await client.get("/api")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert '<html lang="id">' in page
    for words in ("Layanan", "dokumentasi API", "Kesehatan platform", "Walkthrough with curl"):
        assert words in page, words
    links = urls_of(page)
    assert_local(page, links)
    for name in SERVICES:
        for path in ("docs", "redoc", "openapi.json"):
            assert f"/{name}/{path}" in links, (name, path)
    assert {"/healthz", "/readyz"} <= set(links)
    for link in links:  # every link answers (readiness too: the platform is running)
        assert (await client.get(link)).status_code == 200, link
    assert (await client.head("/api")).status_code == 200

    for name in SERVICES:
        for page_path, marker in ((f"/{name}/docs", "swagger-ui-bundle.js"), (f"/{name}/redoc", "redoc.standalone.js")):
            docs = await client.get(page_path)
            assert docs.status_code == 200, page_path
            assert docs.headers["content-type"].startswith("text/html")
            urls = urls_of(docs.text)
            assert_local(docs.text, urls)
            assert f"/{name}/openapi.json" in urls, (page_path, urls)
            assert any(url.endswith(marker) for url in urls), (page_path, urls)
            assert "fonts.googleapis" not in docs.text
            for url in urls:
                asset = await client.get(url)
                assert asset.status_code == 200, url
                assert asset.content, url


async def test_docs_leads_to_the_api_page_and_unknown_paths_are_json(platform) -> None:
    client, _settings = platform
    for path in ("/docs", "/"):  # without the web app, / leads to the API docs too
        docs = await client.get(path)
        assert docs.status_code == 307
        assert docs.headers["location"] == "/api"
    for path in ("/nothing-here", "/v1/cycles/2026/rankings", "/favicon.ico", "/intakes/docs"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/json", path
        body = response.json()
        assert body["error"] == "not_found", body
        assert "/intake/" in body["reason"], body
    wrong_method = await client.post("/api")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"] == "http_error"


async def test_every_operation_that_needs_a_token_declares_the_bearer_scheme(settings) -> None:
    async with in_process(create_platform_app(SERVICES, settings)) as client:
        for name in SERVICES:
            doc = (await client.get(f"/{name}/openapi.json")).json()
            schemes = doc["components"]["securitySchemes"]
            bearer = [key for key, s in schemes.items() if (s["type"], s["scheme"]) == ("http", "bearer")]
            assert len(bearer) == 1, schemes
            assert schemes[bearer[0]]["bearerFormat"] == "JWT"
            operations = [(path, method, op) for path, ops in doc["paths"].items() for method, op in ops.items()]
            assert any(path.startswith("/v1/") for path, _, _ in operations), name
            for path, method, op in operations:
                if path in UNAUTHENTICATED:
                    assert "security" not in op, (name, method, path)
                else:
                    assert op.get("security") == [{bearer[0]: []}], (name, method, path)
            # The live feed too (a header, as for every other operation).
            if name == "scoring":
                assert doc["paths"]["/v1/cycles/{year}/stream"]["get"]["security"] == [{bearer[0]: []}]


async def test_a_missing_or_bad_token_still_gets_the_same_json_401(settings) -> None:
    required = {"error": "unauthorized", "reason": "Authorization: Bearer <token> header required"}
    good = token("viewer")["Authorization"]
    cases = {
        None: required,
        "": required,
        "Basic dXNlcjpwYXNz": required,
        "Bearer": required,
        "Bearer    ": required,
        "bearer not-a-token": {"error": "unauthorized", "reason": "invalid token: Not enough segments"},
        good[:-4] + "AAAA": {"error": "unauthorized", "reason": "invalid token: Signature verification failed"},
    }
    async with in_process(create_platform_app(["intake", "scoring"], settings)) as client:
        for path in ("/intake/v1/regions/62.10/agencies", "/scoring/v1/cycles/2026/stream"):
            for header, body in cases.items():
                headers = {} if header is None else {"Authorization": header}
                response = await client.get(path, headers=headers)
                assert response.status_code == 401, (path, header)
                assert response.json() == body, (path, header)
                assert response.headers["www-authenticate"] == 'Bearer realm="inovasi"'


@pytest.fixture
async def intake_alone() -> AsyncIterator[httpx.AsyncClient]:
    """As `inovasi serve intake` runs it: one service under its prefix."""
    settings = isolated_settings()
    try:
        async with (
            serve(create_platform_app(["intake"], settings)) as base,
            httpx.AsyncClient(base_url=base, timeout=30) as client,
        ):
            yield client
    finally:
        await cleanup(settings)


async def test_one_service_alone_lists_only_itself(intake_alone) -> None:
    client = intake_alone
    page = (await client.get("/api")).text
    links = urls_of(page)
    assert {"/intake/docs", "/intake/redoc", "/intake/openapi.json"} <= set(links)
    for other in ("evidence", "scoring", "notify"):
        assert not [link for link in links if link.startswith(f"/{other}/")], other
        assert f"<h3>{other}</h3>" not in page
        missing = await client.get(f"/{other}/docs")
        assert missing.status_code == 404
        assert missing.json()["error"] == "not_found"
    docs = await client.get("/intake/docs")
    assert docs.status_code == 200
    for url in urls_of(docs.text):
        assert (await client.get(url)).status_code == 200, url


@pytest.fixture
async def with_web() -> AsyncIterator[httpx.AsyncClient]:
    """As `inovasi up` runs it: the four APIs and the web app at the root."""
    from services.platform import APPS
    from tests.support.s3 import moto_s3_server

    with moto_s3_server() as s3:
        settings = isolated_settings(
            pg_pool_min=1, pg_pool_max=3, s3_endpoint=s3.netloc, s3_access_key=s3.access_key,
            s3_secret_key=s3.secret_key, s3_bucket="front-door",
        )
        try:
            async with (
                serve(create_platform_app(APPS, settings)) as base,
                httpx.AsyncClient(base_url=base, timeout=30) as client,
            ):
                yield client
        finally:
            await cleanup(settings)


async def test_with_the_web_app_the_root_is_its_login_and_the_apis_keep_their_prefixes(with_web) -> None:
    client = with_web
    root = await client.get("/")
    assert root.status_code == 303 and root.headers["location"] == "/login"
    login = await client.get("/login")
    assert login.status_code == 200 and '<html lang="id">' in login.text and 'name="password"' in login.text
    api = await client.get("/api")
    assert api.status_code == 200 and "/login" in urls_of(api.text)
    for name in SERVICES:
        assert (await client.get(f"/{name}/openapi.json")).status_code == 200, name
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and set(ready.json()["checks"]) == {*SERVICES, "web"}
    unknown = await client.get("/nothing-here", headers={"accept": "application/json"})
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
    assert "/intake/" in unknown.json()["reason"]
    page = await client.get("/nothing-here", headers={"accept": "text/html"})
    assert page.status_code == 404 and "Halaman tidak ditemukan" in page.text
    token_needed = await client.get("/scoring/v1/cycles/2026/rankings")
    assert token_needed.status_code == 401  # the APIs come before the web app
