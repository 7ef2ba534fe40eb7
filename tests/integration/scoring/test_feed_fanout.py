"""The live feed fanned out from one reader per process, over a real HTTP server: more open
feeds than the service's Redis pool holds, with every feed getting every update and the
outbox relay publishing on as before; a client that stops reading is dropped with the reason
while the others go on, and resumes with Last-Event-ID; shutdown stays prompt."""

from __future__ import annotations

import asyncio
import socket
import time
from contextlib import AsyncExitStack

import httpx
import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from services.common import events as ev
from services.scoring.app import create_app
from tests.support import events as sample
from tests.support.infra import wait_until
from tests.support.platform import cleanup, isolated_settings, token
from tests.support.servers import SseListener, listen_sse, serve

pytestmark = pytest.mark.integration
URL = "/v1/cycles/2026/stream?region=62.10"
POOL = 10
FEEDS = 50


def versions(feed: SseListener) -> list[int]:
    return [e.json()["version"] for e in feed.events if e.event == "score.updated"]


def updates(feed: SseListener) -> int:
    return sum(1 for e in feed.events if e.event == "score.updated")


async def publish(redis: Redis, settings, events: list[ev.Envelope]) -> None:  # type: ignore[no-untyped-def]
    for event in events:
        await redis.xadd(settings.stream(ev.stream_of(event.producer)), ev.to_entry(event))


async def test_more_feeds_than_the_redis_pool_all_get_every_update_and_the_relay_publishes_on():
    settings = isolated_settings(redis_max_connections=POOL)
    redis = Redis.from_url(settings.redis_url)
    limits = httpx.Limits(max_connections=FEEDS + 10)
    try:
        app = create_app(settings)  # with its consumer: a write's event is scored, then published by its relay
        async with serve(app) as base, httpx.AsyncClient(base_url=base, limits=limits) as client, \
                AsyncExitStack() as stack:
            runtime = app.state.runtime
            assert runtime.redis.connection_pool.max_connections == POOL  # the pool requests share
            statuses: list[int] = []

            async def open_feed() -> SseListener:
                feed = await stack.enter_async_context(listen_sse(client, URL, token("viewer")))
                statuses.append(200)
                return feed

            feeds = await asyncio.gather(*(open_feed() for _ in range(FEEDS)))  # a 503 would raise here
            assert statuses == [200] * FEEDS
            await wait_until(lambda: _all(versions(f) == [0] for f in feeds), timeout=30)  # the snapshot
            assert (await client.get("/metrics")).status_code == 200
            assert _gauge("inovasi_feed_clients") >= FEEDS
            assert (await client.get("/readyz")).status_code == 200  # the shared pool still answers

            for version, indicator in ((1, "spd-01"), (2, "spd-06")):  # two writes while all are connected
                await publish(redis, settings, sample.spd_with_evidence(indicator, 3, region="62.10"))
                await wait_until(lambda v=version: _all(versions(f)[-1:] == [v] for f in feeds), timeout=30)
            assert all(versions(f) == [0, 1, 2] for f in feeds)
            # Published by scoring's relay, and nothing of its outbox left waiting.
            entries = await redis.xrange(settings.stream(ev.SCORING_STREAM))
            published = [ev.from_entry(fields) for _, fields in entries]
            assert [e.version for e in published if isinstance(e, ev.ScoreUpdated)] == [1, 2]

            async def outbox_published() -> bool:
                async with runtime.pool.acquire() as conn:
                    return await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0

            await wait_until(outbox_published, timeout=10)  # stamped just after the XADD

            started = time.monotonic()
            app.state.begin_shutdown()
            await asyncio.wait_for(asyncio.gather(*(f.task for f in feeds), return_exceptions=True), 5)
            assert time.monotonic() - started < 3.0  # generous: they end at once
            assert all(f.task.done() and not f.task.cancelled() for f in feeds)  # ended by the server
    finally:
        await redis.aclose()
        await cleanup(settings)


async def test_a_client_that_stops_reading_is_dropped_with_the_reason_and_the_others_go_on():
    # A queue larger than one burst of the loop below (1,000 entries, read in up to three
    # reads): the clients that read take each burst before the next one comes, even on a
    # loaded machine; the one that does not read fills it once its socket buffers are full.
    settings = isolated_settings(feed_client_queue=2000)
    redis = Redis.from_url(settings.redis_url)
    scoring = settings.stream(ev.SCORING_STREAM)
    try:
        async with serve(create_app(settings, consume=False)) as base, \
                httpx.AsyncClient(base_url=base) as client, AsyncExitStack() as stack:
            others = [await stack.enter_async_context(listen_sse(client, URL, token("viewer"))) for _ in range(2)]
            slow = await SlowClient.connect(base, URL, token("viewer"))
            await wait_until(lambda: _all(versions(f) == [0] for f in others))
            before = _dropped()
            sent = 0
            # Until the kernel's buffers for it (several MiB on loopback) and its queue are full.
            while _dropped() == before:
                assert sent < 20_000, "the client that does not read was never dropped"
                async with redis.pipeline(transaction=False) as pipe:
                    for _ in range(1000):
                        sent += 1
                        pipe.xadd(scoring, ev.to_entry(sample.score_updated(version=sent, region="62.10")))
                    await pipe.execute()
                await wait_until(lambda n=sent: _all(updates(f) == n + 1 for f in others), timeout=60)
            assert _dropped() == before + 1
            # The others had every update, in order, while it hung.
            assert all(versions(f) == list(range(sent + 1)) for f in others)
            # It reads again: what the server had buffered, then the reason, then the end.
            text = await slow.read_to_end()
            assert ": dropped: too slow" in text and "Last-Event-ID" in text
            last_id = [line for line in text.splitlines() if line.startswith("id: ")][-1][4:]
            # Resumed, it gets everything after the last event it received, from memory or Redis.
            resume = {**token("viewer"), "Last-Event-ID": last_id}
            missed = [entry_id.decode() for entry_id, _ in await redis.xrange(scoring, min=f"({last_id}")]
            async with listen_sse(client, URL, resume) as again:
                await wait_until(lambda: _equals(len(again.events), len(missed)), timeout=30)
                assert [e.id for e in again.events] == missed
    finally:
        await redis.aclose()
        await cleanup(settings)


class SlowClient:
    """A feed's client that reads the response's head and then nothing, with a small
    receive buffer: the server's sends to it soon block."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, base: str, path: str, headers: dict[str, str]) -> SlowClient:
        host, port = base.removeprefix("http://").split(":")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
        reader, writer = await asyncio.open_connection(sock=sock, limit=2**20)
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n{head}\r\n".encode())
        await writer.drain()
        status = await reader.readuntil(b"\r\n\r\n")
        assert status.startswith(b"HTTP/1.1 200"), status
        return cls(reader, writer)

    async def read_to_end(self) -> str:
        """The body until the server ends the response (chunked: the last, empty chunk)."""
        body = bytearray()
        while True:
            size = int((await asyncio.wait_for(self.reader.readuntil(b"\r\n"), 30)).strip(), 16)
            chunk = await asyncio.wait_for(self.reader.readexactly(size + 2), 30)
            if size == 0:
                self.writer.close()
                return body.decode()
            body += chunk[:-2]


def _gauge(name: str) -> float:
    return REGISTRY.get_sample_value(name, {"stream": ev.SCORING_STREAM}) or 0.0


def _dropped() -> float:
    return REGISTRY.get_sample_value("inovasi_feed_clients_dropped_total", {"stream": ev.SCORING_STREAM}) or 0.0


async def _all(values) -> bool:  # type: ignore[no-untyped-def]
    return all(values)


async def _equals(a: object, b: object) -> bool:
    return a == b
