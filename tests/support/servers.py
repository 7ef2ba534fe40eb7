"""Real HTTP servers for end-to-end tests: the platform under uvicorn on a free loopback
port (so Server-Sent Events stream as they do for a dashboard), and a webhook receiver."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import uvicorn

from tests.support.infra import free_port


@asynccontextmanager
async def serve(app, port: int | None = None) -> AsyncIterator[str]:
    """Run `app` under uvicorn in this event loop; yield its base URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raises the start-up error
            raise RuntimeError("uvicorn exited during start-up")
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        begin_shutdown = getattr(getattr(app, "state", None), "begin_shutdown", None)
        if begin_shutdown is not None:  # as `inovasi serve` does on SIGTERM: live feeds end
            begin_shutdown()
        server.should_exit = True
        await asyncio.wait_for(task, 30)


@dataclass
class ReceivedWebhook:
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    url: str
    received: list[ReceivedWebhook] = field(default_factory=list)


@contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A local HTTP server that records every POST and answers 200."""
    port = free_port()
    receiver = WebhookReceiver(url=f"http://127.0.0.1:{port}/hook")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                receiver.received.append(ReceivedWebhook({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:  # keep test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class SseEvent:
    id: str | None
    event: str | None
    data: str

    def json(self) -> dict:
        return json.loads(self.data)


async def parse_sse(lines: AsyncIterator[str]) -> AsyncIterator[SseEvent]:
    """Server-Sent Events from a line stream; comments (`: …`) and `retry:` are skipped."""
    event_id = event = None
    data: list[str] = []
    async for line in lines:
        if line == "":
            if data:
                yield SseEvent(event_id, event, "\n".join(data))
            event_id = event = None
            data = []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "id":
                event_id = value
            elif name == "event":
                event = value
            elif name == "data":
                data.append(value)


@dataclass
class SseListener:
    """Collects a stream's events in the background (`events`, newest last)."""

    events: list[SseEvent] = field(default_factory=list)
    task: asyncio.Task | None = None
    connected: asyncio.Event = field(default_factory=asyncio.Event)


@asynccontextmanager
async def listen_sse(client, url: str, headers: dict[str, str]) -> AsyncIterator[SseListener]:
    listener = SseListener()

    async def run() -> None:
        async with client.stream("GET", url, headers=headers, timeout=None) as response:
            response.raise_for_status()
            listener.connected.set()
            async for event in parse_sse(response.aiter_lines()):
                listener.events.append(event)

    listener.task = asyncio.create_task(run())
    try:
        await asyncio.wait_for(listener.connected.wait(), 10)
        yield listener
    finally:
        listener.task.cancel()
        with suppress(asyncio.CancelledError, Exception):
            await listener.task
