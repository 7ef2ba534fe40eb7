"""The notify service against real Redis, PostgreSQL and a real HTTP receiver on
127.0.0.1: subscriptions, events in, signed webhooks out, retries and the delivery log."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from uuid import UUID

import pytest
from redis.asyncio import Redis

from services.common import events as ev
from services.notify.adapters import store, webhook_sender
from services.notify.app import create_app
from services.notify.domain.signing import verify_signature
from services.notify.entrypoints.delivery_worker import DeliveryWorker
from services.notify.handlers import attempt_delivery
from tests.integration.notify.conftest import notify_settings
from tests.integration.notify.receiver import Received, WebhookReceiver
from tests.support import events as sample
from tests.support.infra import free_port, wait_until
from tests.support.platform import cleanup, running, token

pytestmark = pytest.mark.integration
REGION = "62.10"  # Kabupaten Gunung Mas, in Provinsi Kalimantan Tengah (62)
NEIGHBOUR = "62.01"
ADMIN = token("region_admin", REGION)


async def publish(redis: Redis, settings, *events: ev.Envelope) -> None:
    for event in events:
        await redis.xadd(settings.stream(ev.stream_of(event.producer)), ev.to_entry(event))


async def subscribe(client, url: str, kinds: list[str], *, scope: dict | None = None, region: str = REGION) -> dict:
    response = await client.post(
        "/v1/subscriptions",
        json={"url": url, "scope": scope or {"region": region}, "kinds": kinds},
        headers=token("region_admin", region),
    )
    assert response.status_code == 201, response.text
    return response.json()


async def deliveries(client, region: str = REGION, **params) -> list[dict]:
    response = await client.get("/v1/deliveries", params=params, headers=token("region_admin", region))
    assert response.status_code == 200, response.text
    return response.json()["deliveries"]


async def handled(app, *events: ev.Envelope) -> bool:
    """Every event has been through the consumer (its inbox row committed)."""
    async with app.state.runtime.pool.acquire() as conn:
        count = await conn.fetchval("SELECT count(*) FROM inbox WHERE event_id = ANY($1::uuid[])",
                                    [e.event_id for e in events])
    return count == len(events)


def score(version: int, validated: str = "inovatif", region: str = REGION) -> ev.ScoreUpdated:
    """A score.updated of `region` whose validated figure has category `validated`."""
    base = sample.score_updated(region=region, version=version)
    figure = base.data.validated.model_copy(update={"category": validated})
    return base.model_copy(update={"data": base.data.model_copy(update={"validated": figure})})


def assert_signed(request: Received, secret: str) -> dict:
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert headers["content-type"] == "application/json"
    assert verify_signature(
        secret, request.body, timestamp=headers["x-inovasi-timestamp"],
        signature=headers["x-inovasi-signature"], now=time.time(),
    )
    assert not verify_signature(
        "another-secret", request.body, timestamp=headers["x-inovasi-timestamp"],
        signature=headers["x-inovasi-signature"], now=time.time(),
    )
    body = json.loads(request.body)
    assert headers["x-inovasi-event-id"] == body["event_id"]
    assert headers["x-inovasi-kind"] == body["kind"]
    return body


async def test_score_update_reaches_the_receiver_signed_and_is_logged(settings, redis):
    app = create_app(settings)
    with WebhookReceiver([200]) as receiver:
        async with running(app) as client:
            sub = await subscribe(client, receiver.url, ["score.updated"])
            assert sub["secret"].startswith("whsec_") and sub["scope"] == {"region": REGION}
            event = sample.score_updated(region=REGION, version=1)
            elsewhere = sample.score_updated(region=NEIGHBOUR, version=1)
            await publish(redis, settings, elsewhere, event)

            got = await wait_until(lambda: _received(receiver, 1), timeout=10)
            body = assert_signed(got[0], sub["secret"])
            assert body["kind"] == "score.updated" and body["event_id"] == str(event.event_id)
            assert body["region"] == REGION and body["data"]["validated"]["iid"] == "40.01"
            assert ev.parse_event({k: v for k, v in body.items() if k != "kind"}) == event

            log = await wait_until(lambda: _with_status(client, "delivered"), timeout=5)
            assert len(log) == 1
            entry = log[0]
            assert entry["subscription"] == sub["id"] and entry["event_id"] == str(event.event_id)
            assert entry["attempt_count"] == 1 and entry["last_http_status"] == 200
            attempts = [(a["attempt"], a["http_status"], a["outcome"]) for a in entry["attempts"]]
            assert attempts == [(1, 200, "delivered")]
            assert entry["body"] == body and entry["delivered_at"] is not None
            await wait_until(lambda: handled(app, elsewhere, event))
            # the other region's score reached no one here
            assert len(receiver.received()) == 1 and len(await deliveries(client)) == 1
            metrics = (await client.get("/metrics")).text
            assert 'inovasi_notify_webhook_attempts_total{kind="score.updated",outcome="delivered"}' in metrics


async def test_a_receiver_failing_twice_gets_the_third_attempt(settings, redis):
    app = create_app(settings)
    with WebhookReceiver([500, 500, 200]) as receiver:
        async with running(app) as client:
            sub = await subscribe(client, receiver.url, ["score.updated"])
            await publish(redis, settings, sample.score_updated(region=REGION, version=1))

            log = await wait_until(lambda: _with_status(client, "delivered"), timeout=10)
            attempts = log[0]["attempts"]
            assert [(a["attempt"], a["http_status"], a["outcome"]) for a in attempts] == [
                (1, 500, "retry"), (2, 500, "retry"), (3, 200, "delivered"),
            ]
            assert attempts[0]["error"] == "receiver answered HTTP 500"
            assert "scripted failure" in attempts[0]["response_excerpt"]
            got = receiver.received()
            assert len(got) == 3
            # the same body every time, each attempt signed afresh
            assert len({r.body for r in got}) == 1
            assert len({r.headers["X-Inovasi-Delivery"] for r in got}) == 1
            for request in got:
                assert_signed(request, sub["secret"])
            # backoff: attempts are spaced, not sent back to back
            assert got[1].at - got[0].at >= 0.02


async def test_a_receiver_always_failing_ends_failed_after_max_attempts(settings, redis):
    app = create_app(settings)
    closed_port_url = f"http://127.0.0.1:{free_port()}/nobody-listens"
    with WebhookReceiver([503]) as receiver:
        async with running(app) as client:
            failing = await subscribe(client, receiver.url, ["score.updated"])
            unreachable = await subscribe(client, closed_port_url, ["score.updated"])
            await publish(redis, settings, sample.score_updated(region=REGION, version=1))

            async def both_failed():
                log = await _with_status(client, "failed") or []
                return log if len(log) == 2 else None

            log = {entry["subscription"]: entry for entry in await wait_until(both_failed, timeout=10)}
            answered = log[failing["id"]]
            assert [a["outcome"] for a in answered["attempts"]] == ["retry", "retry", "failed"]
            assert answered["attempt_count"] == 3 and answered["last_http_status"] == 503
            refused = log[unreachable["id"]]
            assert [a["outcome"] for a in refused["attempts"]] == ["retry", "retry", "failed"]
            assert all(a["http_status"] is None and "Connect" in a["error"] for a in refused["attempts"])
            await asyncio.sleep(0.5)  # nothing further is attempted
            assert len(receiver.received()) == 3


async def test_a_redelivered_event_is_delivered_once(settings, redis):
    app = create_app(settings)
    with WebhookReceiver([200]) as receiver:
        async with running(app) as client:
            await subscribe(client, receiver.url, ["score.updated", "evidence.rejected"])
            event = sample.score_updated(region=REGION, version=1)
            rejection = sample.evidence("evidence.rejected", version=2)
            await publish(redis, settings, event, rejection, event, rejection)
            await wait_until(lambda: handled(app, event, rejection))
            await wait_until(lambda: _received(receiver, 2), timeout=10)
            await asyncio.sleep(0.5)
            kinds = sorted(json.loads(r.body)["kind"] for r in receiver.received())
            assert kinds == ["evidence.rejected", "score.updated"]
            assert len(await deliveries(client)) == 2
            # redelivered entries are acknowledged: nothing is left pending in the group
            pending = await redis.xpending(settings.stream(ev.SCORING_STREAM), "notify")
            assert pending["pending"] == 0


async def test_category_changed_fires_only_on_an_actual_change(settings, redis):
    app = create_app(settings)
    with WebhookReceiver([200]) as receiver:
        async with running(app) as client:
            await subscribe(client, receiver.url, ["category.changed"])
            first = score(1, "inovatif")            # nothing seen before: no alert
            same = score(2, "inovatif")             # no change
            changed = score(3, "sangat_inovatif")   # a change
            stale = score(2, "kurang_inovatif")     # older than what was seen: ignored
            for event in (first, same, changed, stale, changed):
                await publish(redis, settings, event)
            await wait_until(lambda: handled(app, first, same, changed, stale))
            got = await wait_until(lambda: _received(receiver, 1), timeout=10)
            await asyncio.sleep(0.5)
            assert len(receiver.received()) == 1
            body = json.loads(got[0].body)
            assert body["kind"] == "category.changed" and body["event_id"] == str(changed.event_id)
            assert body["changes"] == [{"figure": "validated", "from": "inovatif", "to": "sangat_inovatif"}]
            log = await deliveries(client)
            assert [(d["kind"], d["event_id"]) for d in log] == [("category.changed", str(changed.event_id))]


async def test_evidence_rejections_are_delivered_and_acceptances_are_not(settings, redis):
    app = create_app(settings)
    with WebhookReceiver([204]) as receiver:
        async with running(app) as client:
            sub = await subscribe(client, receiver.url, ["evidence.rejected"])
            accepted = sample.evidence("evidence.accepted", "evd-ok", version=2)
            rejected = sample.evidence("evidence.rejected", "evd-bad", version=2)
            await publish(redis, settings, accepted, rejected, sample.score_updated(region=REGION, version=1))
            got = await wait_until(lambda: _received(receiver, 1), timeout=10)
            body = assert_signed(got[0], sub["secret"])
            assert body["kind"] == "evidence.rejected" and body["data"]["evidence_id"] == "evd-bad"
            assert body["data"]["reason"] == "halaman tanda tangan tidak terbaca"
            await wait_until(lambda: _with_status(client, "delivered"), timeout=5)
            await asyncio.sleep(0.3)
            assert len(receiver.received()) == 1  # not the acceptance, not the (unsubscribed) score


async def test_a_provinsi_admin_may_subscribe_to_its_province(settings, redis):
    app = create_app(settings)
    with WebhookReceiver([200]) as receiver:
        async with running(app) as client:
            sub = await subscribe(client, receiver.url, ["score.updated"], scope={"province": "62"}, region="62")
            assert sub["scope"] == {"province": "62"}
            await publish(
                redis, settings,
                sample.score_updated(region=REGION, version=1),
                sample.score_updated(region="62", version=1),
                sample.score_updated(region="63.01", version=1),  # another province
            )
            got = await wait_until(lambda: _received(receiver, 2), timeout=10)
            await asyncio.sleep(0.3)
            assert sorted(json.loads(r.body)["region"] for r in receiver.received()) == ["62", REGION]
            assert len(got) == 2
            # a kabupaten's admin may not subscribe to its province
            response = await client.post(
                "/v1/subscriptions",
                json={"url": receiver.url, "scope": {"province": "62"}, "kinds": ["score.updated"]},
                headers=ADMIN,
            )
            assert response.status_code == 403
            assert response.json()["problems"][0]["field"] == "body.scope.province"


async def test_tenancy_subscriptions_and_deliveries_stay_in_their_region(settings, redis):
    app = create_app(settings)
    with WebhookReceiver([200]) as receiver:
        async with running(app) as client:
            sub = await subscribe(client, receiver.url, ["score.updated"])
            await publish(redis, settings, sample.score_updated(region=REGION, version=1))
            await wait_until(lambda: _with_status(client, "delivered"), timeout=10)
            other = token("region_admin", NEIGHBOUR)

            assert (await client.get("/v1/subscriptions", headers=other)).json() == {"subscriptions": []}
            assert (await client.get("/v1/deliveries", headers=other)).json()["deliveries"] == []
            foreign = await client.get("/v1/deliveries", params={"subscription": sub["id"]}, headers=other)
            assert foreign.status_code == 404
            assert (await client.delete(f"/v1/subscriptions/{sub['id']}", headers=other)).status_code == 404
            in_our_region = {"url": receiver.url, "scope": {"region": REGION}, "kinds": ["score.updated"]}
            stolen = await client.post("/v1/subscriptions", json=in_our_region, headers=other)
            assert stolen.status_code == 403 and stolen.json()["problems"][0]["field"] == "body.scope.region"

            # Those who oversee the region read it elsewhere, but manage no subscriptions.
            overseers = [token("province_admin", "62"), token("national", None)]
            for headers in [token(role, REGION, agency) for role, agency in
                            (("operator", "dinkes"), ("viewer", None), ("verifier", None))] + overseers:
                assert (await client.get("/v1/subscriptions", headers=headers)).status_code == 403
                assert (await client.get("/v1/deliveries", headers=headers)).status_code == 403
                assert (await client.delete(f"/v1/subscriptions/{sub['id']}", headers=headers)).status_code == 403
                created = await client.post("/v1/subscriptions", json=in_our_region, headers=headers)
                assert created.status_code == 403
            assert (await client.get("/v1/subscriptions")).status_code == 401

            # the subscription survived all that
            listed = (await client.get("/v1/subscriptions", headers=ADMIN)).json()["subscriptions"]
            assert [s["id"] for s in listed] == [sub["id"]] and "secret" not in listed[0]
            # its owner deletes it: no more deliveries, its log stays readable
            assert (await client.delete(f"/v1/subscriptions/{sub['id']}", headers=ADMIN)).status_code == 204
            assert (await client.delete(f"/v1/subscriptions/{sub['id']}", headers=ADMIN)).status_code == 404
            assert (await client.get("/v1/subscriptions", headers=ADMIN)).json() == {"subscriptions": []}
            later = sample.score_updated(region=REGION, version=2)
            await publish(redis, settings, later)
            await wait_until(lambda: handled(app, later))
            assert len(await deliveries(client, subscription=sub["id"])) == 1
            assert len(receiver.received()) == 1


async def test_bad_input_is_a_422_naming_the_field_and_stores_nothing(settings):
    app = create_app(settings, consume=False)
    valid = {"url": "https://bapperinda.example.go.id/hook", "scope": {"region": REGION}, "kinds": ["score.updated"]}
    cases = [
        ({**valid, "url": "ftp://example.org/hook"}, "body.url", "scheme"),
        ({**valid, "url": "not a url"}, "body.url", ""),
        ({**valid, "url": "https:///no-host"}, "body.url", "host"),
        ({**valid, "url": 42}, "body.url", ""),
        ({**valid, "url": "https://exa\u200bmple.org/hook"}, "body.url", "IDNA"),
        ({**valid, "url": "https://xn--a.example/hook"}, "body.url", "'xn--a.example' is not a valid domain name"),
        ({**valid, "url": "https://a..example.org/hook"}, "body.url", "not a valid domain name (IDNA: empty label)"),
        ({**valid, "kinds": []}, "body.kinds", ""),
        ({**valid, "kinds": ["score.updated", "rank.moved"]}, "body.kinds[1]", ""),
        ({**valid, "kinds": "score.updated"}, "body.kinds", ""),
        ({**valid, "scope": {}}, "body.scope", "exactly one"),
        ({**valid, "scope": {"region": REGION, "province": "62"}}, "body.scope", "exactly one"),
        ({**valid, "scope": {"region": "Gunung Mas"}}, "body.scope.region", ""),
        ({**valid, "scope": {"region": "99.99"}}, "body.scope.region", "unknown"),
        ({**valid, "scope": {"city": REGION}}, "body.scope.city", ""),
        ({**valid, "secret": "mine"}, "body.secret", ""),
        ({k: v for k, v in valid.items() if k != "url"}, "body.url", ""),
    ]
    async with running(app) as client:
        for body, field, reason in cases:
            response = await client.post("/v1/subscriptions", json=body, headers=ADMIN)
            assert response.status_code == 422, (body, response.text)
            problems = response.json()["problems"]
            assert any(p["field"] == field and reason in p["reason"] for p in problems), (body, problems)
        not_json = await client.post(
            "/v1/subscriptions", content=b"{oops", headers={**ADMIN, "Content-Type": "application/json"}
        )
        assert not_json.status_code == 422
        queries = [
            ({"limit": 0}, "query.limit"),
            ({"limit": "many"}, "query.limit"),
            ({"status": "lost"}, "query.status"),
            ({"subscription": "not-a-uuid"}, "query.subscription"),
            ({"before": 2**64}, "query.before"),
        ]
        for params, field in queries:
            response = await client.get("/v1/deliveries", params=params, headers=ADMIN)
            assert response.status_code == 422 and response.json()["problems"][0]["field"] == field
        bad_id = await client.delete("/v1/subscriptions/123", headers=ADMIN)
        assert bad_id.status_code == 422 and bad_id.json()["problems"][0]["field"] == "path.subscription_id"
        assert (await client.delete(f"/v1/subscriptions/{UUID(int=1)}", headers=ADMIN)).status_code == 404
        assert (await client.get("/v1/subscriptions", headers=ADMIN)).json() == {"subscriptions": []}


async def test_subscriptions_per_region_are_capped():
    settings = notify_settings(notify_max_subscriptions_per_region=2)
    try:
        app = create_app(settings, consume=False, deliver=False)
        async with running(app) as client:
            body = {"url": "https://example.org/hook", "scope": {"region": REGION}, "kinds": ["score.updated"]}
            for _ in range(2):
                assert (await client.post("/v1/subscriptions", json=body, headers=ADMIN)).status_code == 201
            capped = await client.post("/v1/subscriptions", json=body, headers=ADMIN)
            assert capped.status_code == 409 and capped.json()["error"] == "limit_reached"
    finally:
        await cleanup(settings)


async def test_stopping_lets_an_attempt_in_flight_finish(settings, redis):
    app = create_app(settings)
    with WebhookReceiver([200], delay_s=0.7) as receiver:
        async with running(app) as client:
            await subscribe(client, receiver.url, ["score.updated"])
            await publish(redis, settings, sample.score_updated(region=REGION, version=1))
            await wait_until(lambda: _received(receiver, 1), timeout=10)
        # the runtime has stopped; the attempt it had in flight was answered and recorded
        async with running(create_app(settings, consume=False, deliver=False)) as client:
            log = await deliveries(client)
            assert log[0]["status"] == "delivered"
            assert [a["outcome"] for a in log[0]["attempts"]] == ["delivered"]


async def test_claims_skip_locked_rows_and_a_crashed_attempt_is_abandoned_then_retried(settings, redis):
    app = create_app(settings, deliver=False)
    with WebhookReceiver([200]) as receiver:
        async with running(app) as client:
            await subscribe(client, receiver.url, ["score.updated"])
            event = sample.score_updated(region=REGION, version=1)
            await publish(redis, settings, event)
            await wait_until(lambda: handled(app, event))
            runtime = app.state.runtime
            async with (
                runtime.pool.acquire() as first,
                runtime.pool.acquire() as second,
                first.transaction(),
            ):
                claimed = await store.claim_due(first, limit=10, lease_s=0)
                async with second.transaction():
                    # the row is locked by the first claim: a concurrent worker skips it
                    assert await store.claim_due(second, limit=10, lease_s=0) == []
            # the first "worker" dies here, its lease (0 s) already over
            assert [c.attempt for c in claimed] == [1]
            worker = DeliveryWorker(runtime.pool, settings, schema=runtime.schema)
            try:
                assert await worker.deliver_due() == 1
            finally:
                await worker.stop()
            log = await deliveries(client)
            assert log[0]["status"] == "delivered"
            assert [(a["attempt"], a["outcome"]) for a in log[0]["attempts"]] == [(1, "abandoned"), (2, "delivered")]
            assert len(receiver.received()) == 1


# --- answers PostgreSQL cannot store as sent -----------------------------------------------

NUL_ANSWER = b"ok\x00binary"


async def test_an_answer_with_a_nul_byte_is_logged_and_the_webhook_sent_once(settings, redis):
    app = create_app(settings)
    with WebhookReceiver([200], payload=NUL_ANSWER) as receiver:
        async with running(app) as client:
            await subscribe(client, receiver.url, ["score.updated"])
            await publish(redis, settings, sample.score_updated(region=REGION, version=1))

            log = await wait_until(lambda: _with_status(client, "delivered"), timeout=10)
            await asyncio.sleep(0.5)
            assert len(receiver.received()) == 1
            assert log[0]["attempt_count"] == 1 and log[0]["last_http_status"] == 200
            attempts = [
                (a["attempt"], a["http_status"], a["outcome"], a["response_excerpt"]) for a in log[0]["attempts"]
            ]
            assert attempts == [(1, 200, "delivered", "okbinary")]


async def _queue_one(app, client, redis, settings, url: str) -> None:
    await subscribe(client, url, ["score.updated"])
    event = sample.score_updated(region=REGION, version=1)
    await publish(redis, settings, event)
    await wait_until(lambda: handled(app, event))


async def _run_rounds(app, settings, rounds: int) -> None:
    """What the worker does, with leases that end at once (as if every attempt outlived
    its lease) and a wait for the backoff between rounds; attempts not recorded are
    logged and skipped, as the worker does."""
    runtime = app.state.runtime
    pool = runtime.pool
    worker = DeliveryWorker(pool, settings, schema=runtime.schema)  # not started: its sender and policy
    sender, policy = worker.sender, worker.policy
    try:
        for _ in range(rounds):
            async with pool.acquire() as conn, conn.transaction():
                claims = await store.claim_due(conn, limit=10, lease_s=0)
            for claim in claims:
                with contextlib.suppress(Exception):
                    await attempt_delivery(pool, sender, claim, policy, now=time.time(), jitter=1.0)
            await asyncio.sleep(settings.notify_backoff_max_s + 0.05)
    finally:
        await sender.aclose()


@pytest.mark.parametrize("status, final", [(200, "delivered"), (500, "failed")])
async def test_an_answer_with_a_nul_byte_is_never_sent_again_once_recorded(settings, redis, status, final):
    """Before, recording such an attempt failed, the delivery stayed pending and its
    lease brought it back: the webhook was POSTed again and again, past max_attempts."""
    app = create_app(settings, deliver=False)
    with WebhookReceiver([status], payload=NUL_ANSWER) as receiver:
        async with running(app) as client:
            await _queue_one(app, client, redis, settings, receiver.url)
            await _run_rounds(app, settings, settings.notify_max_attempts + 2)

            expected_posts = 1 if final == "delivered" else settings.notify_max_attempts
            assert len(receiver.received()) == expected_posts
            log = await deliveries(client)
            assert log[0]["status"] == final and log[0]["attempt_count"] == expected_posts
            assert {a["response_excerpt"] for a in log[0]["attempts"]} == {"okbinary"}


async def test_an_attempt_not_storable_as_is_is_stored_without_the_answer(settings, redis, monkeypatch):
    # As if the text cleaning missed something: the NUL reaches PostgreSQL, which refuses it.
    as_is = lambda value, limit=None: value  # noqa: E731
    monkeypatch.setattr(store, "pg_text", as_is)
    monkeypatch.setattr(webhook_sender, "pg_text", as_is)
    app = create_app(settings, deliver=False)
    with WebhookReceiver([200], payload=NUL_ANSWER) as receiver:
        async with running(app) as client:
            await _queue_one(app, client, redis, settings, receiver.url)
            runtime = app.state.runtime
            worker = DeliveryWorker(runtime.pool, settings, schema=runtime.schema)
            try:
                assert await worker.deliver_due() == 1
            finally:
                await worker.stop()
            log = await deliveries(client)
            assert log[0]["status"] == "delivered" and log[0]["last_http_status"] == 200
            assert [(a["http_status"], a["outcome"], a["response_excerpt"]) for a in log[0]["attempts"]] == [
                (200, "delivered", None),
            ]
            assert len(receiver.received()) == 1


# --- targets: public addresses only unless allowed -----------------------------------------

NON_PUBLIC = {
    "http://127.0.0.1:8080/hook": "loopback",
    "http://10.0.0.1/hook": "private",
    "http://[::1]:9000/hook": "loopback",
    "http://169.254.169.254/latest/meta-data/": "link-local",
    "http://localhost:8080/hook": "localhost",
    "http://127。0。0。1/hook": "127.0.0.1, which is not a public address (loopback)",
    "http://[2002:a00:1::1]/hook": "embedding 10.0.0.1 as 6to4",
    "http://[64:ff9b::a9fe:a9fe]/hook": "embedding 169.254.169.254 as NAT64",
}


async def test_subscriptions_to_non_public_targets_are_refused_unless_allowed():
    refusing = notify_settings(notify_allow_private_targets=False)
    allowing = notify_settings(notify_allow_private_targets=True)
    try:
        async with running(create_app(refusing, consume=False, deliver=False)) as client:
            for url, reason in NON_PUBLIC.items():
                body = {"url": url, "scope": {"region": REGION}, "kinds": ["score.updated"]}
                response = await client.post("/v1/subscriptions", json=body, headers=ADMIN)
                assert response.status_code == 422, (url, response.text)
                assert response.json()["error"] == "invalid_request"
                [problem] = response.json()["problems"]
                assert problem["field"] == "body.url" and reason in problem["reason"], (url, problem)
                assert "public addresses only" in problem["reason"]
            assert (await client.get("/v1/subscriptions", headers=ADMIN)).json() == {"subscriptions": []}
            public = {"url": "https://example.org/hook", "scope": {"region": REGION}, "kinds": ["score.updated"]}
            assert (await client.post("/v1/subscriptions", json=public, headers=ADMIN)).status_code == 201
        async with running(create_app(allowing, consume=False, deliver=False)) as client:
            for url in NON_PUBLIC:
                body = {"url": url, "scope": {"region": REGION}, "kinds": ["score.updated"]}
                response = await client.post("/v1/subscriptions", json=body, headers=ADMIN)
                assert response.status_code == 201, (url, response.text)
    finally:
        await cleanup(refusing)
        await cleanup(allowing)


async def test_an_attempt_to_a_non_public_address_is_refused_unsent_and_not_retried(settings, redis):
    # Subscribed while allowed (or before the rule existed); the worker refuses to send.
    app = create_app(settings.model_copy(update={"notify_allow_private_targets": True}), deliver=False)
    with WebhookReceiver([200]) as receiver:
        async with running(app) as client:
            by_name = receiver.url.replace("127.0.0.1", "localhost")  # resolved at send time
            for url in (receiver.url, by_name):
                await subscribe(client, url, ["score.updated"])
            event = sample.score_updated(region=REGION, version=1)
            await publish(redis, settings, event)
            await wait_until(lambda: handled(app, event))
            runtime = app.state.runtime
            refusing = settings.model_copy(update={"notify_allow_private_targets": False})
            worker = DeliveryWorker(runtime.pool, refusing, schema=runtime.schema)
            try:
                assert await worker.deliver_due() == 2
                await asyncio.sleep(settings.notify_backoff_max_s + 0.05)
                assert await worker.deliver_due() == 0  # failed at once: no retry
            finally:
                await worker.stop()
            log = await deliveries(client)
            assert [d["status"] for d in log] == ["failed", "failed"]
            for entry in log:
                [attempt] = entry["attempts"]
                assert attempt["outcome"] == "failed" and attempt["http_status"] is None
                assert attempt["response_excerpt"] is None
                assert attempt["error"].startswith("refused: ") and "loopback" in attempt["error"]
                assert entry["last_error"] == attempt["error"]
            assert any("localhost resolves to" in entry["attempts"][0]["error"] for entry in log)
            assert receiver.received() == []


async def _received(receiver: WebhookReceiver, n: int) -> list[Received] | None:
    got = receiver.received()
    return got if len(got) >= n else None


async def _with_status(client, status: str) -> list[dict] | None:
    log = [d for d in await deliveries(client) if d["status"] == status]
    return log or None
