"""The README's curl walkthrough (docs/walkthrough.sh) runs against a live platform."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from tests.support.journeys import Journey
from tests.support.platform import AUTH_SECRET

pytestmark = pytest.mark.integration
SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "walkthrough.sh"


async def test_walkthrough_script_runs_end_to_end(platform):
    client, _settings = platform
    env = {**os.environ, "API": str(client.base_url).rstrip("/"), "INOVASI_AUTH_SECRET": AUTH_SECRET,
           "INOVASI": f"{sys.executable} -m services.cli", "AGENCY": "dinkes"}
    process = await asyncio.create_subprocess_exec(
        "bash", str(SCRIPT), env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    lines = out.decode().strip().splitlines()
    assert lines[0].startswith("innovation ") and lines[1] == "submitted"
    validated = json.loads(lines[-1])
    assert validated["iid"] != "0.00" and validated["innovations_counted"] == 1
    score = await Journey(client).score()
    assert score["claimed"]["iid"] != score["validated"]["iid"]  # the rejection
