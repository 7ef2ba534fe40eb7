"""The chooser of `inovasi up`: for each of PostgreSQL, Redis and S3, the configured one,
else a usable one on the standard local port, else an embedded one started here (see the
package's docstring for the details)."""

from __future__ import annotations

import atexit
import fcntl
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from devtools.embedded.postgres import EmbeddedPostgres
from devtools.embedded.probes import probe_postgres, probe_redis, probe_s3
from devtools.embedded.processes import HOST, EmbeddedError
from devtools.embedded.redis import EmbeddedRedis
from devtools.embedded.s3 import EmbeddedS3
from services.common.logging import get_logger

log = get_logger(__name__)

STANDARD_PORTS: Mapping[str, int] = {"postgres": 5432, "redis": 6379, "s3": 9000}
KINDS = ("postgres", "redis", "s3")
DEFAULT_DATA_DIR = ".inovasi"
# Same defaults as services.common.settings.Settings.
DEFAULT_S3_ACCESS_KEY = "inovasi"
DEFAULT_S3_SECRET_KEY = "inovasi-secret"


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


def _redact(url: str) -> str:
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


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
