"""Probes of the standard local ports: is the PostgreSQL, Redis or S3 answering there one
that `inovasi up` can use as it is (a real login, PING, ListBuckets)?"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import getpass
import re
import socket
from typing import Any

from devtools.embedded.processes import port_answers
from devtools.embedded.redis import MIN_REDIS_VERSION


def _run_in_thread(fn: Any, *args: Any) -> Any:
    """Run fn(*args) in a fresh thread (so asyncio.run works under a running loop too)."""
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="inovasi-probe") as pool:
        return pool.submit(fn, *args).result()


def probe_postgres(host: str, port: int, timeout: float = 0.5) -> tuple[str | None, str]:
    """(usable URL or None, why). Tries a real login as the current OS user, then as
    ``postgres`` (password from PGPASSWORD / ~/.pgpass if any, as libpq would)."""
    if not port_answers(host, port, timeout):
        return None, f"nothing answers on {host}:{port}"
    if not _speaks_postgres(host, port, timeout):
        return None, f"{host}:{port} answers but not as PostgreSQL (no reply to an SSLRequest)"
    users: list[str] = []
    with contextlib.suppress(Exception):
        users.append(getpass.getuser())
    if "postgres" not in users:
        users.append("postgres")
    refusals = []
    for user in users:
        url = f"postgresql://{user}@{host}:{port}/postgres"
        try:
            _run_in_thread(asyncio.run, _postgres_login(url, max(timeout, 2.0)))
        except Exception as exc:  # noqa: BLE001 — every failure means "not usable"
            refusals.append(f"as {user}: {type(exc).__name__}: {exc}".strip())
            continue
        return url, f"answered on {host}:{port} as {user}"
    return None, f"{host}:{port} answers but refused a login ({'; '.join(refusals)})"


def _speaks_postgres(host: str, port: int, timeout: float) -> bool:
    """A PostgreSQL server answers an SSLRequest with one byte, S or N (E from very old
    ones), at once; other servers wait for more or answer otherwise."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall((8).to_bytes(4, "big") + (80877103).to_bytes(4, "big"))
            return s.recv(1) in (b"S", b"N", b"E")
    except OSError:
        return False


async def _postgres_login(url: str, timeout: float) -> None:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=timeout)
    try:
        await conn.fetchval("SELECT 1", timeout=timeout)
    finally:
        await conn.close(timeout=timeout)


def probe_redis(host: str, port: int, timeout: float = 0.5) -> tuple[str | None, str]:
    """(usable URL or None, why): PING without AUTH and a server version >= 6.2."""
    if not port_answers(host, port, timeout):
        return None, f"nothing answers on {host}:{port}"
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client = redis.Redis(
        host=host,
        port=port,
        socket_timeout=max(timeout, 1.0),
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),  # a probe, not a client that should ride out blips
    )
    try:
        info = client.info("server")
    except Exception as exc:  # noqa: BLE001
        return None, f"{host}:{port} answers but not as a usable Redis ({type(exc).__name__}: {exc})"
    finally:
        client.close()
    text = str(info.get("valkey_version") or info.get("redis_version") or "0")
    version = tuple(int(p) for p in re.findall(r"\d+", text)[:3]) or (0,)
    if version[:2] < MIN_REDIS_VERSION:
        return None, f"{host}:{port} answers with Redis {text}, older than 6.2 (no XAUTOCLAIM)"
    return f"redis://{host}:{port}/0", f"answered on {host}:{port}, version {text}"


def probe_s3(
    host: str, port: int, access_key: str, secret_key: str, *, secure: bool = False, timeout: float = 0.5
) -> tuple[str | None, str]:
    """(usable host:port or None, why): ListBuckets with these keys succeeds."""
    if not port_answers(host, port, timeout):
        return None, f"nothing answers on {host}:{port}"
    import urllib3
    from minio import Minio

    http = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=timeout, read=max(timeout, 2.0)), retries=False
    )
    try:
        Minio(
            f"{host}:{port}", access_key=access_key, secret_key=secret_key, secure=secure,
            http_client=http,
        ).list_buckets()
    except Exception as exc:  # noqa: BLE001
        return None, f"{host}:{port} answers but not as a usable S3 ({type(exc).__name__}: {exc})"
    finally:
        http.clear()
    return f"{host}:{port}", f"answered on {host}:{port}"
