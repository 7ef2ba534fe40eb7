"""The work pages' test platform: all four APIs and the web app in one process, as `inovasi
up` runs them, against the machine's PostgreSQL and Redis and moto's S3 server, with the
helpers the tests of `/inovasi` and `/verifikasi` share."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from services.platform import APPS, create_platform_app
from tests.integration.web.conftest import Browser, Web, drop_all, web_settings
from tests.support.journeys import CYCLE, RANCANG_BANGUN, Journey
from tests.support.s3 import S3Endpoint, moto_s3_server

AGENCY = "dinkes"

PROFILE = {
    "name": "Posyandu Keliling Digital", "urusan_utama": "kesehatan", "urusan_lain": "sosial",
    "tahapan": "penerapan", "jenis": "digital", "bentuk": "pelayanan_publik", "inisiator": "perangkat_daerah",
    "tanggal_uji_coba": "2025-02-01", "tanggal_penerapan": "2025-06-01", "rancang_bangun": RANCANG_BANGUN,
    "tujuan": "Mempercepat layanan", "manfaat": "Waktu tunggu turun", "hasil": "Cakupan imunisasi naik",
}
MANDATORY = {"sid-16": 3, "sid-17": 2, "sid-32": 2, "sid-33": 3, "sid-35": 2}


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Endpoint]:
    with moto_s3_server() as endpoint:
        yield endpoint


@asynccontextmanager
async def platform(s3: S3Endpoint, bucket: str = "work-pages", **overrides: Any) -> AsyncIterator[Web]:
    settings = web_settings(s3_endpoint=s3.netloc, s3_access_key=s3.access_key, s3_secret_key=s3.secret_key,
                            s3_bucket=bucket, **overrides)
    app = create_platform_app(APPS, settings)
    web = Web(app, settings, [])
    try:
        async with app.router.lifespan_context(app):
            yield web
            for browser in web.browsers:
                await browser.aclose()
    finally:
        await drop_all(settings)


@pytest.fixture
async def work(s3: S3Endpoint) -> AsyncIterator[Web]:
    async with platform(s3) as web:
        yield web


def api(web: Web) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=web.app), base_url="http://test", timeout=60)


async def register_agency(web: Web, region: str = "62.10", agency: str = AGENCY) -> Journey:
    async with api(web) as client:
        journey = Journey(client, region, agency)
        await journey.register_agency()
    return journey


def form_of(values: dict[str, str]) -> list[tuple[str, str]]:
    """A profile as the form posts it (urusan_lain: one field per checked box)."""
    fields = [(name, value) for name, value in values.items() if name != "urusan_lain"]
    return fields + [("urusan_lain", code) for code in values.get("urusan_lain", "").split() if code]


async def post_form(browser: Browser, path: str, fields: list[tuple[str, str]]) -> httpx.Response:
    """A form post whose fields may repeat (checkboxes), with the page's CSRF token."""
    body = urlencode([*fields, ("csrf_token", browser.csrf or "")])
    return await browser.http.post(path, content=body,
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})


def innovation_id(location: str) -> str:
    found = re.match(r"^/inovasi/([^/?#]+)", location)
    assert found, location
    return found.group(1)


def version_of(page: str) -> str:
    found = re.search(r'name="version" value="(\d+)"', page)
    assert found, "no version on the page"
    return found.group(1)


def attribute(page: str, pattern: str) -> str:
    found = re.search(pattern, page)
    assert found, pattern
    return found.group(1)


async def until(check: Any, timeout: float = 10.0, interval: float = 0.1) -> Any:
    """Await `check()` until it returns something truthy (events take a moment)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(interval)


__all__ = ["AGENCY", "CYCLE", "MANDATORY", "PROFILE", "api", "attribute", "form_of", "innovation_id", "platform",
           "post_form", "register_agency", "s3", "until", "version_of", "work"]
