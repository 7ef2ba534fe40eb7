"""Helpers for tests against real Redis and PostgreSQL (shared by every service's tests).

Isolation: every test gets names no other test (or concurrent run) uses — a stream prefix
and a schema prefix from `unique_suffix()` — and removes what it created.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from redis.asyncio import Redis

DATABASE_URL = os.environ.get("INOVASI_DATABASE_URL", "postgresql://root@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("INOVASI_REDIS_URL", "redis://127.0.0.1:6379/0")


def unique_suffix() -> str:
    """Short, lowercase, starts with a letter: usable in schema and stream names."""
    return "t" + secrets.token_hex(4)


async def drop_schema(dsn: str, schema: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


async def delete_keys(redis: Redis, prefix: str) -> int:
    """Delete every key starting with `prefix` (a test's streams and their DLQs)."""
    assert prefix, "refusing to delete every key"
    keys = [key async for key in redis.scan_iter(match=f"{prefix}*", count=500)]
    if keys:
        await redis.delete(*keys)
    return len(keys)


async def wait_until(
    condition: Callable[[], Awaitable[Any]], *, timeout: float = 10.0, interval: float = 0.05
) -> Any:
    """Poll `condition` until it returns something truthy; AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        result = await condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {result!r})")
        await asyncio.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A private redis-server on its own port, which a test may stop and start again
    (the machine's shared Redis must never be stopped by a test); AOF persistence on request."""

    def __init__(self, port: int | None = None, *, appendonly: bool = False) -> None:
        self.port = port or free_port()
        # With AOF the streams and consumer groups survive a stop and start, as in
        # production (deploy/ runs Redis with AOF on).
        self.appendonly = appendonly
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = tempfile.mkdtemp(prefix="inovasi-redis-")
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 5.0) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server not found on PATH")
        self._proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "always",
             "--dir", self._dir],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    @property
    def running(self) -> bool:
        return self._proc is not None

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)
