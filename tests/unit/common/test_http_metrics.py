"""`inovasi_http_request_seconds` (services/common/http.py `RequestMetrics`): labelled with the
route's path template (never the raw path), `unmatched` when no route answered, the status
and the method; a streaming response is timed to its start, not its end."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.responses import StreamingResponse
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.routing import Mount

from services.common.http import UNMATCHED, RequestMetrics, create_service_app
from services.common.service import ServiceRuntime, ServiceSpec
from services.common.settings import Settings

STREAM_OPEN_S = 0.3  # how long the streaming route keeps its stream open after the first event


def count(service: str, route: str, method: str = "GET", status: str = "200") -> float:
    labels = {"service": service, "route": route, "method": method, "status": status}
    return REGISTRY.get_sample_value("inovasi_http_request_seconds_count", labels) or 0.0


def seconds(service: str, route: str, method: str = "GET", status: str = "200") -> float:
    labels = {"service": service, "route": route, "method": method, "status": status}
    return REGISTRY.get_sample_value("inovasi_http_request_seconds_sum", labels) or 0.0


def label_values(service: str, label: str) -> set[str]:
    return {
        sample.labels[label]
        for metric in REGISTRY.collect()
        if metric.name == "inovasi_http_request_seconds"
        for sample in metric.samples
        if sample.labels.get("service") == service and sample.name.endswith("_count")
    }


def tiny_app(service: str, seen_while_streaming: list[float]) -> FastAPI:
    router = APIRouter(prefix="/v1")

    @router.get("/cycles/{year}/regions/{code}/score")
    async def score(year: int, code: str) -> dict[str, object]:
        if code == "00.00":
            raise HTTPException(404, {"error": "not_found"})
        return {"year": year, "code": code}

    @router.get("/cycles/{year}/stream")
    async def stream(year: int) -> StreamingResponse:
        async def events() -> AsyncIterator[bytes]:
            yield b"data: first\n\n"
            # The response has started: it is counted already, while the stream stays open.
            seen_while_streaming.append(count(service, "/v1/cycles/{year}/stream"))
            await asyncio.sleep(STREAM_OPEN_S)
            yield b"data: last\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @router.post("/boom")
    async def boom() -> None:
        raise RuntimeError("handler bug")

    app = FastAPI()
    app.include_router(router)
    app.add_middleware(RequestMetrics, service=service)
    return app


@asynccontextmanager
async def client(app: object, base: str = "http://test") -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url=base) as http:
        yield http


def unique(name: str) -> str:
    return f"{name}-{secrets.token_hex(3)}"


async def test_a_route_is_labelled_with_its_template_and_status() -> None:
    service = unique("unit")
    async with client(tiny_app(service, [])) as http:
        assert (await http.get("/v1/cycles/2026/regions/62.10/score")).status_code == 200
        assert (await http.get("/v1/cycles/2026/regions/62.11/score")).status_code == 200
        assert (await http.get("/v1/cycles/2026/regions/00.00/score")).status_code == 404
        assert (await http.get("/v1/cycles/abc/regions/62.10/score")).status_code == 422
        assert (await http.post("/v1/cycles/2026/regions/62.10/score")).status_code == 405

    template = "/v1/cycles/{year}/regions/{code}/score"
    assert count(service, template) == 2
    assert count(service, template, status="404") == 1
    assert count(service, template, status="422") == 1
    assert count(service, template, method="POST", status="405") == 1
    assert label_values(service, "route") == {template}  # never a raw path


async def test_an_unknown_path_is_unmatched_and_an_odd_method_is_other() -> None:
    service = unique("unit")
    async with client(tiny_app(service, [])) as http:
        for n in range(3):
            assert (await http.get(f"/wp-admin/{n}.php")).status_code == 404
        assert (await http.request("BREW", "/v1/cycles/2026/regions/62.10/score")).status_code == 405

    assert count(service, UNMATCHED, status="404") == 3
    assert count(service, "/v1/cycles/{year}/regions/{code}/score", method="other", status="405") == 1
    assert label_values(service, "route") == {UNMATCHED, "/v1/cycles/{year}/regions/{code}/score"}


async def test_a_handler_that_raises_counts_as_500() -> None:
    service = unique("unit")
    async with client(tiny_app(service, [])) as http:
        assert (await http.post("/v1/boom")).status_code == 500

    assert count(service, "/v1/boom", method="POST", status="500") == 1


async def test_a_stream_is_timed_to_its_start_not_its_end() -> None:
    service, seen = unique("unit"), []
    loop = asyncio.get_running_loop()
    async with client(tiny_app(service, seen)) as http:
        began = loop.time()
        response = await http.get("/v1/cycles/2026/stream")
        took = loop.time() - began
    assert response.status_code == 200 and response.text.endswith("data: last\n\n")
    assert seen == [1.0]  # recorded when the headers went, before the stream ended
    assert took >= STREAM_OPEN_S
    assert seconds(service, "/v1/cycles/{year}/stream") < STREAM_OPEN_S / 2


async def test_every_service_app_records_its_routes_also_mounted_in_the_platform() -> None:
    service = unique("unit")
    settings = Settings(auth_secret="unit-" + "0123456789abcdef" * 4)

    @asynccontextmanager
    async def no_dependencies(_infrastructure: object) -> AsyncIterator[None]:
        yield None

    runtime: ServiceRuntime[None] = ServiceRuntime(
        ServiceSpec(name=service, migrations=None, dependencies=no_dependencies), settings
    )
    router = APIRouter(prefix="/v1")

    @router.get("/cycles/{year}")
    async def cycle(year: int) -> dict[str, int]:
        return {"year": year}

    app = create_service_app(runtime, [router], title="unit")  # the lifespan is not run
    # As `inovasi up` serves it: mounted under /<service> by a Starlette router, which
    # records its own Mount as the scope's route before the service's app is called.
    platform = Starlette(routes=[Mount(f"/{service}", app=app)])
    async with client(platform) as http:
        assert (await http.get(f"/{service}/v1/cycles/2026")).status_code == 200
        assert (await http.get(f"/{service}/healthz")).status_code == 200
        assert (await http.get(f"/{service}/openapi.json")).status_code == 200  # a plain Starlette route
        assert (await http.get(f"/{service}/docs-assets/swagger-ui.css")).status_code == 200  # a mount
        assert (await http.get(f"/{service}/nope")).status_code == 404
        refused = await http.post(f"/{service}/v1/cycles/2026", content=b"x" * (settings.max_request_body_bytes + 1))
        assert refused.status_code == 413  # before routing (its Content-Length)
    async with client(app) as http:  # alone, as `inovasi serve <service>` serves it
        assert (await http.get("/v1/cycles/2027")).status_code == 200
        assert (await http.get("/nope")).status_code == 404

    assert count(service, "/v1/cycles/{year}") == 2
    assert count(service, "/healthz") == 1
    assert count(service, "/openapi.json") == 1
    assert count(service, "/docs-assets/{path}") == 1
    assert count(service, UNMATCHED, status="404") == 2
    assert count(service, UNMATCHED, method="POST", status="413") == 1


@pytest.mark.parametrize("path", ["/v1/cycles/2026/regions/62.10/score", "/nope"])
async def test_overhead_per_request_is_a_few_microseconds(path: str) -> None:
    """The middleware's own cost, against an app that answers at once: printed (pytest -s)
    and bounded loosely, as the machine may be busy."""
    async def bare(scope: dict[str, object], receive: object, send: object) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]

    class Route:
        path = "/v1/cycles/{year}/regions/{code}/score"

    route = Route()

    async def routed(scope: dict[str, object], receive: object, send: object) -> None:
        if scope["path"] != "/nope":
            scope["route"] = route
        await bare(scope, receive, send)

    async def sink(_message: object) -> None:
        return None

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    timed = RequestMetrics(routed, service=unique("bench"))  # type: ignore[arg-type]
    rounds = 20_000

    async def run(app: object) -> float:
        started = time.perf_counter()
        for _ in range(rounds):
            scope = {"type": "http", "method": "GET", "path": path}
            await app(scope, receive, sink)  # type: ignore[operator]
        return (time.perf_counter() - started) / rounds

    bare_s = min([await run(routed) for _ in range(3)])
    timed_s = min([await run(timed) for _ in range(3)])
    overhead_us = (timed_s - bare_s) * 1e6
    print(f"RequestMetrics overhead for {path}: {overhead_us:.2f} µs per request")
    assert overhead_us < 50
