"""The embedded S3: moto's ``ThreadedMotoServer`` in a thread of this process, objects in
memory only."""

from __future__ import annotations

import contextlib
import logging
import socket
from typing import Any

from devtools.embedded.processes import HOST, INSTALL_HINT, EmbeddedError, EmbeddedUnavailable, _dist_version
from services.common.logging import get_logger

log = get_logger(__name__)


class EmbeddedS3:
    """moto's S3 server in a thread of this process. In memory only: objects do not
    survive a restart. Accepts any credentials."""

    kind = "s3"

    def __init__(self, *, port: int = 0, host: str = HOST) -> None:
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self._server: Any = None

    @property
    def endpoint(self) -> str:
        if self.port is None:
            raise EmbeddedError("not started")
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def describe(self) -> str:
        return f"moto {_dist_version('moto')} S3 server in this process, objects in memory only"

    def start(self) -> str:
        if self._server is not None:
            return self.endpoint
        try:
            from moto.server import ThreadedMotoServer
        except ImportError as exc:
            raise EmbeddedUnavailable(f"moto's S3 server is not installed: {INSTALL_HINT}") from exc
        if self.requested_port:
            # ThreadedMotoServer.start() waits forever if its server cannot bind.
            try:
                with socket.socket() as s:
                    s.bind((self.host, self.requested_port))
            except OSError as exc:
                raise EmbeddedError(f"cannot use {self.host}:{self.requested_port}: {exc}") from exc
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not one line per request
        server = ThreadedMotoServer(ip_address=self.host, port=self.requested_port, verbose=False)
        server.start()
        self._server = server
        self.port = int(server.get_host_and_port()[1])
        log.info("embedded.s3.started", endpoint=self.endpoint)
        return self.endpoint

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.stop()
        # ThreadedMotoServer.stop() leaves the listening socket open (connections would
        # still be accepted by the kernel and hang): close it.
        inner = getattr(server, "_server", None)
        if inner is not None:
            with contextlib.suppress(Exception):
                inner.server_close()
        log.info("embedded.s3.stopped", endpoint=f"{self.host}:{self.port}")
        self.port = None
