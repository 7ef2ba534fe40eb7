"""The embedded servers of `inovasi up` and the choice between configured, local and
embedded ones — all against real servers: the machine's PostgreSQL and Redis on their
standard ports, and the embedded PostgreSQL / Valkey / moto S3 started here."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from minio import Minio
from redis.asyncio import Redis

from devtools.embedded import (
    EmbeddedError,
    EmbeddedPostgres,
    EmbeddedRedis,
    EmbeddedS3,
    EmbeddedServers,
    EmbeddedUnavailable,
    find_postgres,
    find_redis,
    free_port,
    port_answers,
    probe_postgres,
    probe_redis,
    probe_s3,
)

pytestmark = pytest.mark.integration

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parents[2]


def _require(finder) -> None:  # noqa: ANN001
    try:
        finder()
    except EmbeddedUnavailable as exc:
        pytest.skip(f"not installed here: {exc}")


def _require_machine_servers() -> None:
    if not (port_answers(HOST, 5432) and port_answers(HOST, 6379)):
        pytest.skip("the machine's PostgreSQL (5432) and Redis (6379) are not running")


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Not pytest's tmp_path: that lives under a 0700 directory, which the unprivileged
    # user PostgreSQL runs as (when the tests run as root) cannot enter.
    path = Path(tempfile.mkdtemp(prefix="inovasi-embedded-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _closed_port() -> int:
    port = free_port()
    assert not port_answers(HOST, port)
    return port


async def _pg_roundtrip(url: str) -> int:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        return await conn.fetchval("SELECT 41 + 1")
    finally:
        await conn.close()


def _s3_roundtrip(endpoint: str, bucket: str = "inovasi-evidence") -> bytes:
    client = Minio(endpoint, access_key="k", secret_key="s", secure=False)
    if not client.bucket_exists(bucket):
        client.make_bucket(bucket)
    body = b"%PDF-1.7 evidence"
    client.put_object(bucket, "a/b.pdf", io.BytesIO(body), len(body))
    response = client.get_object(bucket, "a/b.pdf")
    try:
        return response.read()
    finally:
        response.close()
        response.release_conn()


# --------------------------------------------------------------------------------------
# Each embedded server on its own
# --------------------------------------------------------------------------------------


async def test_embedded_postgres_serves_on_loopback_and_keeps_its_data(data_dir: Path) -> None:
    _require(find_postgres)
    pg = EmbeddedPostgres(data_dir)
    url = await asyncio.to_thread(pg.start)
    try:
        assert url.startswith(f"postgresql://postgres@{HOST}:")
        conn = await asyncpg.connect(url, timeout=10)
        try:
            await conn.execute("CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)")
            assert (await conn.fetchval("SHOW server_encoding")) == "UTF8"
        finally:
            await conn.close()
        # Probing it as a "standard port" server logs in (as postgres: there is no role
        # for this OS user in a fresh cluster, unless it is postgres itself).
        probed, why = await asyncio.to_thread(probe_postgres, HOST, pg.port)
        assert probed is not None and probed.endswith(f":{pg.port}/postgres"), why
    finally:
        await asyncio.to_thread(pg.stop)
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    assert not port_answers(HOST, port)
    assert not pg.running

    # A restart on the same data directory finds the table.
    url = await asyncio.to_thread(pg.start)
    try:
        conn = await asyncpg.connect(url, timeout=10)
        try:
            assert await conn.fetchval("SELECT sum(x) FROM kept") == 42
        finally:
            await conn.close()
    finally:
        await asyncio.to_thread(pg.stop)
    assert (data_dir / "postgres" / "PG_VERSION").exists()


async def test_embedded_redis_serves_streams_and_keeps_them_in_the_aof(data_dir: Path) -> None:
    _require(find_redis)
    server = EmbeddedRedis(data_dir)
    url = await asyncio.to_thread(server.start)
    try:
        redis = Redis.from_url(url)
        try:
            await redis.xgroup_create("s", "g", id="0", mkstream=True)
            entry = await redis.xadd("s", {"k": "v"})
            read = await redis.xreadgroup("g", "c1", {"s": ">"}, count=10)
            assert read[0][1][0][0] == entry
            # c1 "crashes": c2 reclaims the pending entry (XAUTOCLAIM, Redis 6.2+).
            await asyncio.sleep(0.02)
            claimed = await redis.xautoclaim("s", "g", "c2", min_idle_time=10, start_id="0-0")
            assert [e[0] for e in claimed[1]] == [entry]
            info = await redis.info("server")
        finally:
            await redis.aclose()
    finally:
        await asyncio.to_thread(server.stop)
    assert tuple(int(p) for p in info["redis_version"].split(".")[:2]) >= (6, 2)
    assert not port_answers(HOST, int(url.rsplit(":", 1)[1].split("/")[0]))

    url = await asyncio.to_thread(server.start)
    try:
        redis = Redis.from_url(url)
        try:
            assert await redis.xlen("s") == 1
            pending = await redis.xpending("s", "g")
            assert pending["pending"] == 1 and pending["consumers"][0]["name"] == b"c2"
        finally:
            await redis.aclose()
    finally:
        await asyncio.to_thread(server.stop)


async def test_embedded_s3_serves_the_minio_client_and_stops() -> None:
    try:
        import moto.server  # noqa: F401
    except ImportError:
        pytest.skip("moto's server is not installed")
    s3 = EmbeddedS3()
    endpoint = await asyncio.to_thread(s3.start)
    try:
        assert await asyncio.to_thread(_s3_roundtrip, endpoint) == b"%PDF-1.7 evidence"
    finally:
        await asyncio.to_thread(s3.stop)
    host, port = endpoint.split(":")
    assert not port_answers(host, int(port))


# --------------------------------------------------------------------------------------
# Probes
# --------------------------------------------------------------------------------------


def test_probes_reject_a_closed_port_and_a_server_of_the_wrong_kind() -> None:
    _require_machine_servers()
    closed = _closed_port()
    started = time.monotonic()
    assert probe_postgres(HOST, closed)[0] is None
    assert probe_redis(HOST, closed)[0] is None
    assert probe_s3(HOST, closed, "k", "s")[0] is None
    assert time.monotonic() - started < 2

    url, why = probe_postgres(HOST, 6379)  # a Redis there
    assert url is None and "not as PostgreSQL" in why
    url, why = probe_redis(HOST, 5432)  # a PostgreSQL there
    assert url is None and "not as a usable Redis" in why
    url, why = probe_s3(HOST, 6379, "k", "s")
    assert url is None and "not as a usable S3" in why


def test_probe_refuses_a_redis_that_wants_a_password() -> None:
    _require(find_redis)
    port = free_port()
    proc = subprocess.Popen(
        [str(find_redis().path), "--bind", HOST, "--port", str(port), "--save", "",
         "--appendonly", "no", "--requirepass", "secret"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not port_answers(HOST, port) and time.monotonic() < deadline:
            time.sleep(0.02)
        url, why = probe_redis(HOST, port)
        assert url is None and "Authentication" in why, why
    finally:
        proc.terminate()
        proc.wait(10)


# --------------------------------------------------------------------------------------
# The chooser
# --------------------------------------------------------------------------------------


def test_configured_endpoints_are_used_as_given_without_probing(data_dir: Path) -> None:
    servers = EmbeddedServers(
        data_dir / "unused",
        database_url="postgresql://app:s3cret@db.internal:6543/inovasi",
        redis_url="redis://cache.internal:6380/2",
        s3_endpoint="objects.internal:443",
        s3_access_key="AK",
        s3_secret_key="SK",
        s3_secure=True,
        standard_ports={"postgres": 5432, "redis": 6379, "s3": 9000},
    )
    with servers:
        endpoints = servers.start()
        assert endpoints.database_url == "postgresql://app:s3cret@db.internal:6543/inovasi"
        assert endpoints.redis_url == "redis://cache.internal:6380/2"
        assert (endpoints.s3_endpoint, endpoints.s3_access_key, endpoints.s3_secure) == (
            "objects.internal:443", "AK", True,
        )
        assert [c.source for c in servers.choices] == ["configured"] * 3
        assert servers.embedded == []
        assert "s3cret" not in servers.summary()
        assert endpoints.environment()["INOVASI_S3_SECURE"] == "true"
    assert not (data_dir / "unused").exists()  # nothing started, nothing written


def test_from_environment_reads_the_inovasi_variables(data_dir: Path) -> None:
    servers = EmbeddedServers.from_environment(
        data_dir,
        {"INOVASI_DATABASE_URL": "postgresql://x@h/db", "INOVASI_REDIS_URL": "", "INOVASI_S3_SECURE": "1"},
    )
    assert servers.configured == {"postgres": "postgresql://x@h/db", "redis": None, "s3": None}
    assert servers.s3_secure is True and servers.data_dir == data_dir
    assert EmbeddedServers.from_environment(environ={}).data_dir == Path.cwd() / ".inovasi"


async def test_servers_answering_on_the_standard_ports_are_used(data_dir: Path) -> None:
    _require_machine_servers()
    s3 = EmbeddedS3()  # stands in for a MinIO on the S3 "standard port"
    s3_endpoint = await asyncio.to_thread(s3.start)
    try:
        servers = EmbeddedServers(
            data_dir, standard_ports={"s3": int(s3_endpoint.split(":")[1])}
        )
        # Called on the event loop's thread on purpose: the PostgreSQL probe must not
        # need (or disturb) the running loop.
        endpoints = servers.start()
        try:
            assert [c.source for c in servers.choices] == ["local"] * 3
            assert servers.embedded == []
            assert f"@{HOST}:5432/" in endpoints.database_url
            assert endpoints.redis_url == f"redis://{HOST}:6379/0"
            assert endpoints.s3_endpoint == s3_endpoint
            assert await _pg_roundtrip(endpoints.database_url) == 42
            redis = Redis.from_url(endpoints.redis_url)
            try:
                assert await redis.ping()
            finally:
                await redis.aclose()
        finally:
            servers.stop()
    finally:
        await asyncio.to_thread(s3.stop)


async def test_embedded_servers_start_where_the_standard_ports_do_not_serve(data_dir: Path) -> None:
    _require_machine_servers()
    _require(find_postgres)
    _require(find_redis)
    servers = EmbeddedServers(
        data_dir,
        # A Redis where PostgreSQL is expected, a PostgreSQL where Redis is: both answer
        # but refuse; nothing at all on the S3 port.
        standard_ports={"postgres": 6379, "redis": 5432, "s3": _closed_port()},
    )
    with servers:
        endpoints = await asyncio.to_thread(servers.start)
        assert [(c.kind, c.source) for c in servers.choices] == [
            ("postgres", "embedded"), ("redis", "embedded"), ("s3", "embedded"),
        ]
        assert all(HOST in c.address for c in servers.choices)
        assert "PostgreSQL" in servers.choices[0].detail and "AOF" in servers.choices[1].detail
        ports = [int(p) for p in (
            endpoints.database_url.rsplit(":", 1)[1].split("/")[0],
            endpoints.redis_url.rsplit(":", 1)[1].split("/")[0],
            endpoints.s3_endpoint.split(":")[1],
        )]
        assert not {5432, 6379} & set(ports)

        assert await _pg_roundtrip(endpoints.database_url) == 42
        redis = Redis.from_url(endpoints.redis_url)
        try:
            await redis.xadd("inovasi.events", {"e": "1"})
            assert await redis.xlen("inovasi.events") == 1
        finally:
            await redis.aclose()
        assert await asyncio.to_thread(_s3_roundtrip, endpoints.s3_endpoint) == b"%PDF-1.7 evidence"

        # One process at a time per data directory.
        other = EmbeddedServers(data_dir, standard_ports={"postgres": _closed_port()},
                                redis_url="redis://x", s3_endpoint="x:1")
        with pytest.raises(EmbeddedError, match="another process"):
            await asyncio.to_thread(other.start)
        assert other.embedded == []
    assert servers.embedded == [] and servers.endpoints is None
    assert not any(port_answers(HOST, p) for p in ports)


_CHILD = """
import sys
from devtools.embedded import EmbeddedServers
servers = EmbeddedServers(sys.argv[1], s3_endpoint="127.0.0.1:1",
                          standard_ports={"postgres": int(sys.argv[2]), "redis": int(sys.argv[2])})
servers.start()
print("PIDS", *(s.pid for s in servers.embedded), flush=True)
sys.stdin.read()
"""


async def test_servers_left_running_by_a_killed_process_are_replaced(data_dir: Path) -> None:
    _require(find_postgres)
    _require(find_redis)
    closed = _closed_port()
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(data_dir), str(closed)],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    orphans: list[int] = []
    try:
        assert child.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = await asyncio.to_thread(child.stdout.readline)
            if not line or line.startswith("PIDS"):
                break
        assert line.startswith("PIDS"), "the child did not start its servers"
        orphans = [int(p) for p in line.split()[1:]]
        child.send_signal(signal.SIGKILL)  # no chance to stop its servers
        child.wait(10)
        assert all(_alive(pid) for pid in orphans)

        servers = EmbeddedServers(data_dir, s3_endpoint="127.0.0.1:1",
                                  standard_ports={"postgres": closed, "redis": closed})
        with servers:
            endpoints = await asyncio.to_thread(servers.start)
            assert not any(_alive(pid) for pid in orphans)
            assert await _pg_roundtrip(endpoints.database_url) == 42
            redis = Redis.from_url(endpoints.redis_url)
            try:
                assert await redis.ping()
            finally:
                await redis.aclose()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for pid in orphans:  # whatever happened above, leave nothing running
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
