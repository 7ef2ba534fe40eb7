"""A service stops promptly with live feeds open: `inovasi serve scoring` with 100 dashboards
connected exits within 2 s of SIGTERM, ending every stream, without a traceback."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.support.infra import free_port, wait_until
from tests.support.platform import AUTH_SECRET, cleanup, isolated_settings, token

pytestmark = pytest.mark.integration
STREAMS = 100
EXIT_WITHIN_S = 2.0


async def test_serve_exits_within_2_s_of_sigterm_with_100_open_streams(tmp_path):
    settings = isolated_settings()
    port = free_port()
    env = {
        **os.environ,
        "INOVASI_DATABASE_URL": settings.database_url,
        "INOVASI_REDIS_URL": settings.redis_url,
        "INOVASI_STREAM_PREFIX": settings.stream_prefix,
        "INOVASI_SCHEMA_PREFIX": settings.schema_prefix,
        "INOVASI_AUTH_SECRET": AUTH_SECRET,
        "INOVASI_PG_POOL_MAX": "4",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "scoring", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    limits = httpx.Limits(max_connections=STREAMS + 10)
    try:
        async with httpx.AsyncClient(base_url=base, timeout=None, limits=limits) as client:
            async def ready() -> bool:
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_until(ready, timeout=60, interval=0.3)
            opened = asyncio.Event()
            connected = 0

            async def dashboard() -> str:
                nonlocal connected
                url = "/scoring/v1/cycles/2026/stream?region=62.10"
                async with client.stream("GET", url, headers=token("viewer")) as response:
                    connected += 1
                    if connected == STREAMS:
                        opened.set()
                    async for _line in response.aiter_lines():
                        pass
                return "ended"

            dashboards = [asyncio.create_task(dashboard()) for _ in range(STREAMS)]
            await asyncio.wait_for(opened.wait(), 60)
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            returncode = await asyncio.to_thread(process.wait, 30)
            took = time.monotonic() - started
            results = await asyncio.gather(*dashboards, return_exceptions=True)
        out, err = process.communicate(timeout=10)
        print(f"\nexit {took * 1000:.0f} ms after SIGTERM with {STREAMS} open streams")
        assert returncode in (0, -signal.SIGTERM), err[-3000:]
        assert took < EXIT_WITHIN_S, took
        assert "Traceback" not in out + err, (out + err)[-3000:]
        assert sum(1 for r in results if r == "ended") == STREAMS, [r for r in results if r != "ended"][:3]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        await cleanup(settings)
