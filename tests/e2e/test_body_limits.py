"""Request bodies are bounded before anything else, on every service: over its route's limit
a body is refused with a JSON 413 naming `body` — by its Content-Length at once, or while it
streams — before the token is even looked at, and the service's memory stays flat."""

from __future__ import annotations

import resource
from collections.abc import AsyncIterator

import httpx
import pytest

from services.platform import SERVICES, create_platform_app
from tests.support.platform import cleanup, isolated_settings, token
from tests.support.s3 import moto_s3_server
from tests.support.servers import serve

pytestmark = pytest.mark.integration
LIMIT = 64 * 1024
MiB = 1024 * 1024
# A JSON route of each service, and the evidence upload with its own (larger) limit.
ROUTES = {
    "intake": "/intake/v1/cycles/2026/innovations",
    "evidence": "/evidence/v1/evidence/some-id/decision",
    "notify": "/notify/v1/subscriptions",
    "scoring": "/scoring/v1/cycles/2026/rankings",
}


async def chunks(total: int, size: int = MiB, head: bytes = b"") -> AsyncIterator[bytes]:
    """`total` bytes in chunks of `size`, starting with `head`, made as they are sent."""
    yield head
    sent = 0
    block = b"x" * size
    while sent < total:
        yield block
        sent += size


def assert_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413, (response.request.url, response.status_code, response.text)
    assert response.json()["error"] == "too_large"
    assert response.json()["problems"][0]["field"] == "body"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.fixture
async def platform(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("INOVASI_EVIDENCE_MAX_UPLOAD_BYTES", str(4 * MiB))  # evidence's own setting
    with moto_s3_server() as s3:
        settings = isolated_settings(
            s3_endpoint=s3.netloc, s3_access_key=s3.access_key, s3_secret_key=s3.secret_key,
            s3_bucket="body-limits", max_request_body_bytes=LIMIT,
        )
        try:
            app = create_platform_app(SERVICES, settings)
            async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=60) as client:
                yield client
        finally:
            await cleanup(settings)


async def test_every_service_refuses_a_body_over_the_limit_before_authentication(platform) -> None:
    client = platform
    for path in ROUTES.values():
        # Declared too large: refused without reading it, with no token and with one.
        for headers in ({}, token("region_admin")):
            assert_too_large(await client.post(path, content=b"{" + b" " * LIMIT + b"}", headers=headers))
    # Streamed without a length to routes that read their body before the token: refused
    # once the bytes received pass the limit, still without a token.
    for path in (ROUTES["intake"], ROUTES["notify"]):
        assert_too_large(await client.post(path, content=chunks(4 * LIMIT, size=16 * 1024)))
        # Under the limit it goes on to the usual checks (here: no token).
        assert (await client.post(path, json={"small": True})).status_code == 401


async def test_the_evidence_upload_takes_its_own_limit(platform) -> None:
    client = platform
    upload = "/evidence/v1/evidence?cycle=2026&region=62.10&indicator=spd-01"
    admin = token("region_admin")
    # Over the JSON limit but under the upload limit: not refused for its size.
    pdf_like = b"%PDF-1.4\n" + b"0" * (2 * LIMIT)
    under = await client.post(upload, content=pdf_like, headers={"Content-Type": "application/pdf"})
    assert under.status_code == 401  # on to authentication
    assert_too_large(await client.post(upload, content=b"%PDF-1.4\n" + bytes(5 * MiB), headers=admin))
    assert_too_large(await client.post(upload, content=chunks(8 * MiB, head=b"%PDF-1.4\n"), headers=admin))


async def test_a_200_mb_body_leaves_memory_flat(platform) -> None:
    client = platform
    before = peak_rss_mib()
    for path in (ROUTES["intake"], ROUTES["notify"]):
        assert_too_large(await client.post(path, content=chunks(200 * MiB)))
    grown = peak_rss_mib() - before
    print(f"\npeak RSS grew {grown:.1f} MiB while 200 MB bodies were refused")
    assert grown < 32, grown
