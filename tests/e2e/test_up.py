"""`inovasi up` as a newcomer runs it: one process, one port, the four services and the web
app ready, where to log in and a working viewer token printed, and a clean stop on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import httpx
import pytest

from tests.support.infra import free_port, wait_until
from tests.support.platform import cleanup, isolated_settings

pytestmark = pytest.mark.integration


async def test_up_serves_the_four_services_and_the_web_app_and_stops_cleanly(tmp_path):
    settings = isolated_settings()
    port = free_port()
    env = {
        **os.environ,
        "INOVASI_DATABASE_URL": settings.database_url,
        "INOVASI_REDIS_URL": settings.redis_url,
        "INOVASI_STREAM_PREFIX": settings.stream_prefix,
        "INOVASI_SCHEMA_PREFIX": settings.schema_prefix,
        "INOVASI_LOG_JSON": "true",
    }
    env.pop("INOVASI_AUTH_SECRET", None)  # up makes one and keeps it in .inovasi/
    env.pop("INOVASI_HOST", None)  # the default: loopback
    env.pop("INOVASI_S3_ENDPOINT", None)  # nothing on :9000 here: an embedded S3 is started
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "up", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            async def ready():
                try:
                    response = await client.get("/readyz")
                except httpx.TransportError:
                    return False
                return response.status_code == 200 and response.json()

            status = await wait_until(ready, timeout=60, interval=0.3)
            assert set(status["checks"]) == {"intake", "evidence", "scoring", "notify", "web"}
            assert status["checks"]["evidence"]["s3"] == "ok"
            login = await client.get("/login")
            assert login.status_code == 200 and 'name="username"' in login.text
            secret = (tmp_path / ".inovasi" / "auth-secret").read_text().strip()
            assert len(secret) == 64
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=60)
        # uvicorn shuts down gracefully, then re-raises the signal it caught, so the exit
        # status is the signal's; the logs show every service stopped.
        assert process.returncode in (0, -signal.SIGTERM), err[-3000:]
        stopped = [line for line in (out + err).splitlines() if '"service stopped"' in line]
        assert len(stopped) == 5, (out + err)[-3000:]
        assert "Application shutdown complete" in out + err
        token = re.search(r"export TOKEN=(\S+)", err).group(1)
        assert f"http://127.0.0.1:{port}" in err
        assert f"Log in at http://127.0.0.1:{port}/login" in err and "inovasi users create" in err
        assert re.search(r"s3\s+embedded", err)
        # The printed token is a viewer token signed with the kept secret.
        from services.common.tokens import verify_token

        assert verify_token(secret, token).role == "viewer"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        await cleanup(settings)
