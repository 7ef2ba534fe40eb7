"""Uploads at the edges, through the whole evidence app against real PostgreSQL, Redis and S3
(moto's server): a client that stops sending gets 408 `upload_stalled`, one that goes away
gets 400 `client_disconnected`, and neither leaves a row, an event or an object behind; a
storage server that lost the bucket gets it back, the upload meanwhile a 503 to retry."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.evidence.app import create_app
from services.evidence.settings import EvidenceSettings
from tests.support.files import minimal_pdf
from tests.support.infra import unique_suffix
from tests.support.platform import cleanup, isolated_settings, running, token
from tests.support.s3 import S3Endpoint

pytestmark = pytest.mark.integration

PDF_HEAD = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + bytes(range(256)) * 40
SPD_UPLOAD = "cycle=2026&region=62.10&indicator=spd-01"  # the region admin's: no projection needed
STALL_S = 0.5


@pytest.fixture
async def evidence_app(s3_endpoint: S3Endpoint, s3_inspector: Any) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    base = isolated_settings(
        s3_endpoint=s3_endpoint.url,
        s3_access_key=s3_endpoint.access_key,
        s3_secret_key=s3_endpoint.secret_key,
        s3_region=s3_endpoint.region,
        s3_bucket=f"evidence-{unique_suffix()}",
    )
    settings = EvidenceSettings(**{**base.model_dump(), "evidence_upload_stall_timeout_s": STALL_S})
    app = create_app(settings, consume=False)
    try:
        async with running(app) as client:
            yield app, client
    finally:
        await cleanup(settings)


async def nothing_left(app: Any, s3: Any) -> None:
    async with app.state.runtime.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM evidence") == 0
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0
    bucket = app.state.runtime.settings.s3_bucket
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])


async def test_an_upload_that_stops_sending_gets_408_and_leaves_nothing(evidence_app, s3_inspector) -> None:
    app, client = evidence_app

    async def stalling() -> AsyncIterator[bytes]:
        yield PDF_HEAD
        await asyncio.sleep(STALL_S * 4)
        yield b"%%EOF\n"

    response = await client.post(
        f"/v1/evidence?{SPD_UPLOAD}",
        content=stalling(),
        headers={**token("region_admin"), "Content-Type": "application/pdf"},
    )
    assert response.status_code == 408, response.text
    body = response.json()
    assert body["error"] == "upload_stalled" and body["problems"][0]["field"] == "body"
    await nothing_left(app, s3_inspector)


async def test_a_client_that_goes_away_midway_gets_400_and_leaves_nothing(evidence_app, s3_inspector) -> None:
    app, _client = evidence_app
    messages = iter([
        {"type": "http.request", "body": PDF_HEAD, "more_body": True},
        {"type": "http.disconnect"},
    ])

    async def receive() -> dict[str, Any]:
        return next(messages, {"type": "http.disconnect"})

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    authorization = token("region_admin")["Authorization"].encode()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/v1/evidence", "raw_path": b"/v1/evidence", "root_path": "", "query_string": SPD_UPLOAD.encode(),
        "headers": [(b"authorization", authorization), (b"content-type", b"application/pdf")],
        "server": ("test", 80), "client": ("127.0.0.1", 50000),
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert start["status"] == 400, body
    assert json.loads(body)["error"] == "client_disconnected"
    await nothing_left(app, s3_inspector)


async def test_a_lost_bucket_is_created_again_and_the_retry_succeeds(evidence_app, s3_inspector) -> None:
    app, client = evidence_app
    bucket = app.state.runtime.settings.s3_bucket
    s3_inspector.delete_bucket(Bucket=bucket)  # the storage server lost it

    async def upload() -> httpx.Response:
        return await client.post(
            f"/v1/evidence?{SPD_UPLOAD}", content=minimal_pdf(),
            headers={**token("region_admin"), "Content-Type": "application/pdf"},
        )

    refused = await upload()
    assert refused.status_code == 503 and refused.json()["error"] == "unavailable", refused.text
    assert int(refused.headers["retry-after"]) >= 1
    await nothing_left(app, s3_inspector)
    retried = await upload()
    assert retried.status_code == 201, retried.text
