"""The whole platform (four services in one process, as `inovasi up` runs them) under a real
uvicorn server, against the machine's Redis and PostgreSQL and moto's S3 server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from services.platform import SERVICES, create_platform_app
from tests.support.platform import cleanup, isolated_settings
from tests.support.s3 import moto_s3_server
from tests.support.servers import serve


@pytest.fixture
async def platform() -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    with moto_s3_server() as s3:
        settings = isolated_settings(
            s3_endpoint=s3.netloc, s3_access_key=s3.access_key, s3_secret_key=s3.secret_key,
            s3_bucket="e2e-evidence",
        )
        try:
            async with (
                serve(create_platform_app(SERVICES, settings)) as base,
                httpx.AsyncClient(base_url=base, timeout=30) as client,
            ):
                yield client, settings
        finally:
            await cleanup(settings)
