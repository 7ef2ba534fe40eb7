"""Webhook delivery draining a backlog, with and without one slow receiver (a script, not a
test).

The run, everything on this machine (notify, PostgreSQL, Redis, the receivers and this
script share its cores):

* receivers: one child process (multiprocessing) serving, on raw asyncio sockets, HTTP/1.1
  with keep-alive: `--fast-receivers` fast receivers (each on its own port: a receiver is
  a `scheme://host:port` to the delivery worker) answering 204 as soon as a request's body
  is in, and one slow receiver answering after `--slow-delay` seconds (above the webhook
  timeout, 5 s by default: one that never answers in time). Each notes when every request
  arrived and its `X-Inovasi-Delivery` (repeats are counted);
* the backlog, made by notify's own code path: the notify app in this process (its API and
  its consumer, no delivery worker), with its own stream and schema prefixes; region admins
  create subscriptions through its API (`--subscriptions` per region to the fast receivers,
  in `--regions` regions; with the slow receiver, one more per region to it), then this
  script XADDs valid `score.updated` events (newer versions) into the scoring stream, which
  notify's consumer turns into one pending delivery per subscription — until `--deliveries`
  are pending for the fast receivers (earlier subscriptions are deleted and their pending
  deliveries cancelled first). One claim as the worker makes it (store.claim_due, rolled
  back) is timed with that backlog queued;
* the drain: `inovasi serve notify` in a child process with the delivery worker on (the
  service's defaults, INOVASI_NOTIFY_ALLOW_PRIVATE_TARGETS=true for the loopback receivers,
  and any `--env`) starts and sends the backlog. Measured at the receivers: fast deliveries
  per second from the first webhook to the last fast one, and the longest pause between two
  of them; with the slow receiver, the same (head-of-line blocking would show as a lower
  rate and long pauses), and the ratio of the two; notify's CPU meanwhile (/proc);
* the ceiling, in the same run: the same fast receivers driven directly by httpx (the
  client notify sends with) at the same concurrency — per receiver the per-target limit
  (INOVASI_NOTIFY_TARGET_CONCURRENCY), in all at most INOVASI_NOTIFY_DELIVERY_CONCURRENCY —
  with the same body and headers (signed), measured the same way; and by a bare asyncio
  client (what the receivers and loopback take, whatever the HTTP client).

Printed over `--runs` rounds (min / median / max): deliveries/s without and with the slow
receiver, the ceilings, the ratios, the claim's time, repeats and undelivered webhooks, and
the goal (≥ 300/s; one slow receiver delays no one: with it ≥ 90 % of the rate without).
Progress goes to stderr.

    .venv/bin/python -m benchmarks.webhooks [--runs 3] [--deliveries 3000] [--fast-receivers 1]
        [--slow-delay 6] [--env INOVASI_NOTIFY_…=…]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: services and tests from this checkout
    sys.path.append(str(ROOT))

CYCLE = 2026
SECRET = "benchmark-" + "0123456789abcdef" * 4
GOAL_PER_S = 300.0
GOAL_SLOW_RATIO = 0.9


_STARTED = time.monotonic()


def progress(message: str) -> None:
    """Where the run is (stderr; the figures go to stdout)."""
    print(f"[webhooks +{time.monotonic() - _STARTED:.1f} s] {message}", file=sys.stderr, flush=True)


# --- the receivers (in a child process) ------------------------------------------------------


@dataclass
class PortStats:
    arrivals: list[float] = field(default_factory=list)
    deliveries: set[bytes] = field(default_factory=set)
    repeats: int = 0

    def arrived(self, delivery: bytes | None, at: float) -> None:
        self.arrivals.append(at)
        if delivery is not None:
            if delivery in self.deliveries:
                self.repeats += 1
            self.deliveries.add(delivery)

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.arrivals)
        gaps = [b - a for a, b in zip(ordered, ordered[1:], strict=False)]
        return {"count": len(ordered), "first": ordered[0] if ordered else None,
                "last": ordered[-1] if ordered else None, "repeats": self.repeats,
                "longest_pause": max(gaps, default=0.0)}


class _Receiver(asyncio.Protocol):
    """HTTP/1.1 with keep-alive: each request (head and Content-Length body) noted on
    arrival, answered 204 after `delay` seconds (0: at once)."""

    ANSWER = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"

    def __init__(self, stats: PortStats, delay: float) -> None:
        self.stats = stats
        self.delay = delay
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        while (end := buffer.find(b"\r\n\r\n")) >= 0:
            length, delivery = 0, None
            for line in bytes(buffer[:end]).split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"x-inovasi-delivery":
                    delivery = value.strip()
            if len(buffer) < end + 4 + length:
                return
            del buffer[: end + 4 + length]
            self.stats.arrived(delivery, time.monotonic())
            if self.delay:
                asyncio.get_running_loop().call_later(self.delay, self._answer)
            else:
                self._answer()

    def _answer(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(self.ANSWER)


def receiver_process(conn: Connection, fast: int, slow_delay: float) -> None:
    asyncio.run(_receivers(conn, fast, slow_delay))


async def _receivers(conn: Connection, fast: int, slow_delay: float) -> None:
    """The fast receivers and the slow one; answers the parent's commands: their ports
    (first), "stats", "reset", "exit"."""
    loop = asyncio.get_running_loop()
    stats: dict[int, PortStats] = {}
    servers = []
    for delay in [0.0] * fast + [slow_delay]:
        port_stats = PortStats()
        server = await loop.create_server(lambda s=port_stats, d=delay: _Receiver(s, d),  # type: ignore[misc]
                                          "127.0.0.1", 0, backlog=1024)
        stats[int(server.sockets[0].getsockname()[1])] = port_stats
        servers.append(server)
    conn.send(list(stats))
    while True:
        command = await loop.run_in_executor(None, conn.recv)
        if command == "stats":
            conn.send({port: s.summary() for port, s in stats.items()})
        elif command == "reset":
            for port_stats in stats.values():
                port_stats.arrivals.clear()
                port_stats.deliveries.clear()
                port_stats.repeats = 0
            conn.send("ok")
        else:
            for server in servers:
                server.close()
            conn.send("bye")
            return


class Receivers:
    """The receivers' process: `fast` ports, then the slow one."""

    def __init__(self, fast: int, slow_delay: float) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipe, child = context.Pipe()
        self.process = context.Process(target=receiver_process, args=(child, fast, slow_delay), daemon=True)
        self.process.start()
        ports: list[int] = self.pipe.recv()
        self.fast, self.slow = ports[:-1], ports[-1]

    async def ask(self, command: str) -> Any:
        self.pipe.send(command)
        return await asyncio.get_running_loop().run_in_executor(None, self.pipe.recv)

    def close(self) -> None:
        with suppress(OSError):
            self.pipe.send("exit")
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


# --- notify in child processes ---------------------------------------------------------------


@asynccontextmanager
async def notify_process(env: dict[str, str], port: int) -> AsyncIterator[subprocess.Popen[bytes]]:
    """`inovasi serve notify` until it answers /readyz; stopped (SIGTERM) after. Waits
    without blocking the event loop (notify's consumer runs in this one too). Its log goes to
    a file (a pipe nobody reads would stall it when full), shown if it fails to start."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", "notify", "--host", "127.0.0.1", "--port", str(port)],
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            async with httpx.AsyncClient(timeout=2) as client:
                while True:
                    if process.poll() is not None:
                        log.seek(0)
                        raise RuntimeError(f"notify exited: {log.read().decode(errors='replace')[-3000:]}")
                    with suppress(httpx.HTTPError):
                        if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                            break
                    if time.monotonic() > deadline:
                        raise RuntimeError("notify did not become ready within 60 s")
                    await asyncio.sleep(0.1)
            yield process
        finally:
            process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 30
            while process.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            if process.poll() is None:
                process.kill()
                process.wait()


# --- measuring -------------------------------------------------------------------------------


@dataclass
class Drain:
    deliveries: int  # fast deliveries in the backlog
    per_s: float  # fast deliveries / (last fast arrival - first arrival at any receiver)
    seconds: float
    ready_after_s: float  # the delivering process answered /readyz this long after it was started
    first_after_s: float  # first webhook after it was ready (its worker starts before)
    slow_received: int
    longest_pause: float  # the longest time between two webhooks at a fast receiver
    repeats: int
    undelivered: int  # fast deliveries not 'delivered' in notify's log afterwards
    cpu_percent: float  # the delivering process's CPU, % of one core, from ready to the last fast webhook
    cpu_per_delivery_ms: float  # its CPU time over that window / fast deliveries


@dataclass
class Figures:
    without_slow: list[Drain] = field(default_factory=list)
    with_slow: list[Drain] = field(default_factory=list)
    ceiling: list[float] = field(default_factory=list)  # requests/s, httpx
    raw_ceiling: list[float] = field(default_factory=list)  # requests/s, a bare asyncio client
    claims: list[tuple[float, int]] = field(default_factory=list)  # one claim with the backlog: ms, claimed


class Bench:
    def __init__(self, args: argparse.Namespace, receivers: Receivers) -> None:
        from services.common.data.regions import load_regions
        from tests.support.infra import unique_suffix

        self.args = args
        self.receivers = receivers
        suffix = unique_suffix()
        self.stream_prefix, self.schema_prefix = f"{suffix}.", f"{suffix}_"
        self.schema = self.schema_prefix + "notify"
        kabupaten = sorted(code for code, info in load_regions().items() if info.type == "kabupaten")
        self.regions = kabupaten[:: max(1, len(kabupaten) // args.regions)][: args.regions]
        self.versions = dict.fromkeys(self.regions, 0)
        self.base_env = {
            **os.environ,
            "INOVASI_DATABASE_URL": args.database_url,
            "INOVASI_REDIS_URL": args.redis_url,
            "INOVASI_STREAM_PREFIX": self.stream_prefix,
            "INOVASI_SCHEMA_PREFIX": self.schema_prefix,
            "INOVASI_AUTH_SECRET": SECRET,
            "INOVASI_LOG_LEVEL": "WARNING",
            "INOVASI_NOTIFY_ALLOW_PRIVATE_TARGETS": "true",
            "INOVASI_NOTIFY_MAX_SUBSCRIPTIONS_PER_REGION": str(args.subscriptions + 1),
        }
        self.extra_env = dict(item.split("=", 1) for item in args.env)
        from services.notify.settings import NotifySettings

        defaults = NotifySettings.model_fields
        self.concurrency = int(self.extra_env.get(
            "INOVASI_NOTIFY_DELIVERY_CONCURRENCY", defaults["notify_delivery_concurrency"].default))
        self.target_concurrency = int(self.extra_env.get(
            "INOVASI_NOTIFY_TARGET_CONCURRENCY", defaults["notify_target_concurrency"].default))
        self.batch_size = int(self.extra_env.get(
            "INOVASI_NOTIFY_DELIVERY_BATCH_SIZE", defaults["notify_delivery_batch_size"].default))
        self.timeout_s = float(self.extra_env.get(
            "INOVASI_NOTIFY_WEBHOOK_TIMEOUT_S", defaults["notify_webhook_timeout_s"].default))
        self.events_per_region = -(-args.deliveries // (args.regions * args.subscriptions))
        self.fast_deliveries = self.events_per_region * args.regions * args.subscriptions

    # --- the backlog ---------------------------------------------------------------------

    async def subscribe(self, api: httpx.AsyncClient, slow: bool) -> None:
        """The scenario's subscriptions (the earlier ones deleted, their pending deliveries
        cancelled), made by each region's admin through notify's API."""
        import asyncpg

        from services.common.tokens import issue_token

        conn = await asyncpg.connect(self.args.database_url)
        try:
            await conn.execute(f"UPDATE {self.schema}.deliveries SET status = 'cancelled' WHERE status = 'pending'")
            await conn.execute(f"UPDATE {self.schema}.subscriptions SET deleted_at = now() WHERE deleted_at IS NULL")
        finally:
            await conn.close()
        for region in self.regions:
            admin = {"Authorization": f"Bearer {issue_token(SECRET, 'region_admin', region)}"}
            urls = [f"http://127.0.0.1:{self.receivers.fast[i % len(self.receivers.fast)]}/hooks/{region}/{i}"
                    for i in range(self.args.subscriptions)]
            if slow:
                urls.append(f"http://127.0.0.1:{self.receivers.slow}/hooks/{region}")
            for url in urls:
                body = {"url": url, "scope": {"region": region}, "kinds": ["score.updated"]}
                response = await api.post("/v1/subscriptions", json=body, headers=admin)
                if response.status_code != 201:
                    raise RuntimeError(f"subscription refused: {response.status_code} {response.text}")

    async def make_backlog(self, slow: bool) -> None:
        """score.updated events into the scoring stream until notify's consumer has queued
        a delivery per subscription for each."""
        import asyncpg
        from redis.asyncio import Redis

        from services.common import events as ev
        from tests.support import events as sample

        entries = []
        for _ in range(self.events_per_region):
            for region in self.regions:
                self.versions[region] += 1
                entries.append(ev.to_entry(sample.score_updated(version=self.versions[region], region=region)))
        redis = Redis.from_url(self.args.redis_url)
        try:
            async with redis.pipeline(transaction=False) as pipe:
                for entry in entries:
                    pipe.xadd(self.stream_prefix + ev.SCORING_STREAM, entry)  # type: ignore[arg-type]
                await pipe.execute()
        finally:
            await redis.aclose()
        expected = len(entries) * (self.args.subscriptions + (1 if slow else 0))
        conn = await asyncpg.connect(self.args.database_url)
        try:
            deadline = time.monotonic() + 60 + len(entries) / 10
            while (pending := await conn.fetchval(
                    f"SELECT count(*) FROM {self.schema}.deliveries WHERE status = 'pending'")) < expected:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"notify queued {pending} of {expected} deliveries")
                await asyncio.sleep(0.1)
        finally:
            await conn.close()

    async def time_a_claim(self) -> tuple[float, int]:
        """One claim as the delivery worker makes it (store.claim_due with its limits), in a
        transaction rolled back, with the backlog queued: (milliseconds, deliveries claimed);
        the median of three."""
        import asyncpg

        from services.notify.adapters import store

        conn = await asyncpg.connect(self.args.database_url, server_settings={"search_path": self.schema})
        try:
            times, claimed = [], 0
            for _ in range(3):
                transaction = conn.transaction()
                await transaction.start()
                started = time.perf_counter()
                claims = await store.claim_due(
                    conn, limit=min(self.concurrency, self.batch_size), lease_s=2 * self.timeout_s + 30,
                    per_target=2 * self.target_concurrency, skip_targets=[],
                )
                times.append((time.perf_counter() - started) * 1000)
                claimed = len(claims)
                await transaction.rollback()
            return statistics.median(times), claimed
        finally:
            await conn.close()

    # --- the drain -----------------------------------------------------------------------

    def deliverer_env(self) -> dict[str, str]:
        return {**self.base_env, "INOVASI_NOTIFY_DELIVER": "true", "INOVASI_GRACEFUL_TIMEOUT_S": "2",
                **self.extra_env}

    async def drain(self, slow: bool) -> Drain:
        await self.receivers.ask("reset")
        fast_ports = set(self.receivers.fast)
        wanted = self.fast_deliveries
        started = time.monotonic()
        async with notify_process(self.deliverer_env(), _free_port()) as process:
            ready, cpu_ready = time.monotonic(), cpu_seconds(process.pid)
            deadline = time.monotonic() + 120 + wanted / 20
            while True:
                stats = await self.receivers.ask("stats")
                if sum(stats[p]["count"] for p in fast_ports) >= wanted:
                    break
                if time.monotonic() > deadline:
                    got = sum(stats[p]["count"] for p in fast_ports)
                    raise RuntimeError(f"the fast receivers got {got} of {wanted} webhooks")
                await asyncio.sleep(0.05)
            cpu_s, window = cpu_seconds(process.pid) - cpu_ready, time.monotonic() - ready
        first = min(s["first"] for s in stats.values() if s["first"] is not None)
        last = max(stats[p]["last"] for p in fast_ports)
        slow_stats = stats[self.receivers.slow]
        undelivered = await self._undelivered()
        seconds = last - first
        return Drain(
            deliveries=wanted, per_s=wanted / seconds if seconds > 0 else float("inf"), seconds=seconds,
            ready_after_s=ready - started, first_after_s=first - ready, slow_received=slow_stats["count"],
            longest_pause=max(stats[p]["longest_pause"] for p in fast_ports),
            repeats=sum(s["repeats"] for s in stats.values()), undelivered=undelivered,
            cpu_percent=cpu_s / window * 100, cpu_per_delivery_ms=cpu_s / wanted * 1000,
        )

    async def _undelivered(self) -> int:
        import asyncpg

        conn = await asyncpg.connect(self.args.database_url)
        try:
            return int(await conn.fetchval(
                f"""SELECT count(*) FROM {self.schema}.deliveries d
                      JOIN {self.schema}.subscriptions s ON s.id = d.subscription_id
                     WHERE s.deleted_at IS NULL AND s.url NOT LIKE $1 AND d.status <> 'delivered'""",
                f"http://127.0.0.1:{self.receivers.slow}/%"))
        finally:
            await conn.close()

    # --- the ceilings --------------------------------------------------------------------

    async def _sample(self) -> tuple[bytes, dict[str, str]]:
        """A body notify sent (the newest delivery's) and headers like notify's, signed."""
        import asyncpg

        from services.notify.adapters.webhook_sender import USER_AGENT
        from services.notify.domain import signing

        conn = await asyncpg.connect(self.args.database_url)
        try:
            body = str(await conn.fetchval(f"SELECT body FROM {self.schema}.deliveries ORDER BY id DESC LIMIT 1"))
        finally:
            await conn.close()
        now = int(time.time())
        data = body.encode()
        return data, {
            "Content-Type": "application/json", "User-Agent": USER_AGENT,
            signing.EVENT_ID_HEADER: "00000000-0000-0000-0000-000000000000", signing.KIND_HEADER: "score.updated",
            signing.DELIVERY_HEADER: "0", signing.TIMESTAMP_HEADER: str(now),
            signing.SIGNATURE_HEADER: signing.sign("whsec_benchmark", now, data),
        }

    async def _rate_at_fast_receivers(self) -> float:
        stats = await self.receivers.ask("stats")
        fast = [stats[p] for p in self.receivers.fast]
        seconds = max(s["last"] for s in fast) - min(s["first"] for s in fast)
        return sum(s["count"] for s in fast) / seconds

    @property
    def workers(self) -> int:
        """Requests in flight at once to the fast receivers, as notify's limits allow."""
        return min(self.concurrency, self.target_concurrency * len(self.receivers.fast))

    async def ceiling_httpx(self) -> float:
        """The fast receivers driven by httpx (notify's client) at the worker's concurrency,
        each request signed as notify signs it: requests/s at the receivers."""
        from services.notify.domain import signing

        body, headers = await self._sample()
        await self.receivers.ask("reset")
        left = [self.fast_deliveries]

        async def worker(client: httpx.AsyncClient, port: int) -> None:
            while left[0] > 0:
                left[0] -= 1
                now = int(time.time())
                signed = {**headers, signing.DELIVERY_HEADER: str(left[0]), signing.TIMESTAMP_HEADER: str(now),
                          signing.SIGNATURE_HEADER: signing.sign("whsec_benchmark", now, body)}
                response = await client.post(f"http://127.0.0.1:{port}/hooks/ceiling", content=body, headers=signed)
                if response.status_code != 204:
                    raise RuntimeError(f"the receiver answered {response.status_code}")

        per_receiver = self.target_concurrency
        limits = httpx.Limits(max_connections=per_receiver, max_keepalive_connections=per_receiver)
        fast = self.receivers.fast
        clients = [httpx.AsyncClient(timeout=self.timeout_s, limits=limits, trust_env=False) for _ in fast]
        try:
            await asyncio.gather(*(worker(clients[i % len(fast)], fast[i % len(fast)]) for i in range(self.workers)))
        finally:
            for client in clients:
                await client.aclose()
        return await self._rate_at_fast_receivers()

    async def ceiling_raw(self) -> float:
        """The same with a bare asyncio client (one kept connection per worker, the request
        written at once, the 204 read): what the receivers and loopback take, whatever the
        HTTP client."""
        body, headers = await self._sample()
        await self.receivers.ask("reset")
        left = [self.fast_deliveries]

        async def worker(port: int) -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            head = "".join(f"{name}: {value}\r\n" for name, value in headers.items() if name != "X-Inovasi-Delivery")
            try:
                while left[0] > 0:
                    left[0] -= 1
                    writer.write(
                        f"POST /hooks/ceiling HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{head}"
                        f"X-Inovasi-Delivery: r{left[0]}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
                    )
                    answer = await reader.readuntil(b"\r\n\r\n")
                    if not answer.startswith(b"HTTP/1.1 204"):
                        raise RuntimeError(f"the receiver answered {answer[:40]!r}")
            finally:
                writer.close()

        fast = self.receivers.fast
        await asyncio.gather(*(worker(fast[i % len(fast)]) for i in range(self.workers)))
        return await self._rate_at_fast_receivers()

    # --- the whole -----------------------------------------------------------------------

    async def measure_runs(self, api: httpx.AsyncClient) -> Figures:
        figures = Figures()
        for _ in range(self.args.runs):
            for slow in (False, True):
                label = "with the slow receiver" if slow else "without a slow receiver"
                progress(f"{label}: subscribing, queueing the backlog")
                await self.subscribe(api, slow)
                await self.make_backlog(slow)
                if not slow:
                    figures.claims.append(await self.time_a_claim())
                progress(f"{label}: {self.fast_deliveries} deliveries to the fast receivers queued; draining")
                drain = await self.drain(slow)
                progress(f"{label}: drained at {drain.per_s:.0f}/s")
                (figures.with_slow if slow else figures.without_slow).append(drain)
            progress("ceilings: httpx, then a bare asyncio client")
            figures.ceiling.append(await self.ceiling_httpx())
            figures.raw_ceiling.append(await self.ceiling_raw())
        return figures

    def run(self) -> Figures:
        try:
            return asyncio.run(self._run())
        finally:
            asyncio.run(self.cleanup())

    async def _run(self) -> Figures:
        """The backlog is made by notify in this process (its API and consumer, no delivery
        worker): one child process fewer to start; it idles while the backlog drains."""
        from pydantic import SecretStr

        from services.common.logging import configure_logging
        from services.notify.app import create_app
        from services.notify.settings import NotifySettings

        configure_logging("WARNING", json=True, stream=sys.stderr)
        settings = NotifySettings(
            database_url=self.args.database_url, redis_url=self.args.redis_url, stream_prefix=self.stream_prefix,
            schema_prefix=self.schema_prefix, auth_secret=SecretStr(SECRET), pg_pool_min=1, pg_pool_max=4,
            consumer_block_ms=100, notify_deliver=False, notify_allow_private_targets=True,
            notify_max_subscriptions_per_region=self.args.subscriptions + 1,
        )
        app = create_app(settings, deliver=False)
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://notify", timeout=30) as api:
            return await self.measure_runs(api)

    async def cleanup(self) -> None:
        from redis.asyncio import Redis

        from tests.support.infra import delete_keys, drop_schema

        redis = Redis.from_url(self.args.redis_url)
        try:
            await delete_keys(redis, self.stream_prefix)
        finally:
            await redis.aclose()
        await drop_schema(self.args.database_url, self.schema)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc)."""
    after_name = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(after_name[11]) + int(after_name[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    from tests.support.infra import free_port

    return free_port()


# --- printing --------------------------------------------------------------------------------


def spread(values: list[float], unit: str = "", digits: int = 0) -> str:
    return (f"{min(values):.{digits}f} / {statistics.median(values):.{digits}f} / "
            f"{max(values):.{digits}f}{unit}")


def report(args: argparse.Namespace, bench: Bench, figures: Figures) -> None:
    fast = len(bench.receivers.fast)
    print(f"webhook delivery draining a backlog, `inovasi serve notify` (uvicorn), {os.cpu_count()} cores, all "
          f"co-located; {bench.fast_deliveries} deliveries to {fast} fast receiver{'s' * (fast > 1)} (204 at once) "
          f"from {args.regions} regions × {args.subscriptions} subscriptions; delivery concurrency "
          f"{bench.concurrency}, per receiver {bench.target_concurrency}; {args.runs} runs, min / median / max")
    without = [d.per_s for d in figures.without_slow]
    with_slow = [d.per_s for d in figures.with_slow]
    print(f"  without a slow receiver: {spread(without, ' deliveries/s')} (drained in "
          f"{spread([d.seconds for d in figures.without_slow], ' s', 1)}; notify ready "
          f"{spread([d.ready_after_s for d in figures.without_slow], ' s', 1)} after it was started, first webhook "
          f"{spread([d.first_after_s for d in figures.without_slow], ' s', 2)} after that; longest pause at a fast "
          f"receiver {spread([d.longest_pause * 1000 for d in figures.without_slow], ' ms')}; notify's CPU "
          f"{spread([d.cpu_percent for d in figures.without_slow], ' %')} of one core, "
          f"{spread([d.cpu_per_delivery_ms for d in figures.without_slow], ' ms', 2)} per delivery)")
    print(f"  with one slow receiver (answers after {args.slow_delay:g} s; webhook timeout {bench.timeout_s:g} s; "
          f"a subscription to it in every region): {spread(with_slow, ' deliveries/s')} (drained in "
          f"{spread([d.seconds for d in figures.with_slow], ' s', 1)}; the slow receiver got "
          f"{spread([d.slow_received for d in figures.with_slow])} meanwhile; longest pause at a fast receiver "
          f"{spread([d.longest_pause * 1000 for d in figures.with_slow], ' ms')}; notify's CPU "
          f"{spread([d.cpu_percent for d in figures.with_slow], ' %')})")
    ratio = statistics.median(with_slow) / statistics.median(without)
    per_run = ", ".join(f"{w / o:.0%}" for w, o in zip(with_slow, without, strict=True))
    print(f"  with / without the slow receiver: {ratio:.0%} (ratio of medians; per run {per_run})")
    ceiling = figures.ceiling
    print(f"  ceiling, the same receiver{'s' * (fast > 1)} driven by httpx directly ({bench.workers} at once, "
          f"{bench.target_concurrency} per receiver, same body, signed): {spread(ceiling, ' requests/s')}; "
          f"notify's share of it: {statistics.median(without) / statistics.median(ceiling):.0%} without, "
          f"{statistics.median(with_slow) / statistics.median(ceiling):.0%} with the slow receiver")
    print(f"  (the receiver{'s' * (fast > 1)} driven by a bare asyncio client, same concurrency: "
          f"{spread(figures.raw_ceiling, ' requests/s')})")
    pending = bench.fast_deliveries
    print(f"  one claim of the delivery worker with the backlog queued ({pending} pending; store.claim_due, rolled "
          f"back): {spread([ms for ms, _ in figures.claims], ' ms', 1)}, claiming "
          f"{spread([n for _, n in figures.claims])} deliveries")
    drains = figures.without_slow + figures.with_slow
    repeats, undelivered = sum(d.repeats for d in drains), sum(d.undelivered for d in drains)
    print(f"  webhooks received twice: {repeats}; fast deliveries not 'delivered' in notify's log: {undelivered}")
    met = min(without + with_slow) >= GOAL_PER_S and ratio >= GOAL_SLOW_RATIO and not repeats and not undelivered
    print(f"goal: ≥ {GOAL_PER_S:.0f} deliveries/s, one slow receiver delaying no one (with it ≥ "
          f"{GOAL_SLOW_RATIO:.0%} of the rate without) — {'met' if met else 'NOT met'} (slowest drain "
          f"{min(without + with_slow):.0f}/s, ratio {ratio:.0%})")


def main() -> None:
    from tests.support.infra import DATABASE_URL, REDIS_URL

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--deliveries", type=int, default=3000, help="backlog of deliveries to the fast receivers")
    parser.add_argument("--fast-receivers", type=int, default=1)
    parser.add_argument("--regions", type=int, default=10)
    parser.add_argument("--subscriptions", type=int, default=5, help="subscriptions per region to the fast receivers")
    parser.add_argument("--slow-delay", type=float, default=6.0, help="seconds the slow receiver takes to answer")
    parser.add_argument("--database-url", default=DATABASE_URL)
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="an extra INOVASI_* setting for the delivering notify process (repeatable)")
    args = parser.parse_args()
    receivers = Receivers(args.fast_receivers, args.slow_delay)
    try:
        bench = Bench(args, receivers)
        figures = bench.run()
    finally:
        receivers.close()
    report(args, bench, figures)


if __name__ == "__main__":
    main()
