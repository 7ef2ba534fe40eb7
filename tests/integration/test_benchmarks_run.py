"""The benchmark scripts the README quotes still run, on a small load (their figures are
measured by running them, never asserted in a test)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def run(*args: str) -> str:
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_scoring_engine_benchmark_runs() -> None:
    out = run("benchmarks/scoring_engine.py", "--innovations", "300", "--rounds", "1", "--updates", "20")
    assert "full recompute" in out and "incremental update" in out


def test_the_decision_to_sse_benchmark_runs() -> None:
    out = run("-m", "benchmarks.decision_to_sse", "--decisions", "3")
    assert "accepted decision → SSE score update over 3 decisions" in out


def test_the_score_versions_benchmark_runs() -> None:
    out = run("-m", "benchmarks.score_versions", "--regions", "1", "--innovations", "2")
    assert "score.updated repeating the previous version's figures: 0 of" in out
