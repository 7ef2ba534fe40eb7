"""The demo retries what passes (503, 429, 409 with Retry-After, connection errors, timeouts)
with a bounded backoff that honours Retry-After, logs every retry and the giving up, and
never retries any other error. Against a real HTTP server on loopback."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from structlog.testing import capture_logs

from devtools.demo import Actor, DemoApi, DemoRequestError, RetryPolicy
from devtools.demo.client import is_transient
from tests.support.infra import free_port
from tests.support.servers import serve

OPERATOR = Actor("operator", "62.10", "demo-dinkes")
SECRET = "unit-" + "0123456789abcdef" * 4
FAST = RetryPolicy(attempts=4, first_delay_s=0.01, max_delay_s=0.05)


class NoWaitApi(DemoApi):
    """A DemoApi that records the waits between tries instead of sleeping them."""

    def __init__(self, client: httpx.AsyncClient, retry: RetryPolicy) -> None:
        super().__init__(client, SECRET, asyncio.Event(), retry)
        self.waits: list[float] = []

    async def pause(self, seconds: float) -> None:
        self.waits.append(seconds)


def flaky_app() -> tuple[Starlette, Counter[str]]:
    """Each path fails its own way a few times, then answers 201; `tries` counts requests."""
    tries: Counter[str] = Counter()

    def created() -> Response:
        return JSONResponse({"id": "created"}, status_code=201)

    async def unavailable_twice(request: Request) -> Response:
        tries["unavailable"] += 1
        if tries["unavailable"] <= 2:
            return JSONResponse({"error": "unavailable"}, status_code=503, headers={"Retry-After": "2"})
        return created()

    async def busy_once(request: Request) -> Response:
        tries["busy"] += 1
        return JSONResponse({"error": "too_many"}, status_code=429) if tries["busy"] == 1 else created()

    async def not_known_yet_once(request: Request) -> Response:
        tries["not_known_yet"] += 1
        if tries["not_known_yet"] == 1:
            return JSONResponse({"error": "innovation_not_known_yet"}, status_code=409, headers={"Retry-After": "1"})
        return created()

    async def slow_once(request: Request) -> Response:
        tries["slow"] += 1
        if tries["slow"] == 1:
            await asyncio.sleep(1.0)
        return created()

    def always(status: int, name: str):
        async def endpoint(request: Request) -> Response:
            tries[name] += 1
            return JSONResponse({"error": name}, status_code=status)

        return endpoint

    routes = [
        Route("/unavailable", unavailable_twice, methods=["POST"]),
        Route("/busy", busy_once, methods=["POST"]),
        Route("/not-known-yet", not_known_yet_once, methods=["POST"]),
        Route("/slow", slow_once, methods=["POST"]),
        Route("/conflict", always(409, "conflict"), methods=["POST"]),
        Route("/missing", always(404, "missing"), methods=["POST"]),
        Route("/invalid", always(422, "invalid"), methods=["POST"]),
        Route("/down", always(503, "down"), methods=["POST"]),
    ]
    return Starlette(routes=routes), tries


@asynccontextmanager
async def demo_api(base_url: str, retry: RetryPolicy = FAST) -> AsyncIterator[NoWaitApi]:
    async with httpx.AsyncClient(base_url=base_url, timeout=0.3) as client:
        yield NoWaitApi(client, retry)


@pytest.fixture
async def server() -> AsyncIterator[tuple[NoWaitApi, Counter[str]]]:
    app, tries = flaky_app()
    async with serve(app) as base_url, demo_api(base_url) as api:
        yield api, tries


def retries_logged(logs: list[dict]) -> list[dict]:
    return [line for line in logs if line["event"] == "demo request failed; retrying"]


async def test_a_503_is_retried_after_the_retry_after_the_server_asked_for(server) -> None:
    api, tries = server
    with capture_logs() as logs:
        response = await api.call(OPERATOR, "POST", "/unavailable", expect=(201,))
    assert response.status_code == 201 and tries["unavailable"] == 3
    assert api.waits == [0.05, 0.05]  # Retry-After: 2, bounded by the policy's longest wait
    first, second = retries_logged(logs)
    assert first["request"] == "POST /unavailable" and "503" in first["failure"]
    assert (first["attempt"], first["max_attempts"], first["retry_in_s"]) == (1, 4, 0.05)
    assert second["attempt"] == 2 and second["log_level"] == "warning"


async def test_retry_after_is_honoured_below_the_bound() -> None:
    app, tries = flaky_app()
    patient = RetryPolicy(attempts=3, first_delay_s=0.01, max_delay_s=5.0)
    async with serve(app) as base_url, demo_api(base_url, patient) as api:
        assert (await api.call(OPERATOR, "POST", "/unavailable", expect=(201,))).status_code == 201
        assert api.waits == [2.0, 2.0]
        assert (await api.call(OPERATOR, "POST", "/not-known-yet", expect=(201,))).status_code == 201
        assert api.waits[2:] == [1.0] and sum(tries.values()) == 5


@pytest.mark.parametrize("path", ["/busy", "/not-known-yet", "/slow"])
async def test_a_429_a_409_with_retry_after_and_a_timeout_are_retried(server, path: str) -> None:
    api, tries = server
    with capture_logs() as logs:
        assert (await api.call(OPERATOR, "POST", path, expect=(201,))).status_code == 201
    assert sum(tries.values()) == 2 and len(retries_logged(logs)) == 1
    if path == "/slow":
        assert "ReadTimeout" in retries_logged(logs)[0]["failure"]


@pytest.mark.parametrize("path, status", [("/conflict", 409), ("/missing", 404), ("/invalid", 422)])
async def test_other_client_errors_are_not_retried(server, path: str, status: int) -> None:
    api, tries = server
    with capture_logs() as logs, pytest.raises(DemoRequestError) as raised:
        await api.call(OPERATOR, "POST", path, expect=(201,))
    assert raised.value.status_code == status
    assert sum(tries.values()) == 1 and api.waits == [] and retries_logged(logs) == []


async def test_an_expected_409_is_an_answer_not_a_failure(server) -> None:
    api, tries = server
    assert (await api.call(OPERATOR, "POST", "/conflict", expect=(201, 409))).status_code == 409
    assert tries["conflict"] == 1


async def test_a_failure_that_does_not_pass_is_given_up_after_the_last_attempt(server) -> None:
    api, tries = server
    with capture_logs() as logs, pytest.raises(DemoRequestError) as raised:
        await api.call(OPERATOR, "POST", "/down", expect=(201,))
    assert raised.value.status_code == 503 and tries["down"] == FAST.attempts
    assert api.waits == [0.01, 0.02, 0.04]  # doubling from first_delay_s without a Retry-After
    assert len(retries_logged(logs)) == FAST.attempts - 1
    (given_up,) = [line for line in logs if line["event"] == "demo request failed; giving up"]
    assert given_up["attempts"] == FAST.attempts and given_up["log_level"] == "error"


async def test_a_connection_error_is_retried_then_given_up() -> None:
    nothing_listens = f"http://127.0.0.1:{free_port()}"
    async with demo_api(nothing_listens) as api:
        with capture_logs() as logs, pytest.raises(httpx.ConnectError):
            await api.call(OPERATOR, "GET", "/intake/v1/regions/62.10/agencies")
    assert len(api.waits) == FAST.attempts - 1
    assert all("ConnectError" in line["failure"] for line in retries_logged(logs))
    assert [line["event"] for line in logs][-1] == "demo request failed; giving up"


def test_the_backoff_doubles_is_bounded_and_takes_the_servers_word() -> None:
    policy = RetryPolicy(attempts=8, first_delay_s=0.5, max_delay_s=10.0)
    assert [policy.delay_s(n, None) for n in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert policy.delay_s(3, 1.0) == 1.0 and policy.delay_s(1, 3600.0) == 10.0


@pytest.mark.parametrize("status, headers, transient", [
    (503, {}, True), (429, {}, True), (409, {"Retry-After": "1"}, True),
    (409, {}, False), (404, {}, False), (422, {}, False), (412, {}, False), (500, {}, False),
])
def test_what_counts_as_transient(status: int, headers: dict[str, str], transient: bool) -> None:
    assert is_transient(httpx.Response(status, headers=headers)) is transient
