"""Answers through the whole pipeline — HTTP write, outbox, Redis, scoring, live feed — under
concurrent operators, with the machine's ceilings measured in the same run (a script, not a
test).

    .venv/bin/python benchmarks/pipeline.py [--mode serve|up|both] [--runs 3] [--duration 30] [--rate 200]
        [--operators 64] [--regions 8] [--connections 64] [--clients 2] [--env INOVASI_X=…]

What runs (everything on this machine's loopback, removed at the end, also on Ctrl-C or an error):

* moto's S3 server in a child process (tests/support/s3.py), which the evidence service needs;
* the platform as it is deployed, in child processes on free ports, with its own
  INOVASI_STREAM_PREFIX / INOVASI_SCHEMA_PREFIX on the local PostgreSQL and Redis, an
  INOVASI_AUTH_SECRET this script mints tokens with, INOVASI_PG_POOL_MAX `--pg-pool-max`
  (default 8: PostgreSQL's 100 connections are shared), INOVASI_LOG_LEVEL `--log-level`
  (default INFO, as deployed; logs to files in a temporary directory) and any `--env`:
  `--mode up` is `inovasi up` (the four services and the web app in one process), `--mode
  serve` is four `inovasi serve <service>` processes (intake, evidence, scoring, notify; the
  script sends each request to its service's port, as the gateway would); `--mode both`
  measures one, then the other;
* benchmarks/minimal_endpoint.py in a child process: the ceiling (a) below.

Setup, through the APIs as people do it: in `--regions` kabupaten of Kalimantan Tengah
(62.01…), `--operators` agencies (the region admin registers each), each with one operator
and one innovation: its mandatory SID indicators answered, submitted, evidence uploaded for
sid-16 (a PDF, with the innovation's upload grant) and accepted by the region's verifier. So
every benchmark write — `PUT …/innovations/{id}/answers/sid-16` with `If-Match`, the level
flipping 1 ↔ 3 — changes the innovation's maturity in all three figures (the answer counts
in `validated`), and scoring makes a new score version and publishes `score.updated`.

Each run (`--runs N`, one platform per mode, set up once) measures, in this order:

1. **Open loop** at `--rate` writes/s offered for `--duration` s, from `--clients` client
   processes (multiprocessing; raw HTTP/1.1 on asyncio, one kept-alive connection per
   operator). Operator i of n plans its k-th write at t0 + (i + k·n) / rate: the operators
   interleave into an even `--rate`. An operator has one write in flight (each needs the
   version the previous one returned); a write whose planned time has passed is sent at
   once, and every latency is counted from the write's **planned** send time, not its
   actual one, so a slow server cannot hide its queue by slowing the generator (coordinated
   omission). Writes still unsent `--grace` s after the end are "not sent". A dashboard
   follows the live feed meanwhile (`GET /scoring/v1/cycles/2026/stream?province=62`, this
   process), recording when each (region, score version) first arrives.
2. **Closed loop** with wrk (`-t --wrk-threads -c C` for each C of `--connections`, the same
   `--duration`, benchmarks/wrk/answers.lua): each connection always writes an innovation of
   its own (wrk builds requests without knowing the connection, so the script keeps a free
   list per thread with as many innovations as connections and matches each answer to its
   innovation through the X-Correlation-ID the server echoes).
3. **Ceilings**, the same run, the platform idle: (a) the minimal FastAPI + PostgreSQL
   endpoint (decode the JWT with the same secret, one transaction with an upsert and an
   outbox insert; uvicorn configured as the services are, same pool size and log level)
   driven by the very same wrk command and Lua script, and by the open-loop generator at
   `--generator-rate` offered (the generator's own maximum: what it can push at all);
   (b) raw redis-py, 64 tasks XADDing ~1 KiB entries while one reader XREADGROUPs and XACKs
   them: entries acknowledged/s; (c) raw asyncpg, 64 tasks INSERTing one row each on
   `--pg-ceiling-connections` connections (the 100 connections PostgreSQL allows are shared
   with the platform's pools and other users): rows/s. (b) and (c) run for
   `--ceiling-duration` s.

What each figure means:

* **accepted/s** — writes answered 2xx at HTTP per second of load.
* **end to end/s** — writes accepted *and* reflected in the score: scoring has applied
  their event (what `GET …/score?after_event=<id>` waits for; it keeps every applied event in
  `applied_events` with the score version it left its region at), divided by the time from
  the start of the load until the last one was applied. The script waits for that by
  counting the phase's events in the scoring schema's `applied_events` (the open loop: by
  the event ids the writes answered; wrk: `innovation.updated` rows applied since wrk
  started, until as many as the 2xx answers), takes the time of the last one (`applied_at`,
  the applying transaction's start; same host, same clock), and confirms through the API:
  each innovation's last event, asked with `?after_event=`, must answer
  `X-Event-Reflected: true`. With wrk, scoring may still be working long after wrk stops;
  "scoring done N s after the load" says how long.
* **write → SSE** — for each accepted open-loop write, from its planned send time to the
  arrival on the live feed of the first score version made at or after the write's event was
  applied. Batched scoring coalesces a region's events of one read into one version, caused
  by the last of them (`caused_by` names only that one), so the match is made through
  `applied_events` instead: a write's event there has the version its batch left the region
  at, and the batch made that version (rather than leaving the region as it was) exactly
  when the row marked `changed` for it is of the same region, version and transaction
  (`applied_at` is the transaction's start, the same for every row of a batch). Then the
  write's update is that version. A write whose batch left the figures as they were (its
  flip undone by another write of the same innovation in the same read) has no version of
  its own; its update is the region's next version (the first made after it), and it is
  counted as "coalesced into no change". The first arrival of each (region, version) on the
  feed is what counts. **2xx → SSE** is the same from the moment the write's answer arrived
  (the figure the issue's first table quotes), split into 2xx → the applying transaction's
  start and from there → the feed.
* **CPU ms per write** — CPU time (user + system, /proc) each platform process used from the
  start of a phase's load until its writes were applied, divided by the writes accepted; the
  minimal endpoint's likewise. Unlike throughput on shared cores, other programs on the
  machine barely move it, and it shows which process a write costs most in (PostgreSQL's
  and Redis's own CPU are not in it). The platform's idle use is printed once per mode.
* **score versions made** — how many `score.updated` the phase's writes caused (scoring
  makes one per region per read of the stream, however many of its events the read held).
* **ratios** — end to end/s with wrk against the minimal endpoint's 2xx/s with the same wrk
  command (goal ≥ 50 %) and against raw Redis (goal ≥ 20 %), judged for `serve`: they restate
  its 1,000/s against the issue's ceilings (with `up`, whose goal is 500/s, they are printed
  unjudged); the goals: end to end ≥ 1,000/s with `serve`, ≥ 500/s with `up`, and p99 write
  → SSE < 500 ms at 200/s offered with every offered write accepted.

Each run prints its figures as they come; at the end, per mode, min / median / max over the
runs and the goals. The CPU count is printed first: everything — platform, PostgreSQL,
Redis, the generators — shares these cores, so each generator's own ceiling is printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import ctypes
import json
import math
import multiprocessing
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: services and tests from this checkout
    sys.path.append(str(ROOT))

CYCLE = 2026
PROVINCE = "62"  # Kalimantan Tengah: one live-feed connection follows all its regions
REGIONS = ["62.01", "62.02", "62.03", "62.04", "62.05", "62.06", "62.07", "62.08", "62.09", "62.10", "62.11",
           "62.12", "62.13", "62.71"]
INDICATOR = "sid-16"  # mandatory, weight 3, PDF evidence
SERVICES = ("intake", "evidence", "scoring", "notify")
SCHEMAS = (*SERVICES, "web")
SECRET = "benchmark-pipeline-" + "0123456789abcdef" * 4
LUA = ROOT / "benchmarks" / "wrk" / "answers.lua"
IDLE_S = 3.0  # how long the platform's idle CPU use is measured, once per mode
GOAL_END_TO_END = {"serve": 1000.0, "up": 500.0}
GOAL_SSE_P99_MS = 500.0
GOAL_RATE = 200.0  # writes/s offered at which the p99 write -> SSE goal is stated
# The ratio goals restate serve's 1,000/s against the issue's ceilings (~1,940/s for the
# minimal endpoint, ~5,000 entries/s for Redis); `up`'s goal is 500/s alone — judged by them it
# would contradict itself (500/s is ~30 % and ~10 % of those) — so its ratios are printed unjudged.
GOAL_MINIMAL_RATIO = 0.50
GOAL_REDIS_RATIO = 0.20
RATIO_GOALS_MODE = "serve"


# --- child processes -----------------------------------------------------------------------


def _die_with_parent() -> None:
    """In a child before exec: SIGTERM when this script dies, even by SIGKILL (Linux)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Children:
    """The servers this script starts (only from the main thread: the parent-death signal is
    tied to the thread that forks), stopped in reverse order."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, command: Sequence[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        with open(self.logs / f"{name}.log", "ab") as log:
            proc = subprocess.Popen(
                list(command), env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_die_with_parent,
            )
        self.procs.append((name, proc))
        return proc

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.logs / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs = [(n, p) for n, p in self.procs if p is not proc]

    def stop_all(self) -> None:
        for _, proc in reversed(list(self.procs)):
            self.stop(proc)


async def wait_ready(children: Children, name: str, proc: subprocess.Popen[bytes], url: str,
                     timeout: float = 120.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2.0) as client:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{children.log_tail(name)}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} not ready within {timeout:.0f} s:\n{children.log_tail(name)}")
            await asyncio.sleep(0.2)


def free_port() -> int:
    from tests.support.infra import free_port as pick

    return pick()


@dataclass(frozen=True)
class Platform:
    mode: str
    urls: dict[str, str]  # service -> base URL
    schema_prefix: str
    stream_prefix: str
    pids: dict[str, int]  # process name (a service, or "up") -> pid

    def schema(self, service: str) -> str:
        return f"{self.schema_prefix}{service}"


async def start_platform(mode: str, children: Children, env: dict[str, str], prefixes: dict[str, str]) -> Platform:
    if mode == "up":
        port = free_port()
        proc = children.start("up", [sys.executable, "-m", "services.cli", "up", "--port", str(port)], env)
        base = f"http://127.0.0.1:{port}"
        await wait_ready(children, "up", proc, f"{base}/readyz")
        urls = {service: base for service in SERVICES}
        pids = {"up": proc.pid}
    else:
        urls, waits, pids = {}, [], {}
        for service in SERVICES:
            port = free_port()
            proc = children.start(service, [sys.executable, "-m", "services.cli", "serve", service, "--port",
                                            str(port)], env)
            urls[service], pids[service] = f"http://127.0.0.1:{port}", proc.pid
            waits.append(wait_ready(children, service, proc, f"{urls[service]}/{service}/readyz"))
        await asyncio.gather(*waits)
    return Platform(mode, urls, prefixes["INOVASI_SCHEMA_PREFIX"], prefixes["INOVASI_STREAM_PREFIX"], pids)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc); NaN if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds each process uses between `start()` and `stop()`: per write, a figure the
    other processes on this machine cannot distort (unlike throughput on shared cores)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.before: dict[str, float] = {}
        self.used: dict[str, float] = {}

    def start(self) -> None:
        self.before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def stop(self) -> dict[str, float]:
        self.used = {name: cpu_seconds(pid) - self.before[name] for name, pid in self.pids.items()}
        return self.used

    def per_write(self, writes: int) -> str:
        if not writes:
            return "n/a"
        parts = [f"{name} {seconds * 1000 / writes:.2f}" for name, seconds in self.used.items()]
        total = sum(self.used.values()) * 1000 / writes
        return ", ".join(parts) + (f"; {total:.2f} in all" if len(parts) > 1 else "") + " (CPU ms per write)"


# --- operators and setup ---------------------------------------------------------------------


@dataclass
class Operator:
    index: int
    region: str
    agency: str
    token: str
    innovation: str = ""
    version: int = 0
    level: int = 3
    setup_event: str = ""

    def answer_path(self) -> str:
        return f"/intake/v1/cycles/{CYCLE}/innovations/{self.innovation}/answers/{INDICATOR}"


@dataclass(frozen=True)
class WriteSpec:
    """What a client process needs to write for one operator (picklable)."""

    index: int
    path: str
    token: str
    version: int
    level: int


def tokens_of(region: str) -> dict[str, str]:
    from services.common.tokens import issue_token

    return {role: issue_token(SECRET, role, region) for role in ("region_admin", "verifier", "viewer")}


async def set_up_operators(platform: Platform, count: int, regions: Sequence[str]) -> list[Operator]:
    """Agencies, innovations with the mandatory answers, submitted, with accepted evidence for
    sid-16, through the APIs; then waits until scoring has applied it all."""
    import httpx

    from services.common.methodology.catalogue import load_methodology
    from services.common.tokens import issue_token
    from tests.support.files import minimal_pdf
    from tests.support.journeys import profile

    mandatory = [i.code for i in load_methodology("iid-2026").indicators_of("sid") if i.mandatory]
    region_tokens = {region: tokens_of(region) for region in regions}
    operators = []
    for index in range(count):
        region = regions[index % len(regions)]
        agency = f"bench-op{index:03d}"
        operators.append(Operator(index, region, agency, issue_token(SECRET, "operator", region, agency)))
    intake, evidence = platform.urls["intake"], platform.urls["evidence"]
    pdf = minimal_pdf("Peraturan Bupati tentang inovasi daerah")
    limit = asyncio.Semaphore(16)

    def check(response: httpx.Response, *expected: int) -> dict[str, Any]:
        if response.status_code not in expected:
            request = response.request
            raise RuntimeError(f"setup: {request.method} {request.url}: {response.status_code} {response.text[:500]}")
        return response.json() if response.content else {}

    async def one(client: httpx.AsyncClient, op: Operator) -> None:
        admin = {"Authorization": f"Bearer {region_tokens[op.region]['region_admin']}"}
        verifier = {"Authorization": f"Bearer {region_tokens[op.region]['verifier']}"}
        operator = {"Authorization": f"Bearer {op.token}"}
        async with limit:
            check(await client.post(f"{intake}/intake/v1/regions/{op.region}/agencies",
                                    json={"id": op.agency, "name": f"Dinas Uji Beban {op.index}"}, headers=admin),
                  201, 409)
            innovation = check(await client.post(f"{intake}/intake/v1/cycles/{CYCLE}/innovations",
                                                 json=profile(f"Inovasi uji beban {op.index}"), headers=operator), 201)
            op.innovation, version, grant = innovation["id"], innovation["version"], innovation["upload_grant"]
            base = f"{intake}/intake/v1/cycles/{CYCLE}/innovations/{op.innovation}"
            for indicator in mandatory:
                answered = check(await client.put(
                    f"{base}/answers/{indicator}", json={"level": 3 if indicator == INDICATOR else 2},
                    headers={**operator, "If-Match": f'"{version}"'}), 200)
                version = answered["version"]
            version = check(await client.post(f"{base}/submit", headers={**operator, "If-Match": f'"{version}"'}),
                            200)["version"]
            op.version, op.level = version, 3
            item = check(await client.post(
                f"{evidence}/evidence/v1/evidence",
                params={"cycle": CYCLE, "innovation": op.innovation, "indicator": INDICATOR}, content=pdf,
                headers={**operator, "X-Upload-Grant": grant, "Content-Type": "application/pdf"}), 201)
            decided = check(await client.post(f"{evidence}/evidence/v1/evidence/{item['id']}/decision",
                                              json={"decision": "accepted"}, headers=verifier), 200)
            op.setup_event = decided["event_id"]

    async with httpx.AsyncClient(timeout=60) as client:
        await asyncio.gather(*(one(client, op) for op in operators))
        reflected = await reflected_events(client, platform, [(op.region, op.setup_event) for op in operators],
                                           timeout=120)
    if reflected < len(operators):
        raise RuntimeError(f"setup: scoring reflected {reflected} of {len(operators)} accepted decisions in 120 s")
    return operators


async def reflected_events(client: Any, platform: Platform, events: Sequence[tuple[str, str]],
                           timeout: float = 60.0) -> int:
    """How many of (region, event id) the score answers as reflected (`?after_event=`,
    `X-Event-Reflected: true`), asking again while not, for up to `timeout` s."""
    scoring = platform.urls["scoring"]
    viewers = {region: {"Authorization": f"Bearer {tokens_of(region)['viewer']}"} for region, _ in events}
    deadline = time.monotonic() + timeout
    limit = asyncio.Semaphore(16)

    async def one(region: str, event: str) -> bool:
        async with limit:
            while True:
                response = await client.get(f"{scoring}/scoring/v1/cycles/{CYCLE}/regions/{region}/score",
                                            params={"after_event": event}, headers=viewers[region])
                if response.status_code == 200 and response.headers.get("x-event-reflected") == "true":
                    return True
                if time.monotonic() > deadline:
                    return False
                await asyncio.sleep(0.05)

    return sum(await asyncio.gather(*(one(region, event) for region, event in events)))


async def refresh_platform(platform: Platform, operators: Sequence[Operator]) -> list[WriteSpec]:
    """Each innovation's current version and sid-16 level, read back (the previous phase moved them)."""
    import httpx

    async with httpx.AsyncClient(timeout=30) as client:
        async def one(op: Operator) -> WriteSpec:
            response = await client.get(f"{platform.urls['intake']}/intake/v1/cycles/{CYCLE}/innovations/"
                                        f"{op.innovation}", headers={"Authorization": f"Bearer {op.token}"})
            response.raise_for_status()
            body = response.json()
            op.version, op.level = body["version"], body["answers"][INDICATOR]
            return WriteSpec(op.index, op.answer_path(), op.token, op.version, op.level)

        return list(await asyncio.gather(*(one(op) for op in operators)))


async def refresh_minimal(base: str, operators: Sequence[Operator]) -> list[WriteSpec]:
    import httpx

    async with httpx.AsyncClient(timeout=30) as client:
        async def one(op: Operator) -> WriteSpec:
            response = await client.get(f"{base}/v1/items/op{op.index}")
            response.raise_for_status()
            body = response.json()
            return WriteSpec(op.index, f"/v1/items/op{op.index}/answers/{INDICATOR}", op.token, body["version"],
                             body["level"] or 3)

        return list(await asyncio.gather(*(one(op) for op in operators)))


# --- the open-loop generator (client processes) ----------------------------------------------


class RawHttp:
    """HTTP/1.1 on one kept-alive connection, as lean as a Python client gets (httpx costs
    several times more CPU per request, and the client shares the cores with the servers)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def send(self, request: bytes) -> tuple[int, dict[bytes, bytes], bytes]:
        if self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name:
                headers[name.strip().lower()] = value.strip()
        if headers.get(b"transfer-encoding") == b"chunked":
            chunks = []
            while size := int((await self.reader.readline()).split(b";")[0], 16):
                chunks.append(await self.reader.readexactly(size))
                await self.reader.readline()
            await self.reader.readline()
            body = b"".join(chunks)
        else:
            body = await self.reader.readexactly(int(headers.get(b"content-length", b"0")))
        if headers.get(b"connection") == b"close":
            self.close()
        return status, headers, body


_ETAG = re.compile(rb"(\d+)")
_CURRENT = re.compile(rb'"current_version"\s*:\s*(\d+)')

# One write as a client records it: (operator index, planned, sent, done, status, event id);
# times are time.monotonic(), the same clock in every process of this machine. Status 0: no answer.
Record = tuple[int, float, float, float, int, str]


@dataclass(frozen=True)
class LoadPlan:
    host: str
    port: int
    rate: float
    operators: int  # in all client processes
    duration: float
    grace: float
    stop_at_end: bool  # the generator's maximum: send nothing planned that is late at the end
    keep_records: bool


async def _operate(plan: LoadPlan, spec: WriteSpec, t0: float) -> tuple[list[Record], int, int]:
    """One operator's writes in order; returns its records, how many planned writes it did not
    send, and how many it answered 2xx."""
    connection = RawHttp(plan.host, plan.port)
    prefix = (f"PUT {spec.path} HTTP/1.1\r\nHost: {plan.host}:{plan.port}\r\nAuthorization: Bearer {spec.token}\r\n"
              f"Content-Type: application/json\r\n").encode()
    version, level = spec.version, spec.level
    records: list[Record] = []
    k = ok = 0
    planned_count = max(0, math.ceil((plan.duration * plan.rate - spec.index) / plan.operators))
    end, last_send = t0 + plan.duration, t0 + plan.duration + plan.grace
    try:
        with contextlib.suppress(OSError):  # else the first send connects, or counts as failed
            await connection.open()
        while k < planned_count:
            planned = t0 + (spec.index + k * plan.operators) / plan.rate
            now = time.monotonic()
            if planned > now:
                await asyncio.sleep(planned - now)
                now = time.monotonic()
            if (plan.stop_at_end and now >= end) or now > last_send:
                break
            new_level = 4 - level
            body = b'{"level": %d}' % new_level
            request = prefix + b'If-Match: "%d"\r\nContent-Length: %d\r\n\r\n' % (version, len(body)) + body
            try:
                status, headers, answer = await connection.send(request)
            except (OSError, ValueError, IndexError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                connection.close()
                status, headers, answer = 0, {}, b""
            done = time.monotonic()
            if 200 <= status < 300:
                ok += 1
                tag = _ETAG.search(headers.get(b"etag", b""))
                version, level = (int(tag.group(1)) if tag else version + 1), new_level
            elif status == 412 and (current := _CURRENT.search(answer)):
                version = int(current.group(1))
            if plan.keep_records:
                records.append((spec.index, planned, now, done, status, headers.get(b"x-event-id", b"").decode()))
            k += 1
    finally:
        connection.close()
    return records, planned_count - k, ok


def client_process(plan: LoadPlan, specs: list[WriteSpec], ready: Any, go: Any, start_at: Any, results: Any) -> None:
    """A client process: its operators' connections, then the load from the common start."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops it

    async def run() -> tuple[list[Record], int, int, float]:
        ready.put(os.getpid())
        await asyncio.to_thread(go.wait)
        t0 = start_at.value
        outcomes = await asyncio.gather(*(_operate(plan, spec, t0) for spec in specs))
        records = [r for outcome in outcomes for r in outcome[0]]
        return records, sum(o[1] for o in outcomes), sum(o[2] for o in outcomes), time.monotonic()

    results.put(asyncio.run(run()))


@dataclass
class LoadResult:
    t0: float
    records: list[Record]
    unsent: int
    ok: int
    finished: float
    offered: int


async def _get(channel: Any, timeout: float, processes: Sequence[Any]) -> Any:
    """The next item a client process sends, waited for in short slices (so that a Ctrl-C is
    noticed, and a client that died is)."""
    import queue

    deadline = time.monotonic() + timeout
    while True:
        try:
            return await asyncio.to_thread(channel.get, True, 0.25)
        except queue.Empty:
            if time.monotonic() > deadline:
                raise RuntimeError(f"a client process did not answer within {timeout:.0f} s") from None
            if all(not p.is_alive() for p in processes) and channel.empty():
                raise RuntimeError("the client processes exited without their results") from None


async def generate(plan: LoadPlan, specs: Sequence[WriteSpec], clients: int) -> LoadResult:
    """Run the open-loop load from `clients` processes; returns when they all finished."""
    context = multiprocessing.get_context("spawn")
    ready, results = context.Queue(), context.Queue()
    go, start_at = context.Event(), context.Value("d", 0.0)
    shares = [[s for s in specs if s.index % clients == c] for c in range(clients)]
    processes = [context.Process(target=client_process, args=(plan, share, ready, go, start_at, results), daemon=True)
                 for share in shares if share]
    for process in processes:
        process.start()
    outcomes: list[tuple[list[Record], int, int, float]] = []
    try:
        for _ in processes:
            await _get(ready, 60, processes)
        t0 = time.monotonic() + 0.5
        start_at.value = t0
        go.set()
        for _ in processes:
            outcomes.append(await _get(results, plan.duration + plan.grace + 120, processes))
    finally:
        for process in processes:
            if len(outcomes) == len(processes):  # done: let them exit; else (an error, Ctrl-C) stop them now
                process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join()
    offered = sum(max(0, math.ceil((plan.duration * plan.rate - s.index) / plan.operators)) for s in specs)
    return LoadResult(t0, [r for o in outcomes for r in o[0]], sum(o[1] for o in outcomes),
                      sum(o[2] for o in outcomes), max(o[3] for o in outcomes), offered)


# --- the live feed ----------------------------------------------------------------------------


@dataclass
class FeedListener:
    """Follows the province's live feed; the first arrival of each (region, score version)."""

    url: str
    token: str
    arrivals: dict[tuple[str, int], float] = field(default_factory=dict)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    reconnects: int = 0

    async def run(self) -> None:
        import httpx

        last_id: str | None = None
        async with httpx.AsyncClient(timeout=httpx.Timeout(30.0, read=None)) as client:
            while True:
                headers = {"Authorization": f"Bearer {self.token}", "Accept": "text/event-stream"}
                if last_id is not None:
                    headers["Last-Event-ID"] = last_id
                try:
                    async with client.stream("GET", self.url, headers=headers) as response:
                        response.raise_for_status()
                        self.connected.set()
                        event = entry = None
                        async for line in response.aiter_lines():
                            if line.startswith("id:"):
                                entry = line[3:].strip()
                            elif line.startswith("event:"):
                                event = line[6:].strip()
                            elif line.startswith("data:") and event == "score.updated":
                                score = json.loads(line[5:])
                                self.arrivals.setdefault((score["region"], score["version"]), time.monotonic())
                            elif line == "":
                                last_id = entry or last_id
                                event = entry = None
                except httpx.HTTPError:
                    await asyncio.sleep(0.2)
                self.reconnects += 1


@contextlib.asynccontextmanager
async def following(platform: Platform, region: str) -> AsyncIterator[FeedListener]:
    url = f"{platform.urls['scoring']}/scoring/v1/cycles/{CYCLE}/stream?province={PROVINCE}"
    listener = FeedListener(url, tokens_of(region)["viewer"])
    task = asyncio.create_task(listener.run())
    try:
        await asyncio.wait_for(listener.connected.wait(), 30)
        await asyncio.sleep(0.5)  # the snapshot of current scores comes first
        yield listener
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# --- measuring what scoring applied -------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def wall_offset() -> float:
    """time.time() - time.monotonic(): turns PostgreSQL's timestamps (same host) into this clock."""
    return time.time() - time.monotonic()


@dataclass
class OpenLoopFigures:
    offered: int
    sent: int
    accepted: int
    stale: int
    errors: int
    unsent: int
    accepted_per_s: float
    write_ms: tuple[float, float, float]  # p50, p99, max (planned send -> answer)
    sse_ms: tuple[float, float, float]  # planned send -> SSE
    answer_sse_ms: tuple[float, float, float]  # 2xx -> SSE
    answer_applied_ms: tuple[float, float, float]  # 2xx -> scoring's transaction began (applied_at)
    applied_sse_ms: tuple[float, float, float]  # applied_at -> SSE
    matched: int
    coalesced: int
    missing: int
    reflected: int
    end_to_end_per_s: float
    last_applied_after_s: float  # after the last write was sent
    after_event: tuple[int, int]  # reflected, asked
    reconnects: int
    cpu: str  # CPU ms per accepted write, per platform process, over the load and until applied
    versions: int  # score versions made (score.updated published) while the phase's writes were applied

    @property
    def all_accepted(self) -> bool:
        return self.accepted == self.offered


async def open_loop(platform: Platform, operators: Sequence[Operator], args: argparse.Namespace, pg: Any,
                    label: str) -> OpenLoopFigures:
    import httpx

    specs = await refresh_platform(platform, operators)
    host, port = _host_port(platform.urls["intake"])
    plan = LoadPlan(host, port, args.rate, len(specs), args.duration, args.grace, stop_at_end=False, keep_records=True)
    print(f"{label} open loop: {args.rate:g}/s offered for {args.duration:g} s from {args.clients} client processes, "
          f"{len(specs)} operators in {args.regions} regions", flush=True)
    region_of = {op.index: op.region for op in operators}
    meter = CpuMeter(platform.pids)
    async with following(platform, operators[0].region) as feed:
        meter.start()
        load = await generate(plan, specs, args.clients)
        offset = wall_offset()
        accepted = [r for r in load.records if 200 <= r[4] < 300 and r[5]]
        ids = [r[5] for r in accepted]
        schema = platform.schema("scoring")
        rows = await wait_applied_ids(pg, schema, ids, args.drain_timeout)
        # The versions made since the load began: by (region, applying transaction), and per region.
        made: dict[tuple[str, Any], int] = {}
        versions: dict[str, list[int]] = {}
        for r in await pg.fetch(f"SELECT region, score_version, applied_at FROM {schema}.applied_events "
                                f"WHERE changed AND applied_at >= $1 ORDER BY score_version",
                                _utc(load.t0 + offset - 1.0)):
            made[(r["region"], r["applied_at"])] = r["score_version"]
            versions.setdefault(r["region"], []).append(r["score_version"])
        wanted = {(region, version) for region, made_versions in versions.items() for version in made_versions}
        deadline = time.monotonic() + 10
        while any(key not in feed.arrivals for key in wanted) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        meter.stop()
        arrivals, reconnects = dict(feed.arrivals), feed.reconnects
    last_events: dict[int, tuple[str, str]] = {}
    for r in accepted:
        last_events[r[0]] = (region_of[r[0]], r[5])
    async with httpx.AsyncClient(timeout=30) as client:
        reflected_api = await reflected_events(client, platform, list(last_events.values()), timeout=30)
    sse, answer_sse, answer_applied, applied_sse = [], [], [], []
    coalesced = missing = 0
    for r in accepted:
        row = rows.get(r[5])
        if row is None:
            continue
        region, version = row["region"], row["score_version"]
        own = made.get((region, row["applied_at"])) == version
        if not own:  # its batch left the figures as they were: the region's next version made after it
            later = versions.get(region, [])
            version = later[bisect.bisect_right(later, version)] if later and later[-1] > version else -1
        arrival = arrivals.get((region, version))
        if arrival is None:
            missing += 1
            continue
        coalesced += not own
        applied = row["applied_at"].timestamp() - offset
        sse.append((arrival - r[1]) * 1000)
        answer_sse.append((arrival - r[3]) * 1000)
        answer_applied.append((applied - r[3]) * 1000)
        applied_sse.append((arrival - applied) * 1000)
    last_sent = max((r[2] for r in load.records), default=load.t0)
    last_applied = max((row["applied_at"].timestamp() - offset for row in rows.values()), default=float("nan"))
    writes = [(r[3] - r[1]) * 1000 for r in load.records if 200 <= r[4] < 300]
    span = max((r[3] for r in load.records), default=load.t0) - load.t0
    return OpenLoopFigures(
        offered=load.offered, sent=len(load.records), accepted=len(writes),
        stale=sum(1 for r in load.records if r[4] == 412),
        errors=sum(1 for r in load.records if not (200 <= r[4] < 300) and r[4] != 412), unsent=load.unsent,
        accepted_per_s=len(writes) / max(span, args.duration),
        write_ms=_p(writes), sse_ms=_p(sse), answer_sse_ms=_p(answer_sse), answer_applied_ms=_p(answer_applied),
        applied_sse_ms=_p(applied_sse), matched=len(sse), coalesced=coalesced,
        missing=missing, reflected=len(rows),
        end_to_end_per_s=len(rows) / max(last_applied - load.t0, 1e-9) if rows else 0.0,
        last_applied_after_s=last_applied - last_sent, after_event=(reflected_api, len(last_events)),
        reconnects=reconnects, cpu=meter.per_write(len(writes)), versions=len(made),
    )


def _p(values: Sequence[float]) -> tuple[float, float, float]:
    return percentile(values, 50), percentile(values, 99), max(values, default=float("nan"))


def _utc(timestamp: float) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(timestamp, UTC)


def _host_port(url: str) -> tuple[str, int]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


async def wait_applied_ids(pg: Any, schema: str, ids: Sequence[str], timeout: float) -> dict[str, Any]:
    """Scoring's applied_events rows of these events, once all are there (or at `timeout`)."""
    deadline = time.monotonic() + timeout
    query = f"SELECT count(*) FROM {schema}.applied_events WHERE cycle = $1 AND event_id = ANY($2::uuid[])"
    while await pg.fetchval(query, CYCLE, ids) < len(set(ids)) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    rows = await pg.fetch(f"SELECT event_id::text AS event_id, region, score_version, changed, applied_at "
                          f"FROM {schema}.applied_events WHERE cycle = $1 AND event_id = ANY($2::uuid[])", CYCLE, ids)
    return {row["event_id"]: row for row in rows}


# --- wrk ----------------------------------------------------------------------------------------


def write_items(path: Path, specs: Sequence[WriteSpec]) -> None:
    path.write_text("".join(f"{s.index}\t{s.path}\t{s.token}\t{s.version}\t{s.level}\n" for s in specs))


async def run_wrk(url: str, items: Path, connections: int, threads: int, duration: float) -> dict[str, Any]:
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(duration))}s",
               "--timeout", "30s", "-s", str(LUA), url, "--", str(items), str(threads)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=_die_with_parent)
    try:
        out, err = await asyncio.to_thread(proc.communicate, None, duration + 60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    line = next((ln for ln in out.decode().splitlines() if ln.startswith("WRK-RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {err.decode()[-2000:]}{out.decode()[-2000:]}")
    result: dict[str, Any] = json.loads(line.removeprefix("WRK-RESULT "))
    result["seconds"] = result["duration_us"] / 1e6
    result["ok_per_s"] = result["ok"] / result["seconds"]
    return result


@dataclass
class ClosedLoopFigures:
    connections: int
    accepted: int
    accepted_per_s: float
    stale: int
    failed: int
    failures: dict[str, int]  # the failed answers by status ("500 unmatched": no correlation id echoed)
    socket_errors: int
    p50_ms: float
    p99_ms: float
    applied: int
    end_to_end_per_s: float
    done_after_s: float  # scoring done this long after wrk stopped
    versions: int  # score versions made while the phase's writes were applied
    cpu: str  # CPU ms per accepted write, per platform process, over the load and until applied
    after_event: tuple[int, int]


async def closed_loop(platform: Platform, operators: Sequence[Operator], args: argparse.Namespace, pg: Any,
                      connections: int, items: Path, label: str) -> ClosedLoopFigures:
    import httpx

    specs = await refresh_platform(platform, operators[:connections])
    write_items(items, specs)
    print(f"{label} closed loop: wrk -t {args.wrk_threads} -c {connections} -d {args.duration:g}s, one innovation per "
          f"connection", flush=True)
    schema = platform.schema("scoring")
    meter = CpuMeter(platform.pids)
    meter.start()
    started = time.time()
    result = await run_wrk(platform.urls["intake"], items, connections, args.wrk_threads, args.duration)
    ended = time.time()
    query = (f"SELECT count(*) FILTER (WHERE event_type = 'innovation.updated') AS n, "
             f"max(applied_at) FILTER (WHERE event_type = 'innovation.updated') AS last, "
             f"count(*) FILTER (WHERE changed) AS versions FROM {schema}.applied_events WHERE applied_at >= $1")
    deadline = time.monotonic() + args.drain_timeout
    while True:
        row = await pg.fetchrow(query, _utc(started))
        if row["n"] >= result["ok"] or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.25)
    meter.stop()
    region_of = {op.index: op.region for op in operators}
    events = [(region_of[int(index)], event) for index, event in result["last_events"].items() if event]
    async with httpx.AsyncClient(timeout=30) as client:
        reflected = await reflected_events(client, platform, events, timeout=30)
    last = row["last"].timestamp() if row["last"] is not None else ended
    applied = min(row["n"], result["ok"])
    if row["n"] < result["ok"]:  # not drained: a lower bound, up to now
        last = time.time()
    return ClosedLoopFigures(
        connections=connections, accepted=result["ok"], accepted_per_s=result["ok_per_s"], stale=result["stale"],
        failed=result["failed"], failures=result.get("failures", {}), socket_errors=result["socket_errors"],
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000, applied=applied, end_to_end_per_s=applied / max(last - started, 1e-9),
        done_after_s=last - ended, after_event=(reflected, len(events)), cpu=meter.per_write(result["ok"]),
        versions=row["versions"],
    )


# --- ceilings -----------------------------------------------------------------------------------


async def minimal_wrk(base: str, pid: int, operators: Sequence[Operator], args: argparse.Namespace,
                      connections: int, items: Path) -> dict[str, Any]:
    specs = await refresh_minimal(base, operators[:connections])
    write_items(items, specs)
    meter = CpuMeter({"minimal endpoint": pid})
    meter.start()
    result = await run_wrk(base, items, connections, args.wrk_threads, args.duration)
    meter.stop()
    result["cpu"] = meter.per_write(result["ok"])
    return result


async def generator_max(base: str, operators: Sequence[Operator], args: argparse.Namespace) -> float:
    specs = await refresh_minimal(base, operators)
    host, port = _host_port(base)
    plan = LoadPlan(host, port, args.generator_rate, len(specs), args.ceiling_duration, 0.0, stop_at_end=True,
                    keep_records=False)
    load = await generate(plan, specs, args.clients)
    return load.ok / max(load.finished - load.t0, 1e-9)


async def redis_ceiling(url: str, stream: str, seconds: float, producers: int = 64) -> float:
    """Raw redis-py: `producers` tasks XADD ~1 KiB entries; one reader XREADGROUPs (100 at a
    time) and XACKs them. Entries acknowledged per second."""
    from redis.asyncio import Redis

    writer = Redis.from_url(url, max_connections=producers + 2)
    reader = Redis.from_url(url)
    payload = {"__data__": json.dumps({"event_id": "0" * 36, "type": "innovation.updated", "data": "x" * 900})}
    stop = asyncio.Event()
    acked = 0
    try:
        await reader.xgroup_create(stream, "ceiling", id="0", mkstream=True)

        async def produce() -> None:
            while not stop.is_set():
                await writer.xadd(stream, payload)  # type: ignore[arg-type]

        async def consume() -> None:
            nonlocal acked
            while not stop.is_set():
                answer: Any = await reader.xreadgroup("ceiling", "c", {stream: ">"}, count=100, block=100)
                for _, entries in answer or []:
                    if entries:
                        await reader.xack(stream, "ceiling", *[entry_id for entry_id, _ in entries])
                        acked += len(entries)

        tasks = [asyncio.create_task(produce()) for _ in range(producers)] + [asyncio.create_task(consume())]
        try:
            await asyncio.sleep(0.5)  # warm-up
            before, started = acked, time.monotonic()
            await asyncio.sleep(seconds)
            done, elapsed = acked, time.monotonic() - started
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await reader.delete(stream)
        await writer.aclose()
        await reader.aclose()
    return (done - before) / elapsed


async def postgres_ceiling(dsn: str, schema: str, seconds: float, connections: int, tasks: int = 64) -> float:
    """Raw asyncpg: `tasks` tasks INSERT one row each (autocommit) on `connections` connections."""
    import uuid

    import asyncpg

    setup = await asyncpg.connect(dsn)
    pool = None
    stop = asyncio.Event()
    count = 0
    try:
        await setup.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}; CREATE TABLE IF NOT EXISTS {schema}.rows "
                            f"(id bigserial PRIMARY KEY, event_id uuid NOT NULL, payload jsonb NOT NULL)")
        pool = await asyncpg.create_pool(dsn, min_size=connections, max_size=connections)
        payload = json.dumps({"type": "innovation.updated", "data": "x" * 900})
        statement = f"INSERT INTO {schema}.rows (event_id, payload) VALUES ($1, $2::jsonb)"

        async def insert() -> None:
            nonlocal count
            while not stop.is_set():
                await pool.execute(statement, uuid.uuid4(), payload)
                count += 1

        workers = [asyncio.create_task(insert()) for _ in range(tasks)]
        try:
            await asyncio.sleep(0.5)  # warm-up
            before, started = count, time.monotonic()
            await asyncio.sleep(seconds)
            done, elapsed = count, time.monotonic() - started
        finally:
            stop.set()
            await asyncio.gather(*workers, return_exceptions=True)
    finally:
        if pool is not None:
            await pool.close()
        await setup.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await setup.close()
    return (done - before) / elapsed


async def pg_connections_free(pg: Any, wanted: int, spare: int = 10) -> int:
    """`wanted`, or fewer when PostgreSQL's connection limit (shared with the platform's pools and
    whoever else uses this server) leaves fewer, keeping `spare` for the others."""
    free = await pg.fetchval("SELECT current_setting('max_connections')::int "
                             "- current_setting('superuser_reserved_connections')::int "
                             "- (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')")
    return max(1, min(wanted, int(free) - spare))


async def _ceiling(measurement: Any) -> float:
    """A ceiling's figure; NaN (and why, printed) when it could not be measured."""
    try:
        return float(await measurement)
    except Exception as exc:  # noqa: BLE001 - the run's other figures still count
        print(f"  ceiling not measured: {type(exc).__name__}: {exc}", flush=True)
        return float("nan")


# --- a run ----------------------------------------------------------------------------------------


@dataclass
class RunFigures:
    open_loop: OpenLoopFigures
    closed: dict[int, ClosedLoopFigures]
    minimal: dict[int, dict[str, Any]]
    generator_max: float
    redis: float
    postgres: float


def _ms(values: tuple[float, float, float]) -> str:
    return f"p50 {values[0]:.0f} ms, p99 {values[1]:.0f} ms, max {values[2]:.0f} ms"


def _pct(value: float) -> str:
    return f"{value:.0%}" if math.isfinite(value) else "n/a"


async def one_run(platform: Platform, operators: Sequence[Operator], minimal: str, minimal_pid: int,
                  args: argparse.Namespace, pg: Any, work: Path, label: str) -> RunFigures:
    ol = await open_loop(platform, operators, args, pg, label)
    print(f"  offered {ol.offered}, sent {ol.sent}, accepted (2xx) {ol.accepted} = {ol.accepted_per_s:.1f}/s; "
          f"412 {ol.stale}, other errors {ol.errors}, not sent {ol.unsent}; every offered write accepted: "
          f"{'yes' if ol.all_accepted else 'no'}")
    print(f"  write latency (planned send → 2xx): {_ms(ol.write_ms)}")
    print(f"  write → SSE score.updated (planned send → update on the feed): {_ms(ol.sse_ms)}; over {ol.matched} "
          f"writes ({ol.coalesced} of them coalesced into no change, matched to their region's next version; "
          f"{ol.missing} writes without an update on the feed)")
    print(f"  score versions made: {ol.versions} for {ol.accepted} writes (a read's events of one region make one)")
    print(f"  2xx → SSE score.updated: {_ms(ol.answer_sse_ms)}; of which 2xx → scoring's transaction: "
          f"{_ms(ol.answer_applied_ms)}, then → SSE: {_ms(ol.applied_sse_ms)}")
    print(f"  end to end: {ol.reflected} of {ol.accepted} applied, {ol.end_to_end_per_s:.1f}/s (the last applied "
          f"{ol.last_applied_after_s:.2f} s after the last write was sent); ?after_event= reflected "
          f"{ol.after_event[0]} of {ol.after_event[1]} operators' last writes")
    print(f"  {ol.cpu}", flush=True)
    closed: dict[int, ClosedLoopFigures] = {}
    for connections in args.connections:
        c = await closed_loop(platform, operators, args, pg, connections, work / f"items-{connections}.tsv", label)
        closed[connections] = c
        statuses = ", ".join(f"{status}: {n}" for status, n in sorted(c.failures.items()))
        statuses = f" ({statuses})" if statuses else ""
        print(f"  accepted (2xx) {c.accepted} = {c.accepted_per_s:.0f}/s (412 {c.stale}, other {c.failed}{statuses}, "
              f"socket errors {c.socket_errors}; latency p50 {c.p50_ms:.0f} ms, p99 {c.p99_ms:.0f} ms)")
        print(f"  end to end: {c.applied} applied = {c.end_to_end_per_s:.0f}/s; scoring done {c.done_after_s:.1f} s "
              f"after wrk stopped; ?after_event= reflected {c.after_event[0]} of {c.after_event[1]}; "
              f"{c.versions} score versions made")
        print(f"  {c.cpu}", flush=True)
    print(f"{label} ceilings (the platform idle)", flush=True)
    minimal_results: dict[int, dict[str, Any]] = {}
    for connections in args.connections:
        m = await minimal_wrk(minimal, minimal_pid, operators, args, connections, work / f"minimal-{connections}.tsv")
        minimal_results[connections] = m
        print(f"  (a) minimal FastAPI + PostgreSQL endpoint, same wrk command (-c {connections}): "
              f"{m['ok_per_s']:.0f}/s 2xx (non-2xx {m['non_2xx']}, socket errors {m['socket_errors']}; "
              f"p50 {m['p50_us'] / 1000:.0f} ms, p99 {m['p99_us'] / 1000:.0f} ms); {m['cpu']}", flush=True)
    gen = await generator_max(minimal, operators, args)
    print(f"  (a) open-loop generator ({args.clients} processes, {len(operators)} operators) → minimal endpoint at "
          f"{args.generator_rate:g}/s offered: {gen:.0f}/s 2xx (its maximum)", flush=True)
    redis = await _ceiling(redis_ceiling(args.redis_url, f"{platform.stream_prefix}ceiling.redis",
                                         args.ceiling_duration))
    print(f"  (b) redis-py XADD ×64 → XREADGROUP/XACK: {redis:.0f} entries/s", flush=True)
    connections = await pg_connections_free(pg, args.pg_ceiling_connections)
    postgres = await _ceiling(postgres_ceiling(args.database_url, f"{platform.schema_prefix}ceiling",
                                               args.ceiling_duration, connections))
    print(f"  (c) asyncpg INSERT ×64 tasks on {connections} connections: {postgres:.0f} rows/s", flush=True)
    goals = platform.mode == RATIO_GOALS_MODE
    for connections, c in closed.items():
        m = minimal_results[connections]["ok_per_s"]
        print(f"  ratios (-c {connections}): end to end / minimal endpoint {_pct(c.end_to_end_per_s / m)}"
              f"{' (goal ≥ 50 %)' if goals else ''}, end to end / raw Redis {_pct(c.end_to_end_per_s / redis)}"
              f"{' (goal ≥ 20 %)' if goals else ''}, "
              f"accepted / minimal endpoint {_pct(c.accepted_per_s / m)}, accepted / asyncpg INSERT "
              f"{_pct(c.accepted_per_s / postgres)}", flush=True)
    return RunFigures(ol, closed, minimal_results, gen, redis, postgres)


def spread(values: Sequence[float], fmt: str = "{:.0f}") -> str:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return "n/a"
    return " / ".join(fmt.format(v) for v in (min(finite), statistics.median(finite), max(finite)))


def summarize(mode: str, runs: Sequence[RunFigures], args: argparse.Namespace) -> None:
    pct = "{:.0%}"
    print(f"\nsummary: mode {mode}, {os.cpu_count()} CPUs, {len(runs)} run(s), min / median / max")
    for connections in args.connections:
        e2e = [r.closed[connections].end_to_end_per_s for r in runs]
        minimal = [r.minimal[connections]["ok_per_s"] for r in runs]
        goal = GOAL_END_TO_END[mode]
        met = statistics.median(e2e) >= goal
        print(f"  answers/s end to end, wrk -c {connections}: {spread(e2e)} (goal ≥ {goal:,.0f}: "
              f"{'met' if met else 'not met'})")
        print(f"  answers/s accepted at HTTP, wrk -c {connections}: "
              f"{spread([r.closed[connections].accepted_per_s for r in runs])}")
        print(f"  minimal endpoint, same wrk: {spread(minimal)}")
        ratio = [e / m for e, m in zip(e2e, minimal, strict=True)]
        redis_ratio = [r.closed[connections].end_to_end_per_s / r.redis for r in runs]
        if mode == RATIO_GOALS_MODE:
            print(f"  end to end / minimal endpoint: {spread(ratio, pct)} (goal ≥ 50 %: "
                  f"{'met' if statistics.median(ratio) >= GOAL_MINIMAL_RATIO else 'not met'})")
            print(f"  end to end / raw Redis: {spread(redis_ratio, pct)} (goal ≥ 20 %: "
                  f"{'met' if statistics.median(redis_ratio) >= GOAL_REDIS_RATIO else 'not met'})")
        else:
            unjudged = f"(not judged: the ratio goals restate {RATIO_GOALS_MODE}'s 1,000/s)"
            print(f"  end to end / minimal endpoint: {spread(ratio, pct)} {unjudged}")
            print(f"  end to end / raw Redis: {spread(redis_ratio, pct)} {unjudged}")
        done = [r.closed[connections].done_after_s for r in runs]
        print(f"  scoring done after wrk stopped (s): {spread(done, '{:.1f}')}")
    print(f"  raw Redis XADD ×64 → XREADGROUP/XACK (entries/s): {spread([r.redis for r in runs])}")
    print(f"  raw asyncpg INSERT ×64 (rows/s): {spread([r.postgres for r in runs])}")
    print(f"  open-loop generator's maximum against the minimal endpoint (2xx/s): "
          f"{spread([r.generator_max for r in runs])}")
    p99 = [r.open_loop.sse_ms[1] for r in runs]
    all_accepted = all(r.open_loop.all_accepted for r in runs)
    met = all_accepted and all(math.isfinite(v) for v in p99) and statistics.median(p99) < GOAL_SSE_P99_MS
    verdict = ("met" if met else "not met") if args.rate >= GOAL_RATE else f"stated at {GOAL_RATE:g}/s, not judged here"
    accepted = [r.open_loop.accepted_per_s for r in runs]
    print(f"  open loop at {args.rate:g}/s offered: accepted/s {spread(accepted, '{:.1f}')}, every offered write "
          f"accepted in every run: {'yes' if all_accepted else 'no'}")
    print(f"  p50 write → SSE (ms): {spread([r.open_loop.sse_ms[0] for r in runs])}; p99 write → SSE (ms): "
          f"{spread(p99)} (goal < 500 ms with every offered write accepted: {verdict})")
    print(f"  p99 2xx → SSE (ms): {spread([r.open_loop.answer_sse_ms[1] for r in runs])}; p99 write latency (ms): "
          f"{spread([r.open_loop.write_ms[1] for r in runs])}", flush=True)


# --- main -----------------------------------------------------------------------------------------


def platform_env(args: argparse.Namespace, s3: Any, prefixes: dict[str, str]) -> dict[str, str]:
    return {
        **os.environ,
        "INOVASI_DATABASE_URL": args.database_url,
        "INOVASI_REDIS_URL": args.redis_url,
        "INOVASI_S3_ENDPOINT": s3.netloc,
        "INOVASI_S3_ACCESS_KEY": s3.access_key,
        "INOVASI_S3_SECRET_KEY": s3.secret_key,
        "INOVASI_S3_BUCKET": "bench-pipeline",
        "INOVASI_AUTH_SECRET": SECRET,
        "INOVASI_LOG_LEVEL": args.log_level,
        "INOVASI_PG_POOL_MAX": str(args.pg_pool_max),
        **prefixes,
        **dict(item.split("=", 1) for item in args.env),
    }


async def cleanup(args: argparse.Namespace, prefixes: dict[str, str], extra_schemas: Sequence[str]) -> None:
    from redis.asyncio import Redis

    from tests.support.infra import delete_keys, drop_schema

    with contextlib.suppress(Exception):
        redis = Redis.from_url(args.redis_url)
        try:
            await delete_keys(redis, prefixes["INOVASI_STREAM_PREFIX"])
        finally:
            await redis.aclose()
    for schema in [prefixes["INOVASI_SCHEMA_PREFIX"] + s for s in SCHEMAS] + list(extra_schemas):
        with contextlib.suppress(Exception):
            await drop_schema(args.database_url, schema)


@contextlib.contextmanager
def s3_server() -> Iterator[Any]:
    from tests.support.s3 import moto_s3_server_process

    with moto_s3_server_process() as s3:
        yield s3


async def run_mode(mode: str, args: argparse.Namespace, work: Path) -> list[RunFigures]:
    import asyncpg

    from tests.support.infra import unique_suffix

    suffix = unique_suffix()
    prefixes = {"INOVASI_STREAM_PREFIX": f"{suffix}.", "INOVASI_SCHEMA_PREFIX": f"{suffix}_"}
    minimal_schema = f"{suffix}_minimal"
    children = Children(work)
    runs: list[RunFigures] = []
    pg = None
    try:
        with s3_server() as s3:
            try:
                env = platform_env(args, s3, prefixes)
                started = time.monotonic()
                platform = await start_platform(mode, children, env, prefixes)
                port = free_port()
                command = [sys.executable, str(ROOT / "benchmarks" / "minimal_endpoint.py"), "--port", str(port),
                           "--schema", minimal_schema]
                minimal_proc = children.start("minimal", command, env)
                minimal = f"http://127.0.0.1:{port}"
                await wait_ready(children, "minimal", minimal_proc, f"{minimal}/healthz")
                where = ", ".join(f"{service} {url}" for service, url in platform.urls.items())
                print(f"[{mode}] platform ready in {time.monotonic() - started:.1f} s ({where}); minimal endpoint "
                      f"{minimal}; schemas and streams prefixed {suffix}", flush=True)
                started = time.monotonic()
                operators = await set_up_operators(platform, args.operators, REGIONS[: args.regions])
                print(f"[{mode}] set up {len(operators)} operators (agency, submitted innovation, accepted evidence "
                      f"for {INDICATOR}) in {args.regions} regions in {time.monotonic() - started:.1f} s", flush=True)
                await asyncio.sleep(2.0)  # evidence and notify finish with the setup's events
                idle = CpuMeter({**platform.pids, "minimal endpoint": minimal_proc.pid})
                idle.start()
                await asyncio.sleep(IDLE_S)
                shares = ", ".join(f"{name} {seconds / IDLE_S:.1%}" for name, seconds in idle.stop().items())
                print(f"[{mode}] CPU used idle (nothing sent for {IDLE_S:g} s): {shares} of a core", flush=True)
                pg = await asyncpg.connect(args.database_url)
                for run in range(1, args.runs + 1):
                    runs.append(await one_run(platform, operators, minimal, minimal_proc.pid, args, pg, work,
                                              f"[{mode} run {run}/{args.runs}]"))
            finally:
                if pg is not None:
                    await pg.close()
                children.stop_all()
    finally:
        await cleanup(args, prefixes, [minimal_schema])
    return runs


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    from tests.support.infra import DATABASE_URL, REDIS_URL

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["serve", "up", "both"], default="both",
                        help="four `inovasi serve` processes, `inovasi up`, or one then the other (default both)")
    parser.add_argument("--runs", type=int, default=3, help="runs per mode (default 3)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load per phase (default 30)")
    parser.add_argument("--rate", type=float, default=200.0, help="open loop: writes/s offered (default 200)")
    parser.add_argument("--operators", type=int, default=64, help="operators, one innovation each (default 64)")
    parser.add_argument("--regions", type=int, default=8, choices=range(1, len(REGIONS) + 1), metavar="1-14",
                        help="kabupaten of Kalimantan Tengah the operators are spread over (default 8)")
    parser.add_argument("--clients", type=int, default=2, help="open-loop client processes (default 2)")
    parser.add_argument("--grace", type=float, default=30.0,
                        help="open loop: seconds after the end late writes may still be sent (default 30)")
    parser.add_argument("--connections", default="64",
                        help="wrk connections, comma-separated for several (e.g. 32,64; default 64)")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--generator-rate", type=float, default=5000.0,
                        help="open-loop rate offered to the minimal endpoint for the generator's maximum "
                        "(default 5000)")
    parser.add_argument("--ceiling-duration", type=float, default=None,
                        help="seconds for the generator maximum and the raw Redis and asyncpg ceilings "
                        "(default: --duration, at most 10)")
    parser.add_argument("--pg-pool-max", type=int, default=8,
                        help="INOVASI_PG_POOL_MAX of each service and of the minimal endpoint (default 8)")
    parser.add_argument("--pg-ceiling-connections", type=int, default=16,
                        help="connections of the raw asyncpg ceiling (default 16)")
    parser.add_argument("--drain-timeout", type=float, default=600.0,
                        help="longest wait for scoring to apply a phase's writes (default 600 s)")
    parser.add_argument("--log-level", default="INFO", help="INOVASI_LOG_LEVEL of the servers (default INFO, "
                        "the services' default); their logs go to files in a temporary directory")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="an extra INOVASI_* setting for the platform and the minimal endpoint (repeatable)")
    parser.add_argument("--database-url", default=DATABASE_URL)
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--keep-logs", action="store_true", help="keep the servers' log directory (printed)")
    args = parser.parse_args(argv)
    args.connections = [int(c) for c in str(args.connections).split(",") if c.strip()]
    if args.ceiling_duration is None:
        args.ceiling_duration = min(args.duration, 10.0)
    if any(c % args.wrk_threads or c < args.wrk_threads for c in args.connections):
        parser.error("each --connections must be a multiple of --wrk-threads")
    if max(args.connections) > args.operators:
        parser.error("--operators must be at least the largest --connections (one innovation per connection)")
    if any("=" not in item for item in args.env):
        parser.error("--env takes NAME=VALUE")
    return args


async def main_async(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    modes = ["serve", "up"] if args.mode == "both" else [args.mode]
    print(f"pipeline benchmark: {os.cpu_count()} CPUs (os.cpu_count(); {len(os.sched_getaffinity(0))} usable), "
          f"modes {', '.join(modes)}, {args.runs} run(s) each, {args.duration:g} s per phase, open loop "
          f"{args.rate:g}/s, {args.operators} operators in {args.regions} regions, wrk -c "
          f"{','.join(map(str, args.connections))} -t {args.wrk_threads}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="inovasi-pipeline-"))
    results: dict[str, list[RunFigures]] = {}
    try:
        for mode in modes:
            results[mode] = await run_mode(mode, args, work)
    finally:
        if args.keep_logs:
            print(f"server logs kept in {work}")
        else:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
    for mode, runs in results.items():
        summarize(mode, runs, args)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        asyncio.run(main_async(args))
    except KeyboardInterrupt:
        print("interrupted; servers stopped and their data removed", file=sys.stderr)
        return 130
    except asyncio.CancelledError:
        print("stopped; servers stopped and their data removed", file=sys.stderr)
        return 143
    return 0


if __name__ == "__main__":
    sys.exit(main())
