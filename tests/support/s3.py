"""A real S3 server for tests: moto's standalone server on 127.0.0.1, on a free port.

MinIO is not installable on the development and CI machines; moto's server speaks S3 over
HTTP, so the code under test goes through minio's real client, urllib3 and sockets.
Pitfalls of moto found so far (see ../shared/notes/stack.md, section 2.1):

* a presigned PUT sent with a form Content-Type (urllib's default) stores 0 bytes: send
  `Content-Type: application/octet-stream`;
* checksums are stored but never validated, and presigned URL expiry is not enforced, so
  tests of those properties must check what the client signs, not what moto refuses;
* object lock over plain HTTP needs the checksum-metadata workaround.

Two ways to run it:

* `moto_s3_server()`: a ThreadedMotoServer in this process (fast to start, the default);
* `moto_s3_server_process()`: the same server in a child process, for tests that measure
  this process's memory (the server keeps uploaded objects in memory, which would otherwise
  be counted).
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

# moto accepts any credentials; these only need to be consistent.
ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key"
REGION = "us-east-1"


@dataclass(frozen=True, slots=True)
class S3Endpoint:
    host: str
    port: int
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    region: str = REGION

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def netloc(self) -> str:
        return f"{self.host}:{self.port}"


@contextmanager
def moto_s3_server() -> Iterator[S3Endpoint]:
    """Run moto's S3 server in a thread of this process for the duration of the block."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield S3Endpoint(host=host, port=port)
    finally:
        server.stop()


_CHILD = """
import logging, sys
from moto.server import ThreadedMotoServer
logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
host, port = server.get_host_and_port()
print(f"{host} {port}", flush=True)
sys.stdin.read()  # serve until the parent closes our stdin (or dies)
server.stop()
"""


@contextmanager
def moto_s3_server_process(start_timeout: float = 30.0) -> Iterator[S3Endpoint]:
    """Run moto's S3 server in a child process for the duration of the block."""
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = _read_line(child, start_timeout)
        host, port = line.split()
        yield S3Endpoint(host=host, port=int(port))
    finally:
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _read_line(child: subprocess.Popen[str], timeout: float) -> str:
    # readline() has no timeout; read in a helper thread so a hung start fails the test.
    assert child.stdout is not None
    stdout = child.stdout
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not result or not result[0].strip():
        child.kill()
        raise RuntimeError(f"moto server process did not start within {timeout} s")
    return result[0]
