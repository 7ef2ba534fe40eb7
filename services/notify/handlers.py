"""Notify's use cases: one per event consumed, per command and query, and one delivery
attempt.

Events run inside the consumer's transaction (after the inbox check): they only INSERT
pending deliveries, so the alert commits with the inbox row — a crash never loses it and
a redelivered event never creates a second one. Sending is the delivery worker's job: it
claims due deliveries, calls `send_attempt` for each and stores what came of them with
`record_attempts` (`attempt_delivery` does both for one).
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

import asyncpg

from services.common.data.regions import load_regions
from services.common.db import Connection
from services.common.errors import Conflict, InvalidInput, NotFound
from services.common.events import Envelope, EvidenceRejected, ScoreUpdated
from services.common.ids import uuid7
from services.common.logging import get_logger
from services.common.principal import Principal, require_role
from services.notify.adapters import store
from services.notify.adapters.store import AttemptOutcome, ClaimedDelivery
from services.notify.adapters.webhook_sender import WebhookSender
from services.notify.dependencies import NotifyDeps
from services.notify.domain.commands import CreateSubscription, DeliveriesQuery, SubscriptionRef
from services.notify.domain.retry import AttemptResult, Outcome, outcome_of, retry_delay
from services.notify.domain.rules import (
    Notification,
    SeenScore,
    categories_of,
    dedupe_kinds,
    notifications_for_rejection,
    notifications_for_score,
    webhook_body,
)
from services.notify.domain.subscriptions import allowed_scope, check_webhook_target, matching_scopes
from services.notify.metrics import DELIVERIES_QUEUED, WEBHOOK_ATTEMPTS, WEBHOOK_SECONDS
from services.notify.views import (
    CreatedSubscription,
    DeliveryPage,
    SubscriptionList,
    delivery_view,
    subscription_view,
)

log = get_logger(__name__)


# --- events ------------------------------------------------------------------------------


async def _enqueue(conn: Connection, notified: Sequence[tuple[Envelope, Notification]]) -> int:
    """Pending deliveries for each (event, notification) that an active subscription of the
    event's scopes wants: a body is built only for those. Two statements at most."""
    regions = load_regions()
    scopes_of = {event.region: matching_scopes(event.region, regions) for event, _ in notified}
    wanted = await store.subscribed(conn, list({scope for scopes in scopes_of.values() for scope in scopes}))
    queued = []
    for event, notification in notified:
        scopes = [scope for scope in scopes_of[event.region] if (scope, notification.kind) in wanted]
        if scopes:
            queued.append(store.QueuedNotification(
                scopes=scopes,
                kind=notification.kind,
                event_id=event.event_id,
                event_type=event.type,
                cycle=event.cycle,
                region=event.region,
                body=webhook_body(event, notification),
            ))
    created = Counter(await store.enqueue_deliveries(conn, queued))
    # Counted before commit: a rolled-back transaction over-counts (metrics are hints). Every
    # kind notified is counted, with 0 too, so its series exists from the first event.
    for kind in {notification.kind for _, notification in notified}:
        DELIVERIES_QUEUED.labels(kind).inc(created[kind])
    return created.total()


async def handle_score_updates(events: Sequence[Envelope], conn: Connection) -> None:
    """A read's score.updated events, in stream order, as if handled one after the other:
    each is compared with the newest score seen of its region before it (in the database
    or earlier in the read). The regions are locked and read in one statement, the newest
    seen of each written in one, the deliveries queued in at most two."""
    scores = [event for event in events if isinstance(event, ScoreUpdated)]
    if len(scores) != len(events):  # subscribed to score.updated only
        raise TypeError(f"handle_score_updates got {sorted({e.type for e in events} - {'score.updated'})}")
    seen = await store.seen_scores_for_update(conn, [(e.cycle, e.region) for e in scores])
    newest: dict[store.SeenKey, store.NewestSeen] = {}
    notified: list[tuple[Envelope, Notification]] = []
    not_newer: list[str] = []
    for event in scores:
        key = (event.cycle, event.region)
        notifications = notifications_for_score(event, seen[key])
        if not notifications:
            not_newer.append(str(event.event_id))
            continue
        categories = categories_of(event)
        seen[key] = SeenScore(event.version, categories)
        newest[key] = store.NewestSeen(event.cycle, event.region, event.version, categories, event.event_id)
        notified += [(event, notification) for notification in notifications]
    if not_newer:
        log.info("scores not newer than the last one seen: nothing to send", event_ids=not_newer)
    if not notified:
        return
    await store.save_seen_scores(conn, list(newest.values()))
    created = await _enqueue(conn, notified)
    kinds_by_event: dict[str, list[str]] = {}
    for notified_event, notification in notified:
        kinds_by_event.setdefault(str(notified_event.event_id), []).append(notification.kind)
    log.info("deliveries queued", deliveries=created, kinds=kinds_by_event)


async def handle_evidence_rejected(event: Envelope, conn: Connection) -> None:
    if not isinstance(event, EvidenceRejected):  # subscribed to evidence.rejected only
        raise TypeError(f"handle_evidence_rejected got {event.type}")
    created = await _enqueue(conn, [(event, notification) for notification in notifications_for_rejection(event)])
    log.info("deliveries queued", kinds=["evidence.rejected"], deliveries=created)


# --- commands ----------------------------------------------------------------------------


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _admin_region(principal: Principal) -> str:
    """The region whose subscriptions the caller manages: only a region admin (of a region,
    or of a provinsi) has any; every other role — province admins and national principals,
    who read but manage nothing, included — is forbidden."""
    require_role(principal, "region_admin")
    return principal.home_region


async def create_subscription(
    deps: NotifyDeps, principal: Principal, command: CreateSubscription
) -> CreatedSubscription:
    """Subscribe a URL to kinds of alerts of the caller's region (or, for a provinsi's admin,
    its province). The URL must be public unless the settings allow private targets; a region
    has at most `notify_max_subscriptions_per_region`."""
    region = _admin_region(principal)
    settings = deps.settings
    if not settings.notify_allow_private_targets:
        try:
            check_webhook_target(command.url)
        except ValueError as exc:
            raise InvalidInput.at("body.url", str(exc)) from None
    allowed_scope(region, command.scope, load_regions())
    limit = settings.notify_max_subscriptions_per_region
    async with deps.pool.acquire() as conn, conn.transaction():
        await store.lock_owner(conn, region)
        if await store.count_active(conn, region) >= limit:
            raise Conflict.at(
                "body", f"region {region} already has {limit} subscriptions", code="limit_reached"
            )
        secret = new_secret()
        record = await store.insert_subscription(
            conn, id=uuid7(), owner_region=region, url=command.url, scope=command.scope,
            kinds=dedupe_kinds(command.kinds), secret=secret, created_by=principal.subject,
        )
    return CreatedSubscription(**subscription_view(record).model_dump(), secret=secret)


async def list_subscriptions(deps: NotifyDeps, principal: Principal) -> SubscriptionList:
    region = _admin_region(principal)
    async with deps.pool.acquire() as conn:
        records = await store.active_subscriptions(conn, region)
    return SubscriptionList(subscriptions=[subscription_view(r) for r in records])


async def delete_subscription(deps: NotifyDeps, principal: Principal, ref: SubscriptionRef) -> None:
    """Stop sending to it; its pending deliveries are cancelled, its log is kept."""
    region = _admin_region(principal)
    async with deps.pool.acquire() as conn, conn.transaction():
        if not await store.delete_subscription(conn, region, ref.subscription_id):
            raise NotFound.named(f"subscription {ref.subscription_id}")


async def list_deliveries(deps: NotifyDeps, principal: Principal, query: DeliveriesQuery) -> DeliveryPage:
    """The delivery log, newest first: what was sent (the body), to which subscription,
    every attempt with its time, HTTP status or error, and the outcome."""
    region = _admin_region(principal)
    async with deps.pool.acquire() as conn:
        subscription = query.subscription
        if subscription is not None and await store.subscription_of(conn, region, subscription) is None:
            raise NotFound.named(f"subscription {subscription}")
        records = await store.list_deliveries(
            conn, region, subscription_id=query.subscription, status=query.status,
            limit=query.limit, before=query.before,
        )
    return DeliveryPage(
        deliveries=[delivery_view(r) for r in records],
        next_before=records[-1].id if len(records) == query.limit else None,
    )


# --- delivery ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int
    backoff_initial_s: float
    backoff_max_s: float


async def send_attempt(
    sender: WebhookSender, claim: ClaimedDelivery, policy: DeliveryPolicy, *, now: float, jitter: float
) -> AttemptOutcome:
    """POST one claimed delivery, signed, and decide what comes of it (delivered, a retry
    after a backoff with jitter, failed); `record_attempts` stores it."""
    body = claim.body.encode("utf-8")
    headers = sender.headers(
        delivery_id=claim.id, event_id=str(claim.event_id), kind=claim.kind, secret=claim.secret, body=body, now=now
    )
    result = await sender.send(claim.url, body, headers)
    outcome = outcome_of(result, claim.attempt, policy.max_attempts)
    retry_in = (
        retry_delay(claim.attempt, initial_s=policy.backoff_initial_s, max_s=policy.backoff_max_s, jitter=jitter)
        if outcome == "retry"
        else None
    )
    return AttemptOutcome(claim, result, outcome, retry_in)


async def record_attempts(pool: asyncpg.Pool, attempts: Sequence[AttemptOutcome]) -> list[BaseException | None]:
    """Store the attempts and their consequences: all in one transaction, or, should that
    fail, each on its own (as `attempt_delivery` does). Returns, per attempt, None once it
    is stored, else what prevented it (the database is down: the lease brings the delivery
    back)."""
    try:
        async with pool.acquire() as conn, conn.transaction():
            await store.record_attempts(conn, attempts)
    except Exception:
        errors: list[BaseException | None] = []
        for attempt in attempts:
            try:
                await _record_one(pool, attempt)
            except Exception as exc:
                errors.append(exc)
            else:
                errors.append(None)
        return errors
    for attempt in attempts:
        _observed(attempt)
    return [None] * len(attempts)


async def attempt_delivery(
    pool: asyncpg.Pool,
    sender: WebhookSender,
    claim: ClaimedDelivery,
    policy: DeliveryPolicy,
    *,
    now: float,
    jitter: float,
) -> tuple[Outcome, AttemptResult]:
    """Send one claimed delivery and record the attempt and its consequence."""
    attempt = await send_attempt(sender, claim, policy, now=now, jitter=jitter)
    await _record_one(pool, attempt)
    return attempt.outcome, attempt.result


async def _record_one(pool: asyncpg.Pool, attempt: AttemptOutcome) -> None:
    claim, result, outcome, retry_in = attempt.claim, attempt.result, attempt.outcome, attempt.retry_in_s
    try:
        async with pool.acquire() as conn, conn.transaction():
            await store.record_attempt(conn, claim, result, outcome, retry_in)
    except Exception as exc:
        # E.g. something the receiver sent back was refused. Recording the outcome without
        # it beats leaving the delivery pending: its lease would run out and the webhook be
        # sent again, for ever, as even the last attempt's "failed" would never be stored.
        # A database that is down fails here too; then the lease brings the delivery back.
        log.warning("attempt not recorded as is; recording its outcome only", delivery=claim.id, error=repr(exc))
        attempt = replace(attempt, result=_outcome_only(result))
        async with pool.acquire() as conn, conn.transaction():
            await store.record_attempt(conn, claim, attempt.result, outcome, retry_in)
    _observed(attempt)


def _observed(attempt: AttemptOutcome) -> None:
    claim, result = attempt.claim, attempt.result
    WEBHOOK_ATTEMPTS.labels(claim.kind, attempt.outcome).inc()
    WEBHOOK_SECONDS.observe(result.duration_ms / 1000)
    log.info(
        "webhook attempt",
        delivery=claim.id, attempt=claim.attempt, kind=claim.kind, event_id=str(claim.event_id),
        outcome=attempt.outcome, http_status=result.http_status, error=result.describe(),
        retry_in_s=attempt.retry_in_s,
    )


def _outcome_only(result: AttemptResult) -> AttemptResult:
    """The attempt without anything the receiver sent: no excerpt, and for an error before
    any HTTP status (whose text may quote the receiver) a fixed text."""
    error = None if result.http_status is not None else "failed (the error text could not be stored)"
    return replace(result, error=error, response_excerpt=None)
