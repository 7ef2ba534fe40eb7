"""The delivery worker against real receivers on 127.0.0.1 and PostgreSQL: a receiver that
hangs holds up nobody else, each receiver gets at most its share of attempts at once, and
retries still come with their backoff. Deliveries are written straight into the table (as
the consumer writes them), many at once."""

from __future__ import annotations

import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from services.notify.app import create_app
from services.notify.entrypoints.delivery_worker import DeliveryWorker
from tests.integration.notify.conftest import notify_settings
from tests.integration.notify.receiver import WebhookReceiver
from tests.support.infra import wait_until
from tests.support.platform import cleanup, running, token

pytestmark = pytest.mark.integration
REGION = "62.10"
ADMIN = token("region_admin", REGION)


@asynccontextmanager
async def notify_without_worker(**overrides: Any) -> AsyncIterator[tuple[Any, Any, Any]]:
    """The notify service (API only: no consumer, no worker of its own), its pool and
    settings with `overrides`; cleaned up after."""
    settings = notify_settings(notify_allow_private_targets=True, **overrides)
    app = create_app(settings, consume=False, deliver=False)
    try:
        async with running(app) as client:
            yield client, app.state.runtime, settings
    finally:
        await cleanup(settings)


async def subscribe(client: Any, url: str) -> str:
    body = {"url": url, "scope": {"region": REGION}, "kinds": ["score.updated"]}
    response = await client.post("/v1/subscriptions", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def queue(runtime: Any, subscription: str, count: int, *, due_seconds_ago: float = 0.0) -> None:
    """`count` pending deliveries for `subscription`, due `due_seconds_ago` (older: claimed first)."""
    async with runtime.pool.acquire() as conn:
        await conn.executemany(
            """INSERT INTO deliveries (subscription_id, event_id, event_type, kind, cycle, region, body,
                                       next_attempt_at)
               VALUES ($1, $2, 'score.updated', 'score.updated', 2026, $3, $4,
                       now() - make_interval(secs => $5))""",
            [
                (uuid.UUID(subscription), uuid.uuid4(), REGION, f'{{"n": {n}}}', due_seconds_ago)
                for n in range(count)
            ],
        )


async def statuses(runtime: Any, subscription: str) -> dict[str, int]:
    async with runtime.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT status, count(*) AS n FROM deliveries WHERE subscription_id = $1 GROUP BY status",
            uuid.UUID(subscription),
        )
    return {row["status"]: row["n"] for row in rows}


def received(receiver: WebhookReceiver, count: int) -> Callable[[], Awaitable[bool]]:
    async def enough() -> bool:
        return len(receiver.received()) >= count

    return enough


async def test_a_receiver_that_hangs_does_not_delay_the_others() -> None:
    hang = threading.Event()
    # Attempts to the hanging receiver outlast the whole test unless it is released.
    async with notify_without_worker(notify_webhook_timeout_s=60.0, notify_target_concurrency=2) as (
        client, runtime, settings,
    ):
        with (
            WebhookReceiver([200], hold=hang, keep_alive=True) as hanging,
            WebhookReceiver([200], keep_alive=True) as fast,
        ):
            stuck, quick = await subscribe(client, hanging.url), await subscribe(client, fast.url)
            # The hanging receiver's deliveries are the oldest: first in line.
            await queue(runtime, stuck, 10, due_seconds_ago=60)
            await queue(runtime, quick, 60)
            worker = DeliveryWorker(runtime.pool, settings, schema=runtime.schema)
            await worker.start()
            try:
                await wait_until(received(fast, 60), timeout=20)
                await wait_until(lambda: _all_delivered(runtime, quick, 60), timeout=10)
                # ...while the hanging receiver still holds its first attempts, no more than its share.
                assert 1 <= len(hanging.received()) <= 2 and hanging.busy >= 1
                hang.set()
                await wait_until(lambda: _all_delivered(runtime, stuck, 10), timeout=20)
            finally:
                hang.set()
                await worker.stop()
            assert hanging.most_busy <= 2
            assert len(hanging.received()) == 10 and len(fast.received()) == 60


async def _all_delivered(runtime: Any, subscription: str, count: int) -> bool:
    return await statuses(runtime, subscription) == {"delivered": count}


async def test_each_receiver_gets_at_most_its_share_of_attempts_at_once() -> None:
    async with notify_without_worker(notify_target_concurrency=3) as (client, runtime, settings):
        with (
            WebhookReceiver([200], delay_s=0.3, keep_alive=True) as first,
            WebhookReceiver([200], delay_s=0.3, keep_alive=True) as second,
        ):
            subscriptions = [await subscribe(client, first.url), await subscribe(client, second.url)]
            for subscription in subscriptions:
                await queue(runtime, subscription, 12)
            worker = DeliveryWorker(runtime.pool, settings, schema=runtime.schema)
            await worker.start()
            try:
                for subscription in subscriptions:
                    await wait_until(lambda s=subscription: _all_delivered(runtime, s, 12), timeout=30)
            finally:
                await worker.stop()
            # Never more than three at once per receiver, and the three were used.
            assert (first.most_busy, second.most_busy) == (3, 3)
            assert len(first.received()) == len(second.received()) == 12


async def test_failed_attempts_are_retried_with_backoff_until_delivered() -> None:
    async with notify_without_worker(notify_max_attempts=4) as (client, runtime, settings):
        with (
            WebhookReceiver([503, 500, 200], keep_alive=True) as flaky,
            WebhookReceiver([200], keep_alive=True) as steady,
        ):
            retried, other = await subscribe(client, flaky.url), await subscribe(client, steady.url)
            await queue(runtime, retried, 1)
            await queue(runtime, other, 20)
            worker = DeliveryWorker(runtime.pool, settings, schema=runtime.schema)
            await worker.start()
            try:
                await wait_until(lambda: _all_delivered(runtime, retried, 1), timeout=20)
                await wait_until(lambda: _all_delivered(runtime, other, 20), timeout=20)
            finally:
                await worker.stop()
            response = await client.get("/v1/deliveries", params={"subscription": retried}, headers=ADMIN)
            [delivery] = response.json()["deliveries"]
            attempts = [(a["attempt"], a["http_status"], a["outcome"]) for a in delivery["attempts"]]
            assert attempts == [(1, 503, "retry"), (2, 500, "retry"), (3, 200, "delivered")]
            # Each retry came after its backoff (at least half of initial x 2^(n-1), by the jitter rule).
            times = [request.at for request in flaky.received()]
            assert times[1] - times[0] >= settings.notify_backoff_initial_s / 2
            assert times[2] - times[1] >= settings.notify_backoff_initial_s
            assert len({request.headers["X-Inovasi-Delivery"] for request in flaky.received()}) == 1
