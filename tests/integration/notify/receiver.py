"""A real webhook receiver for tests: an HTTP(S) server on 127.0.0.1 (or another local
address) in a thread that answers POSTs with scripted statuses and records every request
it got."""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    connection: tuple[str, int] = ("", 0)  # the client's address and port: one per connection


class WebhookReceiver:
    """`statuses` are answered in order, the last one repeating; `delay_s` is waited
    before each answer (after the request was recorded); `payload`, if given, is the body
    of every answer and `answer_headers` are added to every answer. It listens on `host`
    and `port` (0: a free one), over TLS when `tls` is given, and keeps connections open
    for further requests (HTTP/1.1) when `keep_alive`. With `hold`, every request waits
    (after it was recorded) until that event is set: a receiver that hangs. `busy` is the
    number of requests being answered now, `most_busy` the most there were at once."""

    def __init__(
        self,
        statuses: list[int] | None = None,
        *,
        delay_s: float = 0.0,
        payload: bytes | None = None,
        answer_headers: dict[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
        keep_alive: bool = False,
        hold: threading.Event | None = None,
    ) -> None:
        self.statuses = list(statuses or [200])
        self.delay_s = delay_s
        self.hold = hold
        self.busy = 0
        self.most_busy = 0
        self.payload = payload
        self.answer_headers = dict(answer_headers or {})
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                connection = (str(self.client_address[0]), int(self.client_address[1]))
                with receiver._lock:
                    receiver.requests.append(
                        Received(self.path, dict(self.headers.items()), body, time.time(), connection)
                    )
                    index = min(len(receiver.requests), len(receiver.statuses)) - 1
                    status = receiver.statuses[index]
                    receiver.busy += 1
                    receiver.most_busy = max(receiver.most_busy, receiver.busy)
                try:
                    if receiver.delay_s:
                        time.sleep(receiver.delay_s)
                    if receiver.hold is not None:
                        receiver.hold.wait()
                finally:
                    with receiver._lock:
                        receiver.busy -= 1
                payload = receiver.payload
                if payload is None:
                    payload = b'{"ok": true}' if 200 <= status < 300 else b'{"error": "scripted failure"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in receiver.answer_headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.port = int(self._server.server_address[1])
        self.url = f"{'https' if tls else 'http'}://{host}:{self.port}/hooks/iid"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.hold is not None:
            self.hold.set()  # let held requests end, so the server can stop
        self._server.shutdown()
        self._server.server_close()

    def received(self) -> list[Received]:
        with self._lock:
            return list(self.requests)
