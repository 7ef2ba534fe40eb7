"""Running `inovasi` as a user does: a real process, its exit status, stdout and stderr."""

from __future__ import annotations

import os
import subprocess
import sys


def inovasi(
    *args: str, env: dict[str, str] | None = None, stdout: int = subprocess.PIPE, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        env={**os.environ, **(env or {})}, stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=timeout,
    )
