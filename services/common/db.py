"""asyncpg pool factory and the plain-SQL migration runner.

Each service owns one PostgreSQL schema. Its pool sets `search_path` to that schema, so the
service's SQL and the shared plumbing (`outbox`, `inbox`) use unqualified table names.

Pooled connections carry no session state: a LISTEN or a session advisory lock lives on a
dedicated connection (`WakeupListener`, `migrate`), locks taken on a pooled connection are
transaction locks (`pg_advisory_xact_lock`), settings are `SET LOCAL`
(tests/unit/common/test_pooled_connections.py holds the code to this). So releasing a
connection to the pool costs no round trip, where asyncpg's default reset sends
`pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` every time (one round trip per
release: per request, per consumer transaction, per relay round): asyncpg still rolls back a
transaction left open, and a connection that did LISTEN is sent `UNLISTEN *`
(`reset_on_release`).

Migrations: a package of numbered `NNN_name.sql` files per service. `migrate()` first
applies the shared plumbing files of `services/common/sql/` (recorded as `common/NNN_name`),
then the service's files, each file in its own transaction, under a session advisory lock
held on one dedicated connection for the whole run, so processes starting together apply
each file exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import time
from dataclasses import dataclass
from importlib import resources
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy  # noqa: F401  (named in the Connection alias)

from services.common.logging import get_logger

if TYPE_CHECKING:
    from services.common.settings import Settings

log = get_logger(__name__)

# What queries run on: a connection from a pool (a proxy of one), or a plain one. An alias
# in a string, because the classes are generic only in their type stubs.
Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"

SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,49}$")
MIGRATION_FILE = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
PLUMBING_PACKAGE = "services.common.sql"


def check_schema_name(schema: str) -> str:
    # Schema names are interpolated into SQL and NOTIFY channels; allow only plain names.
    if not SCHEMA_NAME.match(schema):
        raise ValueError(f"invalid schema name {schema!r}: use [a-z_][a-z0-9_]*, max 50 chars")
    return schema


async def _init_connection(conn: asyncpg.Connection) -> None:
    # Without a codec jsonb comes back as str. `json` columns stay text on purpose: the
    # outbox keeps the exact wire JSON there.
    await conn.set_type_codec(
        "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
    )


class PooledConnection(asyncpg.Connection):
    """A pool's connection, which remembers whether it ever LISTENed (see `reset_on_release`)."""

    _listened = False

    async def add_listener(self, channel: str, callback: Any) -> None:
        self._listened = True
        await super().add_listener(channel, callback)


async def reset_on_release(conn: asyncpg.Connection) -> None:
    """The pool's reset, after asyncpg's own (which rolls back an open transaction and drops
    listener callbacks): nothing to send, unless the connection LISTENed (then one
    `UNLISTEN *`). Pooled connections hold no other session state (see the module's
    docstring)."""
    if isinstance(conn, PooledConnection) and conn._listened:
        conn._listened = False
        await conn.execute("UNLISTEN *")


# What a query raises when PostgreSQL cannot be reached (down, restarting, refusing
# connections, a connection cut midway, no connection free in time) — as opposed to a query
# that PostgreSQL answered with an error.
OUTAGE_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
)


class BoundedPool(asyncpg.Pool):
    """A pool whose `acquire()` gives up after `acquire_timeout` unless told otherwise: with
    PostgreSQL down, a request learns so within seconds instead of queueing for ever."""

    acquire_timeout: float | None = None

    def acquire(self, *, timeout: float | None = None) -> Any:
        return super().acquire(timeout=timeout if timeout is not None else self.acquire_timeout)


async def create_pool(
    dsn: str,
    schema: str | None = None,
    *,
    min_size: int = 2,
    max_size: int = 10,
    command_timeout: float | None = 30.0,
    connect_timeout: float = 60.0,
    acquire_timeout: float | None = None,
    **kwargs: Any,
) -> asyncpg.Pool:
    """A pool whose connections decode jsonb and, given `schema`, resolve names in it.

    search_path is a connection startup setting, so it survives the `RESET ALL` asyncpg
    runs when a connection goes back to the pool.
    """
    server_settings = dict(kwargs.pop("server_settings", {}) or {})
    if schema is not None:
        server_settings["search_path"] = check_schema_name(schema)
    pool = BoundedPool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        max_queries=50_000,  # asyncpg's defaults
        max_inactive_connection_lifetime=300.0,
        loop=None,
        connection_class=PooledConnection,
        record_class=asyncpg.Record,
        reset=reset_on_release,
        command_timeout=command_timeout,
        timeout=connect_timeout,
        init=_init_connection,
        server_settings=server_settings,
        **kwargs,
    )
    pool.acquire_timeout = acquire_timeout
    await pool
    return pool


async def pool_from_settings(settings: Settings, service: str) -> asyncpg.Pool:
    """The pool of `service`'s schema, sized and timed by settings."""
    return await create_pool(
        settings.database_url,
        settings.schema_of(service),
        min_size=settings.pg_pool_min,
        max_size=settings.pg_pool_max,
        command_timeout=settings.pg_command_timeout_s,
        connect_timeout=settings.pg_connect_timeout_s,
        acquire_timeout=settings.pg_acquire_timeout_s,
    )


# --- migrations --------------------------------------------------------------------------


@dataclass(frozen=True)
class Migration:
    version: str  # key in schema_migrations, e.g. "001_initial" or "common/001_outbox_inbox"
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(package: str | ModuleType, *, label: str = "") -> list[Migration]:
    """The `NNN_name.sql` files of a package, in number order; other files are ignored."""
    found: list[tuple[int, Migration]] = []
    seen: dict[int, str] = {}
    for entry in resources.files(package).iterdir():
        match = MIGRATION_FILE.match(entry.name)
        if not match:
            continue
        number = int(match.group(1))
        if number in seen:
            raise ValueError(f"migrations {seen[number]} and {entry.name} share number {number:03d}")
        seen[number] = entry.name
        version = f"{label}/{entry.name[:-4]}" if label else entry.name[:-4]
        found.append((number, Migration(version, entry.read_text(encoding="utf-8"))))
    return [migration for _, migration in sorted(found, key=lambda item: item[0])]


def _lock_key(schema: str) -> int:
    # One lock per schema: services migrate in parallel, two copies of one service do not.
    digest = hashlib.sha256(f"inovasi.migrate:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def migrate(dsn: str, schema: str, package: str | ModuleType | None) -> list[str]:
    """Create `schema`, apply pending plumbing and service migrations; return the versions
    applied now (empty when up to date). Raises if an applied file was edited since."""
    check_schema_name(schema)
    migrations = load_migrations(PLUMBING_PACKAGE, label="common")
    if package is not None:
        migrations += load_migrations(package)

    conn = await asyncpg.connect(dsn)
    try:
        # Session lock on this dedicated connection: released when it closes, even on crash.
        await conn.execute("SELECT pg_advisory_lock($1)", _lock_key(schema))
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        await conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
                    version    text PRIMARY KEY,
                    checksum   text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        # Files use unqualified names: they land in the service's schema.
        await conn.execute(f"SET search_path TO {schema}")
        applied = {
            row["version"]: row["checksum"]
            for row in await conn.fetch("SELECT version, checksum FROM schema_migrations")
        }
        done: list[str] = []
        for migration in migrations:
            if migration.version in applied:
                if applied[migration.version] != migration.checksum:
                    raise RuntimeError(
                        f"migration {migration.version} of schema {schema} was changed after "
                        "it was applied; add a new migration instead"
                    )
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)",
                    migration.version,
                    migration.checksum,
                )
            log.info("migration applied", schema=schema, version=migration.version)
            done.append(migration.version)
        return done
    finally:
        await conn.close()


# --- wake-up hints -----------------------------------------------------------------------


class WakeupListener:
    """LISTEN on `channel` that sets `wakeup` on every NOTIFY. Only a hint: whoever waits
    on `wakeup` also polls, since NOTIFY is lost while nobody listens. LISTEN needs a
    dedicated connection (a pooled one is UNLISTENed on release); after it drops, `ensure()`
    reconnects, at most every 5 seconds."""

    RETRY_S = 5.0

    def __init__(self, dsn: str | None, channel: str, wakeup: asyncio.Event, *, owner: str) -> None:
        self.dsn = dsn  # None: polling only
        self.channel = channel
        self.wakeup = wakeup
        self.owner = owner  # for the log line
        self._conn: asyncpg.Connection | None = None
        self._tried_at = float("-inf")

    async def ensure(self) -> None:
        if self.dsn is None or (self._conn is not None and not self._conn.is_closed()):
            return
        if time.monotonic() - self._tried_at < self.RETRY_S:
            return
        self._tried_at = time.monotonic()
        try:
            conn = await asyncpg.connect(self.dsn)
            await conn.add_listener(self.channel, lambda *_: self.wakeup.set())
            conn.add_termination_listener(lambda _conn: self._forget())
            self._conn = conn
        except Exception as exc:  # polling still works without it
            log.info(f"{self.owner}: LISTEN unavailable, polling", error=repr(exc))

    def _forget(self) -> None:
        self._conn = None

    async def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None
