"""Evidence upload throughput against a direct `put_object` to the same S3 (a script, not a
test).

The run, on this machine's loopback:

* S3: moto's server in a child process (`tests/support/s3.py`; MinIO is not installable
  here), so its CPU and memory are its own;
* the evidence service as a container runs it — `inovasi serve evidence` under uvicorn, in
  a child process, with its own schema and stream prefixes on the local PostgreSQL and Redis;
* the client: this process. For each size (10 MiB and 50 MiB by default) it makes a valid
  PDF of that size (one page, and a large binary stream, as a scanned document has), then
  per round uploads it once through the evidence API (`POST /evidence/v1/evidence?...`, a
  region admin's SPD evidence, real HTTP, the bytes as the body) and once with minio's
  `put_object` straight to the same S3 (default settings: 5 MiB parts, three at once) —
  the ceiling, measured in the same run, alternating so both see the same machine.

Printed per size, over `--runs` rounds: MiB/s min / median / max of each, the ratio of the
medians (the goal: ≥ 80 %), and the server's RSS before the uploads and at its peak during
them (VmHWM, reset before each size through /proc/PID/clear_refs when allowed).

    .venv/bin/python -m benchmarks.upload [--runs 3] [--sizes 10,50]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import io
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
from minio import Minio

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: services and tests from this checkout
    sys.path.append(str(ROOT))

from devtools.demo.files import assemble_pdf  # noqa: E402
from services.common.tokens import issue_token  # noqa: E402
from tests.support.infra import DATABASE_URL, REDIS_URL, delete_keys, drop_schema, free_port, unique_suffix  # noqa: E402
from tests.support.s3 import S3Endpoint, moto_s3_server_process  # noqa: E402

MiB = 1024 * 1024
REGION = "62.10"
INDICATOR = "spd-12"  # an SPD indicator: PDF or images, uploaded by the region admin
CYCLE = 2026
SECRET = "benchmark-" + "0123456789abcdef" * 4
BUCKET = "bench-upload"


def pdf_of_size(size: int) -> bytes:
    """A valid one-page PDF of exactly `size` bytes: the page, and an unused stream of
    incompressible bytes (a scan's image) that pads it, with a correct xref table."""
    fixed = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length 21 >>\nstream\nBT /F1 12 Tf ET    \nendstream",
    ]

    def build(padding: int) -> bytes:
        payload = os.urandom(padding)
        return assemble_pdf([*fixed, b"<< /Length %d >>\nstream\n" % padding + payload + b"\nendstream"])

    overhead = len(build(0))
    # The Length digits grow with the padding: adjust once more for them.
    padding = size - overhead
    padding -= len(build(padding)) - size
    data = build(padding)
    if len(data) != size:
        raise RuntimeError(f"PDF of {len(data)} bytes, wanted {size}")
    return data


@contextmanager
def evidence_server(s3: S3Endpoint, env_extra: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`inovasi serve evidence` in a child process; yields its base URL and the process."""
    port = free_port()
    env = {
        **os.environ,
        "INOVASI_DATABASE_URL": DATABASE_URL,
        "INOVASI_REDIS_URL": REDIS_URL,
        "INOVASI_S3_ENDPOINT": s3.netloc,
        "INOVASI_S3_ACCESS_KEY": s3.access_key,
        "INOVASI_S3_SECRET_KEY": s3.secret_key,
        "INOVASI_S3_BUCKET": BUCKET,
        "INOVASI_S3_READ_TIMEOUT_S": "30",
        "INOVASI_AUTH_SECRET": SECRET,
        "INOVASI_LOG_LEVEL": "WARNING",
        "INOVASI_PG_POOL_MIN": "1",
        "INOVASI_PG_POOL_MAX": "4",
        **env_extra,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "evidence", "--port", str(port)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the evidence service exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            with suppress(httpx.HTTPError):
                if httpx.get(f"{base}/evidence/readyz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the evidence service did not become ready within 60 s")
            time.sleep(0.2)
        yield base, process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _status_kib(pid: int, field_name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field_name} not in /proc/{pid}/status")


def rss_mib(pid: int) -> float:
    return _status_kib(pid, "VmRSS") / 1024


def reset_peak(pid: int) -> bool:
    """Reset the process's peak RSS (VmHWM) to its current RSS; False when not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_mib(pid: int) -> float:
    return _status_kib(pid, "VmHWM") / 1024


@dataclass
class Figures:
    api: list[float] = field(default_factory=list)  # MiB/s
    direct: list[float] = field(default_factory=list)
    rss_before: float = 0.0
    rss_peak: float = 0.0
    rss_after: float = 0.0


def upload_through_api(client: http.client.HTTPConnection, token: str, data: bytes) -> float:
    """One upload through the evidence API: the standard library's HTTP client on a kept
    connection, the body sent with one sendall (a lean client: what is measured is the
    server, not the client, which shares these cores)."""
    query = urlencode({"cycle": CYCLE, "region": REGION, "indicator": INDICATOR})
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/pdf"}
    started = time.perf_counter()
    client.request("POST", f"/evidence/v1/evidence?{query}", body=data, headers=headers)
    response = client.getresponse()
    answer = response.read()
    elapsed = time.perf_counter() - started
    if response.status != 201:
        raise RuntimeError(f"upload answered {response.status}: {answer[:500]!r}")
    return elapsed


def upload_direct(client: Minio, data: bytes) -> float:
    started = time.perf_counter()
    client.put_object(BUCKET, f"direct/{uuid.uuid4()}", io.BytesIO(data), len(data), content_type="application/pdf")
    return time.perf_counter() - started


def run(sizes_mib: list[int], runs: int, env_extra: dict[str, str]) -> dict[int, Figures]:
    figures = {size: Figures() for size in sizes_mib}
    suffix = unique_suffix()
    prefixes = {"INOVASI_STREAM_PREFIX": f"{suffix}.", "INOVASI_SCHEMA_PREFIX": f"{suffix}_"}
    files = {size: pdf_of_size(size * MiB) for size in sizes_mib}
    with moto_s3_server_process() as s3:
        direct = Minio(s3.netloc, access_key=s3.access_key, secret_key=s3.secret_key, secure=False, region=s3.region)
        try:
            with evidence_server(s3, {**prefixes, **env_extra}) as (base, process):
                token = issue_token(SECRET, "region_admin", REGION)
                client = http.client.HTTPConnection(urlsplit(base).netloc, timeout=120)
                try:
                    # Warm-up: connections, imports, prepared statements, the first multipart.
                    upload_through_api(client, token, files[sizes_mib[0]])
                    upload_direct(direct, files[sizes_mib[0]])
                    for size in sizes_mib:
                        data, result = files[size], figures[size]
                        result.rss_before = rss_mib(process.pid)
                        can_reset = reset_peak(process.pid)
                        for _ in range(runs):
                            result.direct.append(size / upload_direct(direct, data))
                            result.api.append(size / upload_through_api(client, token, data))
                        result.rss_peak = peak_mib(process.pid) if can_reset else float("nan")
                        result.rss_after = rss_mib(process.pid)
                finally:
                    client.close()
        finally:
            asyncio.run(_cleanup(prefixes))
    return figures


async def _cleanup(prefixes: dict[str, str]) -> None:
    from redis.asyncio import Redis

    redis = Redis.from_url(REDIS_URL)
    try:
        await delete_keys(redis, prefixes["INOVASI_STREAM_PREFIX"])
    finally:
        await redis.aclose()
    await drop_schema(DATABASE_URL, prefixes["INOVASI_SCHEMA_PREFIX"] + "evidence")


def spread(values: list[float]) -> str:
    return f"{min(values):.1f} / {statistics.median(values):.1f} / {max(values):.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="uploads of each size, each way (default 3)")
    parser.add_argument("--sizes", default="10,50", help="file sizes in MiB, comma-separated (default 10,50)")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE",
        help="an extra INOVASI_* setting for the evidence service (repeatable)",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    env_extra = dict(item.split("=", 1) for item in args.env)
    figures = run(sizes, args.runs, env_extra)
    print(f"evidence upload vs direct minio put_object to the same S3 (moto, loopback), {os.cpu_count()} cores, "
          f"{args.runs} runs each, MiB/s min / median / max")
    for size, result in figures.items():
        ratio = statistics.median(result.api) / statistics.median(result.direct)
        per_run = ", ".join(f"{a / d:.0%}" for a, d in zip(result.api, result.direct, strict=True))
        print(
            f"{size:>3} MiB: API {spread(result.api)}; direct {spread(result.direct)}; "
            f"ratio of medians {ratio:.0%} (per run {per_run}); server RSS {result.rss_before:.0f} MiB before, "
            f"peak {result.rss_peak:.0f} MiB, after {result.rss_after:.0f} MiB"
        )


if __name__ == "__main__":
    main()
