"""Configuration from environment variables (prefix ``INOVASI_``).

`Settings` holds what every service needs; a service subclasses it to add its own fields.
Because `inovasi up` runs all four services in one process with one environment, nothing
here is per-service: a service's schema and streams are derived from its name plus the
prefixes below, which is also how concurrent test runs keep apart.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# Postgres identifiers are unquoted in our SQL files, so keep schema names plain.
SCHEMA_PREFIX_PATTERN = r"^([a-z_][a-z0-9_]*)?$"
# Letters, digits and the separators a Redis Cluster hash tag needs ("{t1}.").
STREAM_PREFIX_PATTERN = r"^[A-Za-z0-9_.:{}-]*$"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INOVASI_", extra="ignore")

    # --- endpoints -----------------------------------------------------------------------
    database_url: str = "postgresql://root@127.0.0.1:5432/postgres"
    redis_url: str = "redis://127.0.0.1:6379/0"
    s3_endpoint: str = "127.0.0.1:9000"
    s3_access_key: str = "inovasi"
    s3_secret_key: SecretStr = SecretStr("inovasi-secret")
    s3_bucket: str = "inovasi-evidence"
    s3_region: str = "us-east-1"
    s3_secure: bool = False
    # Bounded, so that a storage server that hangs gets a 503 rather than a hung request.
    s3_connect_timeout_s: float = Field(2.0, gt=0)
    s3_read_timeout_s: float = Field(5.0, gt=0)
    # No default: a service that verifies tokens must refuse to start without one rather
    # than accept tokens signed with a well-known development secret.
    auth_secret: SecretStr | None = None
    # Where `inovasi serve` and `inovasi up` listen. Loopback unless said otherwise: the image,
    # compose and Kubernetes set 0.0.0.0.
    host: str = "127.0.0.1"

    # --- HTTP ----------------------------------------------------------------------------
    # Largest request body a route takes unless it says otherwise (evidence uploads take
    # INOVASI_EVIDENCE_MAX_UPLOAD_BYTES); checked before anything else, while streaming.
    max_request_body_bytes: int = Field(1024 * 1024, ge=1)
    # Retry-After of a 503 (a server the request needs is unreachable).
    unavailable_retry_after_s: int = Field(2, ge=1)
    # How long `?after_event=` waits for the event to be reflected.
    after_event_max_wait_s: float = Field(5.0, gt=0, le=30)
    # Lifetime of the upload grants intake hands out with each innovation.
    upload_grant_ttl_s: int = Field(3600, ge=60, le=7 * 24 * 3600)

    # --- Redis ---------------------------------------------------------------------------
    # Connections of the pool the service's requests share (the outbox relay, the consumers,
    # the revocations follower and the live feeds' readers each have their own).
    redis_max_connections: int = Field(100, ge=1)

    # --- live feeds (services/common/fanout.py) ----------------------------------------
    # Newest entries of a stream kept in memory per process: a client resuming after one of
    # them is served from memory, an older one from Redis.
    feed_ring_size: int = Field(2000, ge=1)
    # Events waiting to be sent to one client; a client that falls further behind is dropped
    # (it resumes with Last-Event-ID).
    feed_client_queue: int = Field(500, ge=1)

    # --- isolation -----------------------------------------------------------------------
    # Prepended to every stream name ("t1a2b." + "intake.events") and schema name
    # ("t1a2b_" + "intake"), so that test runs and demo instances can share servers.
    stream_prefix: str = Field("", pattern=STREAM_PREFIX_PATTERN)
    schema_prefix: str = Field("", pattern=SCHEMA_PREFIX_PATTERN, max_length=32)

    # --- logging -------------------------------------------------------------------------
    log_level: str = "INFO"
    log_json: bool = True
    # uvicorn's line per request: off, as the gateway in front (deploy/nginx.conf) logs each
    # request, the services log what each write changed, and request latencies are metrics.
    # It costs about 6 % of a service's CPU per request in a rush.
    access_log: bool = False

    # --- PostgreSQL ------------------------------------------------------------------------
    pg_pool_min: int = Field(2, ge=1)
    pg_pool_max: int = Field(10, ge=1)
    pg_command_timeout_s: float = Field(30.0, gt=0)
    # Bounded, so that a request finds out within seconds that PostgreSQL is unreachable.
    pg_connect_timeout_s: float = Field(2.0, gt=0)
    pg_acquire_timeout_s: float = Field(2.0, gt=0)

    # --- stream consumers ------------------------------------------------------------------
    # Entries fetched per XREADGROUP. They wait in this consumer's pending list until
    # handled, so reclaim_idle_ms must exceed max_records x the slowest handler. A consumer
    # that keeps up reads a few at a time; one that falls behind catches up in reads of up
    # to this many, each one transaction (scoring recomputes a region once per read): with
    # 20, `inovasi up` under wrk applied 460 answers/s and finished 2.5 s after the load;
    # with 100, 623/s, 0.1 s after.
    consumer_max_records: int = Field(100, ge=1)
    consumer_block_ms: int = Field(1000, ge=1)
    # >1 handles entries concurrently and so loses their order within the process.
    consumer_max_workers: int = Field(1, ge=1)
    # An entry pending this long is considered abandoned and re-delivered by the reclaimer.
    reclaim_idle_ms: int = Field(60_000, ge=1)
    reclaim_poll_ms: int = Field(5_000, ge=1)
    # Deliveries after which an entry goes to "<stream>.dlq" instead of the handler.
    max_deliveries: int = Field(5, ge=1)
    dlq_maxlen: int = Field(100_000, ge=1)
    # Consumers of earlier processes with nothing pending are deleted after this idle time.
    consumer_prune_idle_ms: int = Field(24 * 3600 * 1000, ge=1)
    # Time given to in-flight handlers on shutdown.
    graceful_timeout_s: float = Field(30.0, gt=0)

    # --- outbox relay ----------------------------------------------------------------------
    outbox_batch_size: int = Field(100, ge=1)
    # Polling fallback when no NOTIFY arrives (NOTIFY is only a hint).
    outbox_poll_s: float = Field(1.0, gt=0)
    # After a wake-up (a commit's NOTIFY), how long the relay lets more rows gather before it
    # publishes, so that one round carries the rows of many commits. 0: at once.
    outbox_coalesce_ms: int = Field(10, ge=0, le=1000)
    outbox_backoff_initial_s: float = Field(0.2, gt=0)
    outbox_backoff_max_s: float = Field(10.0, gt=0)
    # Published rows are kept this long for inspection, then deleted.
    outbox_retention_s: float = Field(7 * 24 * 3600, gt=0)
    # XADD MAXLEN ~ for event streams. None = never trim: trimming ignores consumer groups
    # and can delete entries a lagging group has not read yet.
    stream_maxlen: int | None = Field(None, ge=1)

    def require_auth_secret(self) -> str:
        """The secret, or an error saying how to set it: the services refuse to start without."""
        if self.auth_secret is None:
            raise RuntimeError("INOVASI_AUTH_SECRET is not set: the services refuse to start without it")
        return self.auth_secret.get_secret_value()

    def stream(self, name: str) -> str:
        """The Redis key of a logical stream ("intake.events") for this deployment."""
        return self.stream_prefix + name

    def schema_of(self, service: str) -> str:
        """The PostgreSQL schema owned by `service` for this deployment."""
        return self.schema_prefix + service
