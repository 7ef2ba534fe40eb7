"""PostgreSQL round trips per event on scoring's hot path (a script, not a test).

What is counted: every message the scoring service sends to PostgreSQL goes through a small
TCP proxy this script starts in front of the real server (the service's
INOVASI_DATABASE_URL points at the proxy; nothing in the service is patched or wrapped). The
proxy parses the frontend protocol and counts, per connection after its start-up:

  * round trips: the times the client waits for the server to be ready again — a `Sync`
    ('S', which ends an extended-protocol exchange: one statement with parameters, or a
    pipelined `executemany`) or a simple `Query` ('Q': BEGIN, COMMIT, the pool's reset on
    release). Each is answered by one ReadyForQuery; nothing else blocks the client. A
    statement asyncpg has not prepared on that connection yet costs two (Parse/Describe,
    then Bind/Execute), which the warm-up absorbs;
  * statements: `Bind` + `Query` messages (what `log_statement` would show, a `Query`
    holding several statements counted once), and `Parse` (preparations) apart.

So the count is exact and independent of the code under test: the consumer (inbox, state,
score, outbox), the outbox relay and the pool's connection resets, everything scoring sends
to PostgreSQL while it applies the events. The relay's polling is set to 60 s, so the
window holds only the rounds that the events cause (NOTIFY and in-process wake-ups).

The run: the scoring service (`ServiceRuntime` of services/scoring/app.py: consumer, relay)
in this process, with its own stream and schema prefixes and a fixed pool; a reproducible
random history of submission events (tests/support/history.py: innovations and their
answers, evidence stored/accepted/rejected, SPD answers) for one region, or spread over
several; the first `--warmup` events are published and applied first (statements prepared,
regions created, pool connections open), then the counters are zeroed, the other `--events`
are XADDed at once, and counting stops when every one is in the inbox and the outbox is
published.

    .venv/bin/python -m benchmarks.round_trips                   # this checkout
    git worktree add --detach /tmp/rt-before <commit>             # an earlier commit, once
    .venv/bin/python -m benchmarks.round_trips --before /tmp/rt-before
    git worktree remove /tmp/rt-before

With `--before PATH`, the same measurement also runs in a child process against the code at
PATH (PYTHONPATH, same venv) and the script prints "round trips per event: before X, after
Y". The measurement itself uses only what every version has (ServiceRuntime, Settings, the
event contract), so it runs on older commits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import struct
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: services and tests from this checkout (after PYTHONPATH)
    sys.path.append(str(ROOT))
ONE_REGION = ["62.10"]
SEVERAL_REGIONS = ["62.10", "62.11", "62.71", "62.01", "62", "11.01", "63.01", "35.78"]
STARTUP_CODES = {80877103, 80877104, 80877102}  # SSLRequest, GSSENCRequest, CancelRequest


@dataclass
class Counts:
    round_trips: int = 0
    statements: int = 0
    prepares: int = 0
    connections: int = 0
    by_statement: dict[str, int] = field(default_factory=dict)  # first words of each statement

    def zero(self) -> None:
        self.round_trips = self.statements = self.prepares = self.connections = 0
        self.by_statement = {}

    def saw(self, text: str) -> None:
        key = " ".join(text.split())[:90]
        self.by_statement[key] = self.by_statement.get(key, 0) + 1


@dataclass
class _Parser:
    """Frontend messages of one connection: the start-up packet(s), then typed messages."""

    counts: Counts
    started: bool = False
    buffer: bytearray = field(default_factory=bytearray)
    prepared: dict[bytes, str] = field(default_factory=dict)  # statement name -> text

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if not self.started:
                if len(self.buffer) < 8:
                    return
                length, code = struct.unpack("!ii", self.buffer[:8])
                if len(self.buffer) < length:
                    return
                del self.buffer[:length]
                if code not in STARTUP_CODES:
                    self.started = True  # the StartupMessage; typed messages follow
                continue
            if len(self.buffer) < 5:
                return
            kind = chr(self.buffer[0])
            (length,) = struct.unpack("!i", self.buffer[1:5])
            if len(self.buffer) < 1 + length:
                return
            body = bytes(self.buffer[5 : 1 + length])
            del self.buffer[: 1 + length]
            if kind == "P":
                name, text = body.split(b"\0")[:2]
                self.prepared[name] = text.decode(errors="replace")
            elif kind == "B":
                self.counts.saw(self.prepared.get(body.split(b"\0")[1], "?"))
            elif kind == "Q":
                self.counts.saw(body.rstrip(b"\0").decode(errors="replace"))
            if kind in "SQ":
                self.counts.round_trips += 1
            if kind in "BQ":
                self.counts.statements += 1
            if kind == "P":
                self.counts.prepares += 1


class CountingProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.counts = Counts()
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.counts.connections += 1
        server_r, server_w = await asyncio.open_connection(*self.target)
        parser = _Parser(self.counts)

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, count: bool) -> None:
            try:
                while data := await reader.read(65536):
                    if count:
                        parser.feed(data)
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                writer.close()

        await asyncio.gather(pipe(client_r, server_w, True), pipe(server_r, client_w, False))


def _through(dsn: str, port: int) -> str:
    parts = urlsplit(dsn)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    query = "&".join(filter(None, [parts.query, "sslmode=disable"]))  # the proxy reads plain text
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host, query=query))


async def measure(regions: list[str], events: int, warmup: int, max_records: int, seed: int) -> dict:
    import asyncpg
    from redis.asyncio import Redis

    from services.common import events as ev
    from services.common.logging import configure_logging
    from services.common.service import ServiceRuntime
    from services.scoring.app import SPEC
    from tests.support.history import random_history
    from tests.support.platform import cleanup, isolated_settings

    configure_logging("WARNING", json=True, stream=sys.stderr)
    base = isolated_settings()
    target = urlsplit(base.database_url)
    proxy = CountingProxy(target.hostname or "127.0.0.1", target.port or 5432)
    port = await proxy.start()
    settings = isolated_settings(
        database_url=_through(base.database_url, port),
        stream_prefix=base.stream_prefix, schema_prefix=base.schema_prefix,
        pg_pool_min=4, pg_pool_max=4, outbox_poll_s=60.0, consumer_block_ms=100,
        consumer_max_records=max_records, reclaim_idle_ms=60_000,
    )
    schema = settings.schema_of("scoring")
    history = random_history(seed=seed, regions=regions, steps=warmup + events)
    ids = [e.event_id for e in history.events]
    first, rest = history.events[:warmup], history.events[warmup:]
    redis = Redis.from_url(settings.redis_url)
    runtime = ServiceRuntime(SPEC, settings)
    direct = await asyncpg.connect(base.database_url)
    try:
        await runtime.start()

        async def publish(batch: list) -> None:
            async with redis.pipeline(transaction=False) as pipe:
                for event in batch:
                    pipe.xadd(settings.stream(ev.stream_of(event.producer)), ev.to_entry(event))  # type: ignore[arg-type]
                await pipe.execute()

        async def caught_up(n: int, timeout: float = 300.0) -> None:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                done = await direct.fetchval(
                    f"SELECT count(*) FROM {schema}.inbox WHERE event_id = ANY($1::uuid[])", ids[:n])
                waiting = await direct.fetchval(f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL")
                if done >= len(set(ids[:n])) and waiting == 0:
                    return
                await asyncio.sleep(0.02)
            raise TimeoutError("scoring did not catch up")

        await publish(first)
        await caught_up(warmup)
        await asyncio.sleep(0.3)  # let the last relay round finish
        proxy.counts.zero()
        started = time.monotonic()
        await publish(rest)
        await caught_up(warmup + events)
        seconds = time.monotonic() - started
        await asyncio.sleep(0.3)
        counts = Counts(**asdict(proxy.counts))
        versions = await direct.fetchval(f"SELECT count(*) FROM {schema}.scores")
    finally:
        await runtime.stop()
        await direct.close()
        await redis.aclose()
        await proxy.stop()
        await cleanup(settings.model_copy(update={"database_url": base.database_url}))
    return {**asdict(counts), "events": events, "regions": len(regions), "seconds": seconds,
            "score_versions": versions}


def _child(path: Path, args: argparse.Namespace, regions: str) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(path), str(ROOT)])}
    command = [sys.executable, str(Path(__file__).resolve()), "--json", "--regions", regions,
               "--events", str(args.events), "--warmup", str(args.warmup), "--seed", str(args.seed),
               "--max-records", str(args.max_records)]
    done = subprocess.run(command, cwd=path, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"measurement at {path} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _per_event(result: dict) -> float:
    return result["round_trips"] / result["events"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=400, help="events measured (default 400)")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--max-records", type=int, default=20,
                        help="INOVASI_CONSUMER_MAX_RECORDS: entries per read (default 20)")
    parser.add_argument("--regions", choices=["one", "several", "both"], default="both")
    parser.add_argument("--before", type=Path, help="a checkout of the earlier commit to compare with")
    parser.add_argument("--json", action="store_true", help="print one JSON line per measurement")
    args = parser.parse_args()
    kinds = ["one", "several"] if args.regions == "both" else [args.regions]

    for kind in kinds:
        regions = ONE_REGION if kind == "one" else SEVERAL_REGIONS
        if args.json:
            result = asyncio.run(measure(regions, args.events, args.warmup, args.max_records, args.seed))
            print(json.dumps(result))
            continue
        label = "one region" if kind == "one" else f"{len(regions)} regions"
        after = _child(ROOT, args, kind)
        if args.before is not None:
            before = _child(args.before.resolve(), args, kind)
            print(f"{label}, {args.events} events, {args.max_records} per read:")
            for name, result in (("before", before), ("after", after)):
                print(f"  {name}: {result['round_trips']} round trips, {result['statements']} statements, "
                      f"{result['prepares']} prepares, {result['score_versions']} score versions in all, "
                      f"{result['seconds']:.2f} s")
            print(f"  round trips per event: before {_per_event(before):.2f}, after {_per_event(after):.2f}")
        else:
            print(f"{label}, {args.events} events, {args.max_records} per read: {after['round_trips']} round trips, "
                  f"{after['statements']} statements, {after['prepares']} prepares, {after['seconds']:.2f} s")
            print(f"  round trips per event: {_per_event(after):.2f}")


if __name__ == "__main__":
    main()
