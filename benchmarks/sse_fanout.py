"""1,000 live-feed (SSE) clients on one scoring process (a script, not a test); with
`--servers N`, N scoring processes in one consumer group side by side, the clients spread
evenly over them, as a scaled-out deployment behind a load balancer (10,000 clients: as far
as this machine goes).

The run, everything on this machine (the services, PostgreSQL, Redis and the clients share
its cores):

* the server: `inovasi serve scoring` (uvicorn) in a child process, with its own stream and
  schema prefixes and auth secret, the default pools (PostgreSQL: `--pg-pool-max`, 10,
  opened as needed; Redis: 100 for requests), its consumer and outbox relay running as in
  production; its warnings are counted from its log and printed;
* the clients: `--client-processes` child processes (multiprocessing), each holding its
  share of `--clients` connections to `GET /scoring/v1/cycles/2026/stream?region=62.10` with
  a viewer's bearer token, read by a light SSE reader (raw asyncio sockets: the HTTP head,
  the chunked body, the `id:` line of each event, timed as its bytes arrive);
* the load: this process XADDs valid `score.updated` envelopes into the scoring stream for
  `--seconds`, open loop: `--rate` per second of the followed region, which every client
  gets, and `--other-rate` of regions no client follows, which every client's filter still
  sees (by default 5 + 45 a second: in the deadline rush, 1,000 answers/s end to end of which
  about one in twenty changes a score, a busy region among them), keeping each followed
  entry id's publish time (CLOCK_MONOTONIC, shared by every process). Each client's delivery
  latency is the time from just before the XADD to the arrival of that entry's event;
* the ceiling, in the same run with the same clients: a minimal one-reader SSE server (a
  Starlette app under the same uvicorn, in a child process: one XREAD loop on its own stream
  that parses each entry once and puts the event's text on every client's queue). It states
  what the clients (and this machine) can take, so a shortfall of the service is the
  service's;
* the relay: during each publishing window, up to `--probes` writes that change the region's
  score (an SPD answer with its evidence, then the answer's level going up and down; one at
  a time, so that no batch coalesces two) are XADDed to the intake and evidence streams,
  and the time until scoring's outbox relay has put the score.updated each caused into the
  scoring stream is measured: with no client on scoring (during the ceiling's round, the
  machine as busy) and with all of them on it.

Printed per target over `--runs` rounds (min / median / max): clients connected, refusals
(503 or other, with the answer's reason), p50 / p99 / max delivery latency, events missed,
clients dropped by the server, the server's CPU (% of one core over the publishing window,
and per delivery) and RSS (after, and its peak); the clients' CPU; the relay's write →
score.updated times; the goal: every client connected (no 503), p99 < 1 s, and the relay
publishing on (every probe's score.updated within 1 s).

    .venv/bin/python -m benchmarks.sse_fanout [--runs 3] [--clients 1000] [--seconds 10]
        [--rate 5] [--other-rate 45] [--client-processes 4] [--servers 1] [--env INOVASI_…=…]

With `--servers N` the ceiling is N minimal servers, the server figures (CPU, RSS) are the
N processes' sums, and client process i connects to server i mod N.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: services and tests from this checkout
    sys.path.append(str(ROOT))

CYCLE = 2026
REGION = "62.10"
OTHER_REGIONS = ["62.11", "62.71", "62.01", "11.01", "63.01", "35.78"]  # followed by no client
SECRET = "benchmark-" + "0123456789abcdef" * 4
FEED_PATH = f"/scoring/v1/cycles/{CYCLE}/stream?region={REGION}"
CLK_TCK = os.sysconf("SC_CLK_TCK")
GOAL_P99_S = 1.0
CONNECT_TIMEOUT_S = 60.0  # for a client process's whole share to be connected (or refused)


_STARTED = time.monotonic()


def progress(message: str) -> None:
    """Where the run is (stderr; the figures go to stdout)."""
    print(f"[sse_fanout +{time.monotonic() - _STARTED:.1f} s] {message}", file=sys.stderr, flush=True)


def raise_nofile() -> int:
    """Raise this process's open-file limit to the hard limit (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        with suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# --- /proc -----------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    after_name = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(after_name[11]) + int(after_name[12])) / CLK_TCK  # utime, stime


def _status_kib(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{name} not in /proc/{pid}/status")


def rss_mib(pid: int) -> float:
    return _status_kib(pid, "VmRSS") / 1024


def peak_mib(pid: int) -> float:
    return _status_kib(pid, "VmHWM") / 1024


# --- the clients (in child processes) --------------------------------------------------------


class _Feed(asyncio.Protocol):
    """One SSE client: sends the request, reads the head, de-chunks the body and notes each
    event's `id:` with the time its last bytes arrived."""

    def __init__(self, request: bytes, ready: asyncio.Future[int]) -> None:
        self.request = request
        self.ready = ready
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.sse = bytearray()
        self.in_head = True
        self.chunked = False
        self.chunk_left = -1  # -1: a size line is next; > 0: data bytes left; 0: the CRLF after data
        self.received: list[tuple[bytes, float]] = []
        self.last_id = b""
        self.dropped = False
        self.ended = False  # the server ended the response
        self.closed = False
        self.status = 0
        self.refusal_length = 0  # a refusal's Content-Length
        self.refusal = b""  # its body: the reason

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.ready.done():
            self.refusal = bytes(self.buffer[:300])
            self.ready.set_result(self.status or -1)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        buffer = self.buffer
        buffer += data
        if self.in_head:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status_line, *headers = bytes(buffer[:end]).decode("latin-1").split("\r\n")
            del buffer[: end + 4]
            self.in_head = False
            self.status = int(status_line.split()[1])
            self.chunked = any(h.lower().startswith("transfer-encoding:") and "chunked" in h.lower() for h in headers)
            lengths = [h.split(":", 1)[1] for h in headers if h.lower().startswith("content-length:")]
            self.refusal_length = int(lengths[0]) if lengths else 0
        if self.status != 200:  # a refusal: its body (the reason), then close
            if len(buffer) >= self.refusal_length and not self.ready.done():
                self.refusal = bytes(buffer[:300])
                self.ready.set_result(self.status)
                if self.transport is not None:
                    self.transport.close()
            return
        if self.chunked:
            self._dechunk()
        else:
            self.sse += buffer
            buffer.clear()
        self._events(now)

    def _dechunk(self) -> None:
        buffer, position, size = self.buffer, 0, len(self.buffer)
        while position < size:
            if self.chunk_left < 0:
                end = buffer.find(b"\r\n", position)
                if end < 0:
                    break
                length = int(bytes(buffer[position:end]).split(b";")[0], 16)
                position = end + 2
                if length == 0:
                    self.ended = True
                    position = size
                    break
                self.chunk_left = length
            elif self.chunk_left > 0:
                take = min(self.chunk_left, size - position)
                self.sse += buffer[position : position + take]
                position += take
                self.chunk_left -= take
            else:
                if size - position < 2:
                    break
                position += 2
                self.chunk_left = -1
        del buffer[:position]

    def _events(self, now: float) -> None:
        sse, start = self.sse, 0
        while (end := sse.find(b"\n\n", start)) >= 0:
            if sse.startswith(b"id: ", start):
                line_end = sse.find(b"\n", start)
                entry_id = bytes(sse[start + 4 : line_end])
                self.received.append((entry_id, now))
                self.last_id = entry_id
            elif sse.startswith(b": dropped", start):
                self.dropped = True
            start = end + 2
        if start:
            del sse[:start]
            if not self.ready.done():
                self.ready.set_result(200)  # the first event (": connected") has come


def _key(entry_id: bytes | str) -> tuple[int, int]:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    milliseconds, _, sequence = text.partition("-")
    return int(milliseconds), int(sequence or 0)


def client_process(conn: Connection) -> None:
    """A client process: connects, reports, collects and closes on the parent's commands."""
    raise_nofile()
    asyncio.run(_client_main(conn))


async def _client_main(conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    feeds: list[_Feed] = []
    while True:
        command, *args = await loop.run_in_executor(None, conn.recv)
        if command == "connect":
            port, path, headers, count, parallel = args
            feeds, report = await _connect(port, path, headers, count, parallel)
            conn.send(report)
        elif command == "collect":
            expected, last_id, wait_s = args
            conn.send(await _collect(feeds, expected, last_id, wait_s))
        elif command == "close":
            for feed in feeds:
                if feed.transport is not None:
                    feed.transport.close()
            feeds = []
            await asyncio.sleep(0.1)
            conn.send("closed")
        else:
            conn.send("bye")
            return


async def _connect(
    port: int, path: str, headers: dict[str, str], count: int, parallel: int
) -> tuple[list[_Feed], dict[str, Any]]:
    loop = asyncio.get_running_loop()
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n{head}\r\n").encode()
    statuses: Counter[str] = Counter()
    reasons: dict[str, str] = {}  # a refusal's body, per status
    gate = asyncio.Semaphore(parallel)
    deadline = time.monotonic() + CONNECT_TIMEOUT_S  # for all of them: a server that never answers

    async def one() -> _Feed | None:
        async with gate:
            ready: asyncio.Future[int] = loop.create_future()
            feed = _Feed(request, ready)
            try:
                await loop.create_connection(lambda: feed, "127.0.0.1", port)
                status = await asyncio.wait_for(ready, max(0.1, deadline - time.monotonic()))
            except Exception as exc:  # noqa: BLE001 - counted, as a refusal
                statuses[type(exc).__name__] += 1
                reasons.setdefault(type(exc).__name__, str(exc))
                if feed.transport is not None:
                    feed.transport.close()
                return None
            statuses[str(status)] += 1
            if status != 200:
                reasons.setdefault(str(status), feed.refusal.decode(errors="replace"))
            return feed if status == 200 else None

    started = time.monotonic()
    opened = await asyncio.gather(*(one() for _ in range(count)))
    feeds = [feed for feed in opened if feed is not None]
    return feeds, {"connected": len(feeds), "statuses": dict(statuses), "reasons": reasons,
                   "seconds": time.monotonic() - started}


async def _collect(feeds: list[_Feed], expected: dict[str, float], last_id: str, wait_s: float) -> dict[str, Any]:
    """Wait (up to `wait_s`) until every open client has the last published entry, then each
    client's latency for each published entry it received."""
    last = _key(last_id)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if all(feed.closed or feed.ended or (feed.last_id and _key(feed.last_id) >= last) for feed in feeds):
            break
        await asyncio.sleep(0.05)
    wanted = {entry_id.encode(): published for entry_id, published in expected.items()}
    latencies: list[float] = []
    missed = 0
    for feed in feeds:
        got = 0
        for entry_id, arrived in feed.received:
            published = wanted.get(entry_id)
            if published is not None:
                latencies.append(arrived - published)
                got += 1
        missed += len(wanted) - got
        feed.received.clear()
    return {
        "latencies": latencies,
        "missed": missed,
        "closed": sum(1 for feed in feeds if feed.closed or feed.ended),
        "dropped": sum(1 for feed in feeds if feed.dropped),
    }


class Clients:
    """The client processes, driven through pipes."""

    def __init__(self, processes: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes: list[Any] = []
        for _ in range(processes):
            parent, child = context.Pipe()
            process = context.Process(target=client_process, args=(child,), daemon=True)
            process.start()
            self.pipes.append(parent)
            self.processes.append(process)

    @property
    def pids(self) -> list[int]:
        return [int(process.pid) for process in self.processes]

    async def call(self, commands: list[tuple[Any, ...]], timeout_s: float = 300.0) -> list[Any]:
        """One command to each process (in order), and their answers."""
        loop = asyncio.get_running_loop()
        for pipe, command in zip(self.pipes, commands, strict=True):
            pipe.send(command)

        def answer(pipe: Connection, process: Any) -> Any:
            deadline = time.monotonic() + timeout_s
            while not pipe.poll(0.5):
                if not process.is_alive():
                    raise RuntimeError(f"client process {process.pid} died (exit code {process.exitcode})")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"client process {process.pid} did not answer {commands[0][0]!r}")
            return pipe.recv()

        return list(await asyncio.gather(*(loop.run_in_executor(None, answer, pipe, process)
                                           for pipe, process in zip(self.pipes, self.processes, strict=True))))

    def close(self) -> None:
        for pipe in self.pipes:
            with suppress(OSError, BrokenPipeError):
                pipe.send(("exit",))
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()


# --- the minimal one-reader SSE server (the ceiling; in a child process) ---------------------


def minimal_server(port: int, key: str, region: str, redis_url: str) -> None:
    """One XREAD loop on `key`; each entry parsed once; a score.updated of `region` put, as
    the SSE event's text, on every client's queue (a client 500 behind is dropped)."""
    import uvicorn
    from redis.asyncio import Redis
    from redis.exceptions import RedisError
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, StreamingResponse
    from starlette.routing import Route

    from services.common.events import ScoreUpdated, UndecodableEntry, from_entry

    queues: set[asyncio.Queue[str]] = set()

    async def read() -> None:
        redis = Redis.from_url(redis_url, socket_timeout=10)  # above the XREAD block
        position = await newest_id(redis, key)
        while True:
            try:
                entries = await read_entries(redis, key, position, 1000)
            except RedisError as exc:  # e.g. a timeout of the shared machine's Redis: read again
                print(f"the minimal server's reader: {exc!r}; reading again", file=sys.stderr)
                await asyncio.sleep(0.1)
                continue
            for entry_id, fields in entries:
                position = entry_id
                try:
                    event = from_entry(fields)
                except UndecodableEntry:
                    continue
                if isinstance(event, ScoreUpdated) and event.region == region:
                    text = f"id: {position}\nevent: score.updated\ndata: {event.data.model_dump_json()}\n\n"
                    for queue in list(queues):
                        if queue.qsize() < 500:
                            queue.put_nowait(text)
                        else:
                            queues.discard(queue)
                            queue.put_nowait(": dropped: too slow\n\n")

    async def stream(_request: Request) -> StreamingResponse:
        queue: asyncio.Queue[str] = asyncio.Queue()

        async def events() -> Any:
            queues.add(queue)
            try:
                yield "retry: 2000\n: connected\n\n"
                while True:
                    text = await queue.get()
                    yield text
                    if text.startswith(": dropped"):
                        return
            finally:
                queues.discard(queue)

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    async def ready(_request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    def failed(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            print(f"the minimal server's reader failed: {task.exception()!r}", file=sys.stderr)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        reader = asyncio.create_task(read())
        reader.add_done_callback(failed)
        yield
        reader.cancel()

    app = Starlette(routes=[Route("/stream", stream), Route("/readyz", ready)], lifespan=lifespan)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1)


# --- Redis ------------------------------------------------------------------------------------


async def newest_id(redis: Any, key: str) -> str:
    """The stream's newest entry id ("0-0" if empty): where to read new entries from."""
    newest = cast("list[tuple[bytes, Any]]", await redis.xrevrange(key, count=1))
    return newest[0][0].decode() if newest else "0-0"


async def read_entries(redis: Any, key: str, after: str, block_ms: int) -> list[tuple[str, dict[bytes, bytes]]]:
    """One blocking XREAD of `key` after `after`: (entry id, fields)."""
    response = cast("list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]] | None",
                    await redis.xread({key: after}, count=500, block=block_ms))
    return [(raw_id.decode(), fields) for _key, entries in response or [] for raw_id, fields in entries]


# --- servers in child processes --------------------------------------------------------------


def _free_port() -> int:
    from tests.support.infra import free_port

    return free_port()


@contextmanager
def child_servers(
    servers: list[tuple[str, list[str], dict[str, str], str]], logs: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start every (name, command, environment, readiness URL) at once, each logging to a file
    in `logs` (never a pipe nobody reads, which would stall it when full); yield their
    processes when all answer 200 at their URL; stop them (SIGTERM) after."""
    import httpx

    processes: list[subprocess.Popen[bytes]] = []
    try:
        for index, (_name, command, env, _url) in enumerate(servers):
            with (logs / f"{index}.log").open("wb") as log:
                processes.append(subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))
        waiting = list(enumerate(servers))
        deadline = time.monotonic() + 60
        while waiting:
            for index, (name, _command, _env, url) in list(waiting):
                if processes[index].poll() is not None:
                    raise RuntimeError(f"{name} exited: {(logs / f'{index}.log').read_text()[-3000:]}")
                with suppress(httpx.HTTPError):
                    if httpx.get(url, timeout=2).status_code == 200:
                        waiting.remove((index, (name, _command, _env, url)))
            if waiting and time.monotonic() > deadline:
                raise RuntimeError(f"{waiting[0][1][0]} did not become ready within 60 s")
            time.sleep(0.1)
        yield processes
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def log_summary(path: Path, top: int = 4) -> list[str]:
    """The server's warnings and errors (JSON lines), counted by event and error type."""
    counts: Counter[str] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict) or record.get("level") not in ("warning", "error", "critical"):
            continue
        error = str(record.get("error") or record.get("exception") or "").strip().splitlines()
        counts[f"{record['level']}: {record.get('event')}" + (f" ({error[-1][:120]})" if error else "")] += 1
    return [f"{n} × {what}" for what, n in counts.most_common(top)]


# --- measuring -------------------------------------------------------------------------------


@dataclass
class Target:
    """One server, or with `--servers N` N of them side by side (the clients spread over them)."""

    name: str
    ports: list[int]
    path: str
    headers: dict[str, str]
    key: str  # the stream it reads
    pids: list[int]
    metrics_urls: list[str] = field(default_factory=list)


@dataclass
class Round:
    """One target in one run."""

    clients: int
    connected: int
    statuses: dict[str, int]
    reasons: dict[str, str]  # a refusal's answer, per status
    connect_s: float
    latencies: list[float]
    published: int
    missed: int
    closed: int
    dropped: int
    server_cpu: float  # % of one core
    server_rss: float
    server_peak: float
    clients_cpu: float  # all client processes, % of one core
    busiest_client_cpu: float
    feed_gauge: float | None = None  # the server's inovasi_feed_clients while they were connected
    server_cpu_s: float = 0.0  # CPU seconds over the window
    # Scoring's relay meanwhile: write → score.updated (None: not within the probe's timeout).
    relay: list[float | None] = field(default_factory=list)

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))]

    @property
    def refused(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != "200")

    @property
    def unavailable(self) -> int:
        return self.statuses.get("503", 0)


class Probes:
    """Writes that change the region's score, and the time until scoring's relay has put
    the score.updated they caused into the scoring stream (watched by an XREAD of its own)."""

    def __init__(self, redis_url: str, stream_prefix: str) -> None:
        from redis.asyncio import Redis

        self.prefix = stream_prefix
        self.redis = Redis.from_url(redis_url)
        self.watch = Redis.from_url(redis_url, socket_timeout=10)  # above the XREAD block
        self.waiting: dict[str, asyncio.Future[float]] = {}
        self.count = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        from services.common.events import SCORING_STREAM

        key = self.prefix + SCORING_STREAM
        position = await newest_id(self.watch, key)
        self._task = asyncio.create_task(self._follow(key, position))

    async def _follow(self, key: str, position: str) -> None:
        from redis.exceptions import RedisError

        from services.common.events import DATA_FIELD

        while True:
            try:
                entries = await read_entries(self.watch, key, position, 1000)
            except RedisError as exc:  # the probe waiting then times out, and says so
                print(f"probe follower: {exc!r}; reading again", file=sys.stderr)
                await asyncio.sleep(0.1)
                continue
            arrived = time.monotonic()
            for entry_id, fields in entries:
                position = entry_id
                if fields.get(b"type") != b"score.updated":
                    continue
                cause = json.loads(fields[DATA_FIELD.encode()]).get("causation_id")
                waiting = self.waiting.pop(cause, None)
                if waiting is not None and not waiting.done():
                    waiting.set_result(arrived)

    async def probe(self, timeout_s: float = 15.0) -> float | None:
        """One write that changes the score: seconds from its XADD to its score.updated in the
        stream (None: not within `timeout_s`)."""
        from services.common import events as ev
        from tests.support import events as sample

        self.count += 1
        if self.count == 1:  # an SPD answer and its evidence: from now on the answer counts
            writes: list[ev.Envelope] = sample.spd_with_evidence("spd-01", 2, region=REGION)
        else:  # its level, up and down
            writes = [sample.spd_answer_set("spd-01", 3 if self.count % 2 == 0 else 2, region=REGION,
                                            version=self.count)]
        done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        for event in writes:
            self.waiting[str(event.event_id)] = done
        started = 0.0
        for event in writes:
            started = time.monotonic()
            await self.redis.xadd(self.prefix + ev.stream_of(event.producer), ev.to_entry(event))  # type: ignore[arg-type]
        try:
            return await asyncio.wait_for(done, timeout_s) - started
        except TimeoutError:
            return None
        finally:
            for event in writes:
                self.waiting.pop(str(event.event_id), None)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        await self.redis.aclose()
        await self.watch.aclose()


async def publish(redis: Any, key: str, rate: float, seconds: float, other_rate: float,
                  version: int) -> dict[str, float]:
    """XADD score.updated of the followed region at `rate`/s (and of other regions at
    `other_rate`/s) for `seconds`, open loop; each followed entry's id → its publish time."""
    from services.common import events as ev
    from tests.support import events as sample

    followed = [ev.to_entry(sample.score_updated(version=version + i, region=REGION))
                for i in range(max(1, int(rate * seconds)))]
    others = [ev.to_entry(sample.score_updated(version=version + i, region=OTHER_REGIONS[i % len(OTHER_REGIONS)]))
              for i in range(int(other_rate * seconds))]
    sent: dict[str, float] = {}

    async def run(entries: list[dict[str, str]], per_second: float, keep: bool) -> None:
        start = time.monotonic() + 0.05
        for i, entry in enumerate(entries):
            delay = start + i / per_second - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            published = time.monotonic()
            entry_id = await redis.xadd(key, entry)
            if keep:
                sent[entry_id.decode()] = published

    await asyncio.gather(run(followed, rate, True), *([run(others, other_rate, False)] if others else []))
    return sent


async def feed_gauge(url: str) -> float | None:
    import httpx

    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(url)).text
    for line in text.splitlines():
        if line.startswith("inovasi_feed_clients{") and 'stream="scoring.events"' in line:
            return float(line.rsplit(" ", 1)[1])
    return None


async def measure_target(target: Target, clients: Clients, args: argparse.Namespace, version: int,
                         probes: Probes | None) -> Round:
    from redis.asyncio import Redis

    progress(f"{target.name}: connecting {args.clients} clients")
    share = [args.clients // len(clients.pipes) + (1 if i < args.clients % len(clients.pipes) else 0)
             for i in range(len(clients.pipes))]
    started = time.monotonic()
    # Client process i connects to server i mod N: each server takes the same share.
    reports = await clients.call([("connect", target.ports[i % len(target.ports)], target.path, target.headers, n,
                                   args.connect_parallel) for i, n in enumerate(share)])
    connect_s = time.monotonic() - started
    statuses: Counter[str] = Counter()
    reasons: dict[str, str] = {}
    for report in reports:
        statuses.update(report["statuses"])
        reasons.update(report["reasons"])
    progress(f"{target.name}: {sum(r['connected'] for r in reports)} connected in {connect_s:.1f} s; publishing")
    await asyncio.sleep(0.5)  # the snapshots are sent, the connections settle
    gauges = [await feed_gauge(url) for url in target.metrics_urls]
    gauge = sum(g for g in gauges if g is not None) if gauges and None not in gauges else None

    redis = Redis.from_url(args.redis_url)
    relay: list[float | None] = []
    publishing = True

    async def probe_now_and_then() -> None:
        assert probes is not None
        await asyncio.sleep(0.05)  # publishing has begun
        while publishing:
            relay.append(await probes.probe())
            await asyncio.sleep(args.seconds / max(1, args.probes))

    cpu_before = sum(cpu_seconds(pid) for pid in target.pids)
    clients_before = [cpu_seconds(pid) for pid in clients.pids]
    window_start = time.monotonic()
    prober = asyncio.create_task(probe_now_and_then()) if probes is not None else None
    try:
        sent = await publish(redis, target.key, args.rate, args.seconds, args.other_rate, version)
    finally:
        publishing = False
        await redis.aclose()
    last_id = max(sent, key=_key)
    progress(f"{target.name}: {len(sent)} published; waiting for every client to have them")
    results = await clients.call([("collect", sent, last_id, 30.0)] * len(clients.pipes))
    window = time.monotonic() - window_start
    server_cpu_s = sum(cpu_seconds(pid) for pid in target.pids) - cpu_before
    per_client = [(cpu_seconds(pid) - before) / window * 100 for pid, before in zip(clients.pids, clients_before,
                                                                                    strict=True)]
    if prober is not None:
        await prober
    server_rss, server_peak = sum(rss_mib(pid) for pid in target.pids), sum(peak_mib(pid) for pid in target.pids)
    progress(f"{target.name}: collected; closing the clients")
    await clients.call([("close",)] * len(clients.pipes))
    return Round(
        clients=args.clients, connected=sum(r["connected"] for r in reports), statuses=dict(statuses), reasons=reasons,
        connect_s=connect_s, latencies=[x for r in results for x in r["latencies"]], published=len(sent),
        missed=sum(r["missed"] for r in results), closed=sum(r["closed"] for r in results),
        dropped=sum(r["dropped"] for r in results), server_cpu=server_cpu_s / window * 100, server_rss=server_rss,
        server_peak=server_peak, clients_cpu=sum(per_client), busiest_client_cpu=max(per_client),
        feed_gauge=gauge, server_cpu_s=server_cpu_s, relay=relay,
    )


@dataclass
class Figures:
    service: list[Round] = field(default_factory=list)
    ceiling: list[Round] = field(default_factory=list)
    server_log: list[str] = field(default_factory=list)  # the scoring service's warnings, counted


async def measure(args: argparse.Namespace, scoring: Target, minimal: Target, clients: Clients,
                  stream_prefix: str) -> Figures:
    figures = Figures()
    progress("servers ready; a warm-up write")
    probes = Probes(args.redis_url, stream_prefix)
    await probes.start()
    try:
        if await probes.probe(timeout_s=60) is None:  # warm-up: the region created, statements prepared
            raise RuntimeError("scoring published no score.updated for the warm-up write within 60 s")
        version = 1_000_000
        for _ in range(args.runs):
            # Scoring's relay is probed in both rounds: with no client on scoring (while the
            # same clients read the minimal server: the machine as busy), then with them all.
            figures.ceiling.append(await measure_target(minimal, clients, args, version, probes))
            version += 100_000
            figures.service.append(await measure_target(scoring, clients, args, version, probes))
            version += 100_000
    finally:
        await probes.aclose()
    return figures


def run(args: argparse.Namespace) -> Figures:
    from tests.support.infra import unique_suffix

    suffix = unique_suffix()
    stream_prefix, schema_prefix = f"{suffix}.", f"{suffix}_"
    base_env = {**os.environ, "INOVASI_DATABASE_URL": args.database_url, "INOVASI_REDIS_URL": args.redis_url}
    scoring_ports = [_free_port() for _ in range(args.servers)]
    minimal_ports = [_free_port() for _ in range(args.servers)]
    scoring_env = {
        **base_env,
        "INOVASI_STREAM_PREFIX": stream_prefix,
        "INOVASI_SCHEMA_PREFIX": schema_prefix,
        "INOVASI_AUTH_SECRET": SECRET,
        "INOVASI_LOG_LEVEL": "WARNING",
        "INOVASI_PG_POOL_MIN": "1",
        "INOVASI_PG_POOL_MAX": str(args.pg_pool_max),
        **dict(item.split("=", 1) for item in args.env),
    }
    minimal_key = stream_prefix + "minimal.events"
    try:
        with ExitStack() as stack:
            clients = Clients(args.client_processes)  # they start meanwhile
            stack.callback(clients.close)
            logs = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sse-fanout-")))
            processes = stack.enter_context(child_servers([
                *(("the scoring service", [sys.executable, "-m", "services.cli", "serve", "scoring", "--host",
                                           "127.0.0.1", "--port", str(port)],
                   scoring_env, f"http://127.0.0.1:{port}/readyz") for port in scoring_ports),
                *(("the minimal SSE server", [sys.executable, str(Path(__file__).resolve()), "--minimal-server",
                                              str(port), minimal_key],
                   base_env, f"http://127.0.0.1:{port}/readyz") for port in minimal_ports),
            ], logs))
            scoring_processes, minimal_processes = processes[: args.servers], processes[args.servers:]
            from services.common.events import SCORING_STREAM
            from services.common.tokens import issue_token

            viewer = {"Authorization": f"Bearer {issue_token(SECRET, 'viewer', REGION)}"}
            scoring = Target("scoring", scoring_ports, FEED_PATH, viewer, stream_prefix + SCORING_STREAM,
                             [p.pid for p in scoring_processes],
                             [f"http://127.0.0.1:{port}/scoring/metrics" for port in scoring_ports])
            minimal = Target("minimal", minimal_ports, "/stream", {}, minimal_key, [p.pid for p in minimal_processes])
            figures = asyncio.run(measure(args, scoring, minimal, clients, stream_prefix))
            figures.server_log = [line for n in range(args.servers) for line in log_summary(logs / f"{n}.log")]
            return figures
    finally:
        asyncio.run(_cleanup(args, stream_prefix, schema_prefix))


async def _cleanup(args: argparse.Namespace, stream_prefix: str, schema_prefix: str) -> None:
    from redis.asyncio import Redis

    from tests.support.infra import delete_keys, drop_schema
    from tests.support.platform import SERVICES

    redis = Redis.from_url(args.redis_url)
    try:
        await delete_keys(redis, stream_prefix)
    finally:
        await redis.aclose()
    for service in SERVICES:
        await drop_schema(args.database_url, schema_prefix + service)


# --- printing --------------------------------------------------------------------------------


def spread(values: list[float], unit: str = "", scale: float = 1.0, digits: int = 0) -> str:
    values = [v * scale for v in values]
    return (f"{min(values):.{digits}f} / {statistics.median(values):.{digits}f} / "
            f"{max(values):.{digits}f}{unit}")


def describe(rounds: list[Round]) -> list[str]:
    lines = [
        f"connected {spread([r.connected for r in rounds])} of {rounds[0].clients} "
        f"(in {spread([r.connect_s for r in rounds], ' s', digits=1)}); refused: "
        f"{', '.join(sorted({s for r in rounds for s in r.statuses if s != '200'})) or 'none'} "
        f"({spread([r.refused for r in rounds])}), 503: {spread([r.unavailable for r in rounds])}",
        f"delivery latency p50 {spread([r.percentile(0.5) for r in rounds], ' ms', 1000)}, "
        f"p99 {spread([r.percentile(0.99) for r in rounds], ' ms', 1000)}, "
        f"max {spread([max(r.latencies, default=float('nan')) for r in rounds], ' ms', 1000)} "
        f"({spread([len(r.latencies) for r in rounds])} deliveries of {rounds[0].published} events)",
        f"events missed {spread([r.missed for r in rounds])}, clients dropped {spread([r.dropped for r in rounds])}, "
        f"feeds ended by the server {spread([r.closed for r in rounds])}",
        f"server CPU {spread([r.server_cpu for r in rounds], ' %')} of one core "
        f"({spread([r.server_cpu_s / max(1, len(r.latencies)) * 1e6 for r in rounds], ' µs')} per delivery, "
        f"all it did included), RSS after "
        f"{spread([r.server_rss for r in rounds], ' MiB')} (peak {spread([r.server_peak for r in rounds], ' MiB')}); "
        f"clients' CPU {spread([r.clients_cpu for r in rounds], ' %')} "
        f"(busiest process {spread([r.busiest_client_cpu for r in rounds], ' %')})",
    ]
    reasons = {status: reason for r in rounds for status, reason in r.reasons.items()}
    lines += [f"a {status}: {' '.join(reason.split())[:200]}" for status, reason in sorted(reasons.items())]
    gauges = [r.feed_gauge for r in rounds if r.feed_gauge is not None]
    if gauges:
        lines.append(f"the server's inovasi_feed_clients with them connected: {spread(gauges)}")
    return lines


def _times(values: list[float | None]) -> str:
    done = sorted(v for v in values if v is not None)
    if not done:
        return f"none of {len(values)} published"
    return (f"median {statistics.median(done) * 1000:.0f} ms, max {done[-1] * 1000:.0f} ms "
            f"({len(done)} of {len(values)} published within 15 s)")


def report(args: argparse.Namespace, figures: Figures) -> None:
    servers = "one scoring process" if args.servers == 1 else f"{args.servers} scoring processes in one group"
    print(f"SSE fan-out on {servers} (`inovasi serve scoring`, uvicorn), {os.cpu_count()} cores, all "
          f"co-located; {args.clients} clients in {args.client_processes} client processes; "
          f"{args.rate:g} score.updated/s of the followed region (+{args.other_rate:g}/s of others) for "
          f"{args.seconds:g} s; {args.runs} runs, min / median / max")
    print("scoring service:")
    for line in describe(figures.service):
        print("  " + line)
    for line in figures.server_log:
        print(f"  its log: {line}")
    minimal = ("a minimal one-reader SSE server" if args.servers == 1
               else f"{args.servers} minimal one-reader SSE servers")
    print(f"ceiling, {minimal} (Starlette under the same uvicorn), the same clients:")
    for line in describe(figures.ceiling):
        print("  " + line)
    busy = [v for r in figures.service for v in r.relay]
    idle = [v for r in figures.ceiling for v in r.relay]
    print(f"scoring's relay, a write → its score.updated in the stream: with no client on scoring (the clients on "
          f"the minimal server meanwhile) {_times(idle)}; with {args.clients} clients on scoring {_times(busy)}")
    p99 = max(r.percentile(0.99) for r in figures.service)
    unavailable = sum(r.unavailable for r in figures.service)
    connected = min(r.connected for r in figures.service)
    slowest = max((v if v is not None else float("inf") for v in busy), default=float("inf"))
    relay_ok = slowest <= GOAL_P99_S
    met = p99 < GOAL_P99_S and unavailable == 0 and connected == args.clients and relay_ok
    print(f"goal: {args.clients} clients connected, p99 < 1 s, no 503, the relay publishing on (every probe "
          f"within 1 s) — {'met' if met else 'NOT met'} (worst run: p99 {p99 * 1000:.0f} ms, {unavailable} × 503, "
          f"{connected} connected; slowest probe {slowest * 1000:.0f} ms)")


def main() -> None:
    from tests.support.infra import DATABASE_URL, REDIS_URL

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--client-processes", type=int, default=4)
    parser.add_argument("--servers", type=int, default=1,
                        help="scoring processes (and minimal servers) side by side, the clients spread over them "
                        "(default 1; the client processes must be a multiple)")
    parser.add_argument("--rate", type=float, default=5.0, help="score.updated/s of the followed region (default 5)")
    parser.add_argument("--other-rate", type=float, default=45.0,
                        help="score.updated/s of regions no client follows (default 45)")
    parser.add_argument("--seconds", type=float, default=10.0, help="publishing time per round")
    parser.add_argument("--probes", type=int, default=5, help="relay probes per round, at most (one at a time)")
    parser.add_argument("--connect-parallel", type=int, default=32, help="connections opened at once per process")
    parser.add_argument("--pg-pool-max", type=int, default=10,
                        help="the scoring service's INOVASI_PG_POOL_MAX (default 10, the service's default)")
    parser.add_argument("--database-url", default=DATABASE_URL)
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="an extra INOVASI_* setting for the scoring service (repeatable)")
    parser.add_argument("--minimal-server", nargs=2, metavar=("PORT", "KEY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.servers < 1 or args.client_processes % args.servers:
        parser.error("--client-processes must be a multiple of --servers")
    if args.minimal_server:
        minimal_server(int(args.minimal_server[0]), args.minimal_server[1], REGION, args.redis_url)
        return
    limit = raise_nofile()
    # The most sockets one process holds: a client process's share, or a server's.
    busiest = -(-args.clients // min(args.servers, args.client_processes))
    if limit < busiest + 200:
        raise SystemExit(f"open-file limit {limit}: too low for {busiest} connections in one process")
    report(args, run(args))


if __name__ == "__main__":
    main()
