"""The SSE fan-out and webhook delivery benchmarks still run, on a tiny load: they complete and
print their lines (their figures are measured by running them, never asserted in a test)."""

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


def test_the_sse_fanout_benchmark_runs() -> None:
    out = run("-m", "benchmarks.sse_fanout", "--runs", "1", "--clients", "20", "--client-processes", "2",
              "--seconds", "1", "--rate", "10", "--probes", "1")
    assert "SSE fan-out on one scoring process" in out
    assert "scoring service:" in out and "ceiling, a minimal one-reader SSE server" in out
    assert out.count("connected 20 / 20 / 20 of 20") == 2, out  # every client, on both servers
    assert "delivery latency p50" in out and "scoring's relay, a write → its score.updated" in out
    assert "goal: 20 clients connected, p99 < 1 s" in out


def test_the_sse_fanout_benchmark_spreads_its_clients_over_several_scoring_processes() -> None:
    out = run("-m", "benchmarks.sse_fanout", "--runs", "1", "--clients", "20", "--client-processes", "2",
              "--servers", "2", "--seconds", "1", "--rate", "10", "--probes", "1", "--pg-pool-max", "3")
    assert "SSE fan-out on 2 scoring processes in one group" in out
    assert "ceiling, 2 minimal one-reader SSE servers" in out
    assert out.count("connected 20 / 20 / 20 of 20") == 2, out
    assert "the server's inovasi_feed_clients with them connected: 20 / 20 / 20" in out, out  # 10 on each


def test_the_webhooks_benchmark_runs() -> None:
    out = run("-m", "benchmarks.webhooks", "--runs", "1", "--deliveries", "50", "--regions", "2",
              "--subscriptions", "5", "--slow-delay", "6")
    assert "webhook delivery draining a backlog" in out
    assert "without a slow receiver:" in out and "with one slow receiver" in out
    assert "ceiling, the same receiver driven by httpx directly" in out
    assert "webhooks received twice: 0; fast deliveries not 'delivered' in notify's log: 0" in out
    assert "goal: ≥ 300 deliveries/s" in out
