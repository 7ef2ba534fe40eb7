"""A disabled account's tokens, and a revoked token, are refused within 5 s by a running
service (intake here: every service authenticates the same way), while other tokens keep
working; an account enabled again is honoured again; a service started later knows every
revocation before its first request."""

from __future__ import annotations

import time

import httpx
import pytest
from redis.asyncio import Redis

from services.common import events as ev
from services.common.settings import Settings
from services.common.tokens import issue_token
from services.intake.app import create_app
from tests.support import events as samples
from tests.support.infra import wait_until
from tests.support.platform import AUTH_SECRET, running, token

pytestmark = pytest.mark.integration
REGION = "62.10"
ACCOUNT = "acc-5d1e0c7a9b8f4e2d"
OTHER_ACCOUNT = "acc-77aa01"
WITHIN_S = 5.0
URL = f"/v1/regions/{REGION}/agencies"  # any authenticated request


def account_token(account: str, token_id: str | None, role: str = "region_admin") -> dict[str, str]:
    jwt = issue_token(AUTH_SECRET, role, REGION, subject=account, token_id=token_id)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {jwt}"}


async def publish(redis: Redis, settings: Settings, event: ev.BaseEnvelope) -> None:
    await redis.xadd(settings.stream(ev.WEB_STREAM), ev.to_entry(event))


async def answers_within(client: httpx.AsyncClient, headers: dict[str, str], status: int) -> httpx.Response:
    """The response once `status` is answered (within WITHIN_S seconds of now)."""
    started = time.monotonic()

    async def answered() -> httpx.Response | None:
        response = await client.get(URL, headers=headers)
        return response if response.status_code == status else None

    response = await wait_until(answered, timeout=WITHIN_S, interval=0.05)
    assert time.monotonic() - started < WITHIN_S
    return response


def account(type: str, version: int, status: str = "active") -> ev.AccountEnvelope:
    return samples.account(type, ACCOUNT, version=version,
                           data={"role": "region_admin", "agency": None, "status": status})


async def test_a_disabled_account_is_refused_within_5_s_and_honoured_again_once_enabled(settings, redis):
    first, second = account_token(ACCOUNT, "tok-a1"), account_token(ACCOUNT, "tok-a2")
    others = [account_token(OTHER_ACCOUNT, "tok-b1"), token("region_admin", REGION), token("viewer", REGION)]
    async with running(create_app(settings)) as client:
        await publish(redis, settings, account("account.created", 1))
        for headers in (first, second, *others):
            assert (await client.get(URL, headers=headers)).status_code == 200

        await publish(redis, settings, account("account.disabled", 2, "disabled"))
        refused = await answers_within(client, first, 401)
        assert refused.json() == {"error": "unauthorized", "reason": "account disabled"}
        assert refused.headers["WWW-Authenticate"] == 'Bearer realm="inovasi"'
        assert (await client.get(URL, headers=second)).status_code == 401  # every token of the account
        write = await client.post(URL, json={"id": "dinkes", "name": "Dinas Kesehatan"}, headers=second)
        assert write.status_code == 401  # writes too, before anything else
        for headers in others:
            assert (await client.get(URL, headers=headers)).status_code == 200

        await publish(redis, settings, account("account.updated", 3))  # active again
        await answers_within(client, first, 200)
        assert (await client.get(URL, headers=second)).status_code == 200


async def test_a_revoked_token_is_refused_within_5_s_and_the_accounts_other_tokens_are_not(settings, redis):
    revoked, kept = account_token(ACCOUNT, "tok-r1"), account_token(ACCOUNT, "tok-r2")
    async with running(create_app(settings)) as client:
        assert (await client.get(URL, headers=revoked)).status_code == 200
        await publish(redis, settings, samples.token_revoked("tok-r1", ACCOUNT))
        refused = await answers_within(client, revoked, 401)
        assert refused.json() == {"error": "unauthorized", "reason": "token revoked"}
        assert (await client.get(URL, headers=kept)).status_code == 200
        # Enabling the account again does not bring a revoked token back.
        await publish(redis, settings, account("account.updated", 5))
        await publish(redis, settings, samples.token_revoked("tok-r3", ACCOUNT))  # a marker after it
        await answers_within(client, account_token(ACCOUNT, "tok-r3"), 401)
        assert (await client.get(URL, headers=revoked)).status_code == 401


async def test_a_service_started_later_knows_every_revocation_at_once(settings, redis):
    await publish(redis, settings, account("account.created", 1))
    await publish(redis, settings, samples.token_revoked("tok-old", ACCOUNT))
    await publish(redis, settings, samples.account("account.disabled", OTHER_ACCOUNT, version=2,
                                                   data={"role": "viewer", "agency": None, "status": "disabled"}))
    await redis.xadd(settings.stream(ev.WEB_STREAM), {"__data__": "not an event"})  # skipped, not fatal
    async with running(create_app(settings)) as client:
        # The very first requests: no waiting.
        assert (await client.get(URL, headers=account_token(ACCOUNT, "tok-old"))).status_code == 401
        assert (await client.get(URL, headers=account_token(OTHER_ACCOUNT, None, "viewer"))).status_code == 401
        assert (await client.get(URL, headers=account_token(ACCOUNT, "tok-new"))).status_code == 200


async def test_a_revoked_operator_token_cannot_answer_through_the_fast_path(settings, redis):
    """The answer route's fast path (entrypoints/fast_answers.py) honours revocations as
    `authenticate` does: the revoked token is refused, the operator's other token answers."""
    jwt = issue_token(AUTH_SECRET, "operator", REGION, "dinkes", subject=ACCOUNT, token_id="tok-op1")
    revoked = {"Authorization": f"Bearer {jwt}"}
    kept_jwt = issue_token(AUTH_SECRET, "operator", REGION, "dinkes", subject=ACCOUNT, token_id="tok-op2")
    kept = {"Authorization": f"Bearer {kept_jwt}"}
    async with running(create_app(settings)) as client:
        registered = await client.post(
            URL, json={"id": "dinkes", "name": "Dinkes"}, headers=token("region_admin", REGION)
        )
        assert registered.status_code == 201, registered.text
        created = await client.post(
            "/v1/cycles/2026/innovations", json={"name": "Posyandu Digital", "urusan_utama": "kesehatan"},
            headers=revoked,
        )
        assert created.status_code == 201, created.text
        await publish(redis, settings, samples.token_revoked("tok-op1", ACCOUNT))
        await answers_within(client, revoked, 401)  # the revocation is followed

        answer = f"/v1/cycles/2026/innovations/{created.json()['id']}/answers/sid-16"
        refused = await client.put(answer, json={"level": 3}, headers={**revoked, "If-Match": '"1"'})
        assert (refused.status_code, refused.json()) == (401, {"error": "unauthorized", "reason": "token revoked"})
        accepted = await client.put(answer, json={"level": 3}, headers={**kept, "If-Match": '"1"'})
        assert accepted.status_code == 200, accepted.text
