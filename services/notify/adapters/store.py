"""The notify schema in raw SQL: subscriptions, the last score seen per region, and the
delivery log (deliveries and their attempts)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from services.common.db import Connection
from services.notify.domain.retry import AttemptResult, Outcome
from services.notify.domain.rules import SeenScore
from services.notify.domain.subscriptions import Scope
from services.notify.domain.text import pg_text

EXCERPT_CHARS = 500  # response_excerpt kept per attempt
ERROR_CHARS = 500  # error / last_error kept per attempt

# --- subscriptions -----------------------------------------------------------------------

SUBSCRIPTION_COLUMNS = "id, owner_region, url, scope_kind, scope_code, kinds, created_by, created_at"


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    id: UUID
    owner_region: str
    url: str
    scope: Scope
    kinds: tuple[str, ...]
    created_by: str
    created_at: datetime


def _subscription(row: asyncpg.Record) -> SubscriptionRecord:
    return SubscriptionRecord(
        id=row["id"], owner_region=row["owner_region"], url=row["url"],
        scope=Scope(row["scope_kind"], row["scope_code"]), kinds=tuple(row["kinds"]),
        created_by=row["created_by"], created_at=row["created_at"],
    )


async def lock_owner(conn: Connection, owner_region: str) -> None:
    """Serialise subscription changes of one region (for the per-region limit)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('notify.subscriptions:' || $1))", owner_region)


async def count_active(conn: Connection, owner_region: str) -> int:
    return int(await conn.fetchval(
        "SELECT count(*) FROM subscriptions WHERE owner_region = $1 AND deleted_at IS NULL", owner_region
    ))


async def insert_subscription(
    conn: Connection,
    *,
    id: UUID,
    owner_region: str,
    url: str,
    scope: Scope,
    kinds: Sequence[str],
    secret: str,
    created_by: str,
) -> SubscriptionRecord:
    row = await conn.fetchrow(
        f"""INSERT INTO subscriptions (id, owner_region, url, scope_kind, scope_code, kinds, secret, created_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            RETURNING {SUBSCRIPTION_COLUMNS}""",
        id, owner_region, url, scope.kind, scope.code, list(kinds), secret, created_by,
    )
    if row is None:  # INSERT … RETURNING always returns the row
        raise RuntimeError("subscription not inserted")
    return _subscription(row)


async def active_subscriptions(conn: Connection, owner_region: str) -> list[SubscriptionRecord]:
    rows = await conn.fetch(
        f"""SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions
            WHERE owner_region = $1 AND deleted_at IS NULL ORDER BY created_at, id""",
        owner_region,
    )
    return [_subscription(row) for row in rows]


async def subscription_of(conn: Connection, owner_region: str, id: UUID) -> SubscriptionRecord | None:
    """The subscription (deleted ones included, for their log) if `owner_region` owns it."""
    row = await conn.fetchrow(
        f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE id = $1 AND owner_region = $2",
        id, owner_region,
    )
    return _subscription(row) if row is not None else None


async def delete_subscription(conn: Connection, owner_region: str, id: UUID) -> bool:
    """Soft-delete an active subscription of `owner_region` and cancel its pending
    deliveries; False when there is no such active subscription."""
    status = await conn.execute(
        """UPDATE subscriptions SET deleted_at = now()
           WHERE id = $1 AND owner_region = $2 AND deleted_at IS NULL""",
        id, owner_region,
    )
    if status != "UPDATE 1":
        return False
    await conn.execute(
        """UPDATE deliveries SET status = 'cancelled', updated_at = now(),
                  last_error = coalesce(last_error, 'subscription deleted')
           WHERE subscription_id = $1 AND status = 'pending'""",
        id,
    )
    return True


# --- what notify saw of each region ------------------------------------------------------


SeenKey = tuple[int, str]  # (cycle, region)
NOTHING_SEEN_ID = "00000000-0000-0000-0000-000000000000"


async def seen_scores_for_update(conn: Connection, keys: Sequence[SeenKey]) -> dict[SeenKey, SeenScore | None]:
    """The newest score seen for each (cycle, region), row-locked for this transaction (two
    consumers handling the same region's scores take turns), in two statements whatever the
    number of regions. Rows are created and locked in sorted order, so two transactions with
    overlapping regions wait for each other instead of deadlocking."""
    ordered = sorted(set(keys))
    if not ordered:
        return {}
    cycles, regions = [cycle for cycle, _ in ordered], [region for _, region in ordered]
    await conn.execute(
        f"""INSERT INTO seen_scores (cycle, region, version, categories, event_id)
           SELECT k.cycle, k.region, 0, '{{}}'::jsonb, '{NOTHING_SEEN_ID}'
           FROM unnest($1::int[], $2::text[]) AS k(cycle, region)
           ORDER BY k.cycle, k.region
           ON CONFLICT DO NOTHING""",
        cycles, regions,
    )
    rows = await conn.fetch(
        """SELECT s.cycle, s.region, s.version, s.categories
           FROM seen_scores s JOIN unnest($1::int[], $2::text[]) AS k(cycle, region)
             ON s.cycle = k.cycle AND s.region = k.region
           ORDER BY s.cycle, s.region
           FOR UPDATE OF s""",
        cycles, regions,
    )
    seen: dict[SeenKey, SeenScore | None] = dict.fromkeys(ordered)
    for row in rows:  # version 0: the placeholder just inserted, nothing seen yet
        if row["version"] != 0:
            seen[(row["cycle"], row["region"])] = SeenScore(row["version"], row["categories"])
    return seen


@dataclass(frozen=True, slots=True)
class NewestSeen:
    """The newest score a read saw of a region, to record."""

    cycle: int
    region: str
    version: int
    categories: Mapping[str, str]
    event_id: UUID


async def save_seen_scores(conn: Connection, newest: Sequence[NewestSeen]) -> None:
    """Record the newest score seen of each region, in one statement (never going back)."""
    if not newest:
        return
    await conn.execute(
        """UPDATE seen_scores s SET version = n.version, categories = n.categories::jsonb, event_id = n.event_id
           FROM unnest($1::int[], $2::text[], $3::int[], $4::text[], $5::uuid[])
             AS n(cycle, region, version, categories, event_id)
           WHERE s.cycle = n.cycle AND s.region = n.region AND s.version < n.version""",
        [n.cycle for n in newest], [n.region for n in newest], [n.version for n in newest],
        [json.dumps(n.categories) for n in newest], [n.event_id for n in newest],
    )


# --- deliveries --------------------------------------------------------------------------


# A subscription's receiver as the delivery worker limits it: `scheme://authority` of its
# URL, as written (so "https://hooks.example.org" and "https://hooks.example.org:8443" are two).
# Stored with each delivery (deliveries.target, '' for a URL without one: see
# migrations/002_delivery_target.sql, whose trigger and backfill use the same expression).
TARGET_SQL = r"substring(s.url from '^[^:/?#]+://[^/?#]*')"


async def subscribed(conn: Connection, scopes: Sequence[Scope]) -> set[tuple[Scope, str]]:
    """(scope, kind) for each kind an active subscription of one of `scopes` wants: which
    notifications need a body and a delivery at all (most regions have no webhook)."""
    if not scopes:
        return set()
    rows = await conn.fetch(
        """SELECT DISTINCT s.scope_kind, s.scope_code, wanted.kind
           FROM subscriptions s JOIN unnest($1::text[], $2::text[]) AS scope(kind, code)
             ON s.scope_kind = scope.kind AND s.scope_code = scope.code
           CROSS JOIN unnest(s.kinds) AS wanted(kind)
           WHERE s.deleted_at IS NULL""",
        [scope.kind for scope in scopes], [scope.code for scope in scopes],
    )
    return {(Scope(row["scope_kind"], row["scope_code"]), row["kind"]) for row in rows}


@dataclass(frozen=True, slots=True)
class QueuedNotification:
    """One notification of one event, for the subscriptions of `scopes` that want its kind."""

    scopes: Sequence[Scope]
    kind: str
    event_id: UUID
    event_type: str
    cycle: int
    region: str
    body: str


async def enqueue_deliveries(conn: Connection, notifications: Sequence[QueuedNotification]) -> list[str]:
    """One pending delivery per notification and active subscription of its kind whose scope
    is one of its scopes, in one statement, in the notifications' order; none for a
    (subscription, event, kind) that already has one. Returns the kind of each created."""
    if not notifications:
        return []
    ords = range(len(notifications))
    scope_ords = [i for i, n in zip(ords, notifications, strict=True) for _ in n.scopes]
    scopes = [scope for n in notifications for scope in n.scopes]
    rows = await conn.fetch(
        f"""INSERT INTO deliveries (subscription_id, event_id, event_type, kind, cycle, region, body, target)
           SELECT s.id, n.event_id, n.event_type, n.kind, n.cycle, n.region, n.body, coalesce({TARGET_SQL}, '')
           FROM unnest($1::int[], $2::uuid[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[])
                  AS n(ord, event_id, event_type, kind, cycle, region, body)
           JOIN unnest($8::int[], $9::text[], $10::text[]) AS scope(ord, kind, code) ON scope.ord = n.ord
           JOIN subscriptions s ON s.scope_kind = scope.kind AND s.scope_code = scope.code
           WHERE s.deleted_at IS NULL AND n.kind = ANY (s.kinds)
           ORDER BY n.ord, s.created_at, s.id
           ON CONFLICT (subscription_id, event_id, kind) DO NOTHING
           RETURNING kind""",
        list(ords), [n.event_id for n in notifications], [n.event_type for n in notifications],
        [n.kind for n in notifications], [n.cycle for n in notifications], [n.region for n in notifications],
        [n.body for n in notifications],
        scope_ords, [scope.kind for scope in scopes], [scope.code for scope in scopes],
    )
    return [row["kind"] for row in rows]


# The receivers with pending deliveries, one index probe each (a skip scan of
# deliveries_target_due: PostgreSQL has no loose index scan of its own), ending in a NULL row.
_TARGETS_CTE = """targets (target) AS (
               (SELECT d.target FROM deliveries d WHERE d.status = 'pending' ORDER BY d.target LIMIT 1)
               UNION ALL
               SELECT (SELECT d.target FROM deliveries d
                        WHERE d.status = 'pending' AND d.target > t.target ORDER BY d.target LIMIT 1)
                 FROM targets t WHERE t.target IS NOT NULL
           )"""


@dataclass(frozen=True)
class ClaimedDelivery:
    id: int
    attempt: int  # the number of the attempt about to be made
    subscription_id: UUID
    event_id: UUID
    kind: str
    body: str
    url: str
    secret: str
    target: str = ""  # the receiver (deliveries.target, TARGET_SQL): whose concurrency limit applies


async def claim_due(
    conn: Connection,
    *,
    limit: int,
    lease_s: float,
    per_target: int | None = None,
    skip_targets: Sequence[str] = (),
) -> list[ClaimedDelivery]:
    """Claim up to `limit` due pending deliveries, oldest due first: each gets its next
    attempt number, an in-flight attempt row, and a lease (next_attempt_at moved past any
    attempt's length) so other workers skip it; a crashed worker's claim comes back when the
    lease ends. Attempts a crashed worker left in flight are marked abandoned. At most
    `per_target` deliveries per receiver, none for the receivers in `skip_targets` (those
    the caller is already busy with): a receiver with a long backlog takes its share, never
    the whole claim. Call in a transaction.

    Its cost grows with the number of receivers with pending deliveries, not with the
    backlog: the receivers come from a skip scan of deliveries_target_due, each one's first
    `per_target` due deliveries from its range of that index, and only those (at most
    receivers x per_target rows) are sorted, locked in that order (skipping locked ones)
    and cut to `limit`."""
    rows = await conn.fetch(
        f"""WITH RECURSIVE {_TARGETS_CTE},
           due AS (
               -- each receiver's oldest `per_target` due deliveries, from its index range
               SELECT c.id, c.next_attempt_at
                 FROM targets t
                 CROSS JOIN LATERAL (
                      SELECT d.id, d.next_attempt_at FROM deliveries d
                       WHERE d.target = t.target AND d.status = 'pending' AND d.next_attempt_at <= now()
                       ORDER BY d.next_attempt_at, d.id
                       LIMIT $3) c
                WHERE t.target IS NOT NULL AND NOT (t.target = ANY ($4::text[]))
           ), picked AS (
               -- those few by primary key (an id list, whatever the row estimates: never a
               -- scan of the table), locked oldest due first, the locked ones skipped
               SELECT d.id FROM deliveries d
                WHERE d.id = ANY (ARRAY(SELECT due.id FROM due))
                  AND d.status = 'pending' AND d.next_attempt_at <= now()
                ORDER BY d.next_attempt_at, d.id
                LIMIT $1
                FOR UPDATE SKIP LOCKED
           )
           UPDATE deliveries d
              SET attempts = d.attempts + 1,
                  next_attempt_at = now() + make_interval(secs => $2),
                  updated_at = now()
             FROM picked, subscriptions s
            WHERE d.id = picked.id AND s.id = d.subscription_id
        RETURNING d.id, d.attempts, d.subscription_id, d.event_id, d.kind, d.body, s.url, s.secret, d.target""",
        limit, float(lease_s), per_target if per_target is not None else limit, list(skip_targets),
    )
    if not rows:
        return []
    ids = [row["id"] for row in rows]
    await conn.execute(
        """UPDATE delivery_attempts
              SET outcome = 'abandoned', finished_at = now(),
                  error = 'no outcome recorded: the worker stopped during the attempt'
            WHERE delivery_id = ANY ($1::bigint[]) AND outcome = 'in_flight'""",
        ids,
    )
    await conn.executemany(
        "INSERT INTO delivery_attempts (delivery_id, attempt) VALUES ($1, $2)",
        [(row["id"], row["attempts"]) for row in rows],
    )
    claims = [
        ClaimedDelivery(
            id=row["id"], attempt=row["attempts"], subscription_id=row["subscription_id"],
            event_id=row["event_id"], kind=row["kind"], body=row["body"], url=row["url"], secret=row["secret"],
            target=row["target"] or "",
        )
        for row in rows
    ]
    claims.sort(key=lambda claim: claim.id)  # RETURNING's order is not the claim's
    return claims


async def release_claims(conn: Connection, claims: Sequence[ClaimedDelivery]) -> None:
    """Give back claims whose attempt was never made (the worker is stopping): no attempt
    row, the attempt number back, due now — for this or another worker."""
    await conn.executemany(
        "DELETE FROM delivery_attempts WHERE delivery_id = $1 AND attempt = $2 AND outcome = 'in_flight'",
        [(claim.id, claim.attempt) for claim in claims],
    )
    await conn.executemany(
        """UPDATE deliveries SET attempts = attempts - 1, next_attempt_at = now(), updated_at = now()
            WHERE id = $1 AND attempts = $2 AND status = 'pending'""",
        [(claim.id, claim.attempt) for claim in claims],
    )


@dataclass(frozen=True)
class AttemptOutcome:
    """What one attempt came to: to be stored with `record_attempts`."""

    claim: ClaimedDelivery
    result: AttemptResult
    outcome: Outcome
    retry_in_s: float | None


_RECORD_ATTEMPT = """UPDATE delivery_attempts
      SET finished_at = now(), duration_ms = $3, http_status = $4, error = $5,
          response_excerpt = $6, outcome = $7
    WHERE delivery_id = $1 AND attempt = $2"""
_MOVE_DELIVERY = """UPDATE deliveries
      SET status = $3,
          next_attempt_at = CASE WHEN $3 = 'pending' THEN now() + make_interval(secs => $4)
                                 ELSE next_attempt_at END,
          delivered_at = CASE WHEN $3 = 'delivered' THEN now() ELSE delivered_at END,
          last_http_status = $5, last_error = $6, updated_at = now()
    WHERE id = $1 AND attempts = $2 AND status = 'pending'"""


def _attempt_row(item: AttemptOutcome) -> tuple[Any, ...]:
    result = item.result
    return (
        item.claim.id, item.claim.attempt, result.duration_ms, result.http_status,
        pg_text(result.describe(), limit=ERROR_CHARS), pg_text(result.response_excerpt, limit=EXCERPT_CHARS),
        item.outcome,
    )


def _delivery_row(item: AttemptOutcome) -> tuple[Any, ...]:
    status = "pending" if item.outcome == "retry" else item.outcome
    return (
        item.claim.id, item.claim.attempt, status, float(item.retry_in_s or 0.0), item.result.http_status,
        pg_text(item.result.describe(), limit=ERROR_CHARS),
    )


async def record_attempts(conn: Connection, items: Sequence[AttemptOutcome]) -> None:
    """Store attempts' results and move their deliveries on (delivered, failed, or pending
    again at now + retry_in_s), two statements for all of them. A delivery is only moved if
    no later attempt was claimed meanwhile (a lease that ran out). The receiver's answer and
    the error text come from outside: they are stored without what PostgreSQL refuses (NUL,
    lone surrogates)."""
    await conn.executemany(_RECORD_ATTEMPT, [_attempt_row(item) for item in items])
    await conn.executemany(_MOVE_DELIVERY, [_delivery_row(item) for item in items])


async def record_attempt(
    conn: Connection,
    claim: ClaimedDelivery,
    result: AttemptResult,
    outcome: Outcome,
    retry_in_s: float | None,
) -> None:
    """`record_attempts` for one attempt."""
    item = AttemptOutcome(claim, result, outcome, retry_in_s)
    await conn.execute(_RECORD_ATTEMPT, *_attempt_row(item))
    await conn.execute(_MOVE_DELIVERY, *_delivery_row(item))


async def seconds_until_next_due(conn: Connection, skip_targets: Sequence[str] = ()) -> float | None:
    """Seconds until the earliest pending delivery is due (<= 0: due now), leaving out the
    receivers in `skip_targets`; None if none."""
    if not skip_targets:
        value = await conn.fetchval(
            "SELECT extract(epoch FROM min(next_attempt_at) - now()) FROM deliveries WHERE status = 'pending'"
        )
    else:
        # Per receiver, its earliest from the index: not a scan of a busy receiver's backlog.
        value = await conn.fetchval(
            f"""WITH RECURSIVE {_TARGETS_CTE}
                SELECT extract(epoch FROM min(first.next_attempt_at) - now())
                  FROM targets t
                  CROSS JOIN LATERAL (
                       SELECT d.next_attempt_at FROM deliveries d
                        WHERE d.target = t.target AND d.status = 'pending'
                        ORDER BY d.next_attempt_at LIMIT 1) first
                 WHERE t.target IS NOT NULL AND NOT (t.target = ANY ($1::text[]))""",
            list(skip_targets),
        )
    return None if value is None else float(value)


async def backlog(conn: Connection) -> tuple[int, int]:
    """(pending deliveries due now, all pending deliveries): for the backlog gauge, sampled
    on a timer, never on the delivery path."""
    row = await conn.fetchrow(
        """SELECT count(*) FILTER (WHERE next_attempt_at <= now()) AS due, count(*) AS pending
             FROM deliveries WHERE status = 'pending'"""
    )
    return (int(row["due"]), int(row["pending"])) if row is not None else (0, 0)


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    id: int
    subscription_id: UUID
    event_id: UUID
    event_type: str
    kind: str
    cycle: int
    region: str
    body: str  # the exact JSON text sent
    status: str
    attempts: int
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None
    next_attempt_at: datetime | None  # only while pending
    last_http_status: int | None
    last_error: str | None
    attempt_log: list[dict[str, Any]]  # every attempt, oldest first


async def list_deliveries(
    conn: Connection,
    owner_region: str,
    *,
    subscription_id: UUID | None,
    status: str | None,
    limit: int,
    before: int | None = None,
) -> list[DeliveryRecord]:
    """The region's deliveries, newest first, each with its attempts (oldest first)."""
    rows = await conn.fetch(
        """SELECT d.id, d.subscription_id, d.event_id, d.event_type, d.kind, d.cycle, d.region,
                  d.body, d.status, d.attempts, d.created_at, d.updated_at, d.delivered_at,
                  CASE WHEN d.status = 'pending' THEN d.next_attempt_at END AS next_attempt_at,
                  d.last_http_status, d.last_error,
                  coalesce((
                      SELECT json_agg(json_build_object(
                                 'attempt', a.attempt, 'started_at', a.started_at,
                                 'finished_at', a.finished_at, 'duration_ms', a.duration_ms,
                                 'http_status', a.http_status, 'error', a.error,
                                 'response_excerpt', a.response_excerpt, 'outcome', a.outcome)
                             ORDER BY a.attempt)::text
                      FROM delivery_attempts a WHERE a.delivery_id = d.id), '[]') AS attempt_log
             FROM deliveries d
             JOIN subscriptions s ON s.id = d.subscription_id
            WHERE s.owner_region = $1
              AND ($2::uuid IS NULL OR d.subscription_id = $2)
              AND ($3::text IS NULL OR d.status = $3)
              AND ($5::bigint IS NULL OR d.id < $5)
            ORDER BY d.id DESC
            LIMIT $4""",
        owner_region, subscription_id, status, limit, before,
    )
    return [DeliveryRecord(**{**dict(row), "attempt_log": json.loads(row["attempt_log"])}) for row in rows]
