"""The answer route's fast path (entrypoints/fast_answers.py) answers exactly as the FastAPI
route does: every request below goes to an intake app with the fast path and to one without
it, each on an innovation in the same state, and the two answers must be the same — status,
body (ids and times aside) and the headers a client reads. The well-formed ones must have
been served by the fast path, the others passed on to the route."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from services.common.http import create_service_app
from services.common.service import ServiceRuntime
from services.intake.app import SPEC
from services.intake.entrypoints import http
from services.intake.entrypoints.fast_answers import AnswerFastPath
from services.platform import create_platform_app
from tests.support.platform import running, token

from .helpers import ADMIN, OPERATOR, REGION, create_innovation, if_match, register_agency

pytestmark = pytest.mark.integration

OPERATOR_TOKEN = OPERATOR["Authorization"].removeprefix("Bearer ")
JSON = {"Content-Type": "application/json"}

DEEP = b'{"level": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
OTHER_TOKEN = token("operator", REGION, "bappeda")["Authorization"]

# (name, path suffix after the innovation, headers, body bytes, served by the fast path)
CASES: list[tuple[str, str, Any, bytes, bool]] = [
    ("answer", "answers/sid-16", {**if_match(1), **JSON}, b'{"level": 3}', True),
    ("cleared", "answers/sid-16", {**if_match(1), **JSON}, b'{"level": null}', True),
    ("weak etag", "answers/sid-16", {**OPERATOR, "If-Match": 'W/"1"', **JSON}, b'{"level": 2}', True),
    ("bare version", "answers/sid-16", {**OPERATOR, "If-Match": "1", **JSON}, b'{"level": 1}', True),
    ("charset", "answers/sid-16", {**if_match(1), "Content-Type": "application/json; charset=utf-8"},
     b'{"level": 3}', True),
    ("stale", "answers/sid-16", {**if_match(7), **JSON}, b'{"level": 3}', True),
    ("unknown indicator", "answers/sid-999", {**if_match(1), **JSON}, b'{"level": 3}', True),
    ("spd indicator", "answers/spd-01", {**if_match(1), **JSON}, b'{"level": 3}', True),
    ("whole float", "answers/sid-16", {**if_match(1), **JSON}, b'{"level": 3.0}', True),
    ("level 4", "answers/sid-16", {**if_match(1), **JSON}, b'{"level": 4}', False),
    ("level as text", "answers/sid-16", {**if_match(1), **JSON}, b'{"level": "3"}', False),
    ("level true", "answers/sid-16", {**if_match(1), **JSON}, b'{"level": true}', False),
    ("unknown field", "answers/sid-16", {**if_match(1), **JSON}, b'{"level": 3, "note": "x"}', False),
    ("no level", "answers/sid-16", {**if_match(1), **JSON}, b"{}", False),
    ("not json", "answers/sid-16", {**if_match(1), **JSON}, b"level=3", False),
    ("empty body", "answers/sid-16", {**if_match(1), **JSON}, b"", False),
    ("a list", "answers/sid-16", {**if_match(1), **JSON}, b"[3]", False),
    ("text/plain", "answers/sid-16", {**if_match(1), "Content-Type": "text/plain"}, b'{"level": 3}', False),
    ("no content type", "answers/sid-16", if_match(1), b'{"level": 3}', False),
    ("no If-Match", "answers/sid-16", {**OPERATOR, **JSON}, b'{"level": 3}', False),
    ("bad If-Match", "answers/sid-16", {**OPERATOR, "If-Match": "latest", **JSON}, b'{"level": 3}', False),
    ("no token", "answers/sid-16", {"If-Match": '"1"', **JSON}, b'{"level": 3}', False),
    ("bad token", "answers/sid-16", {"Authorization": "Bearer abc.def.ghi", "If-Match": '"1"', **JSON},
     b'{"level": 3}', False),
    ("basic auth", "answers/sid-16", {"Authorization": "Basic b3A6cHc=", "If-Match": '"1"', **JSON},
     b'{"level": 3}', False),
    ("two spaces", "answers/sid-16", {"Authorization": f"Bearer  {OPERATOR_TOKEN}", "If-Match": '"1"', **JSON},
     b'{"level": 3}', False),
    ("lower-case scheme", "answers/sid-16", {"Authorization": f"bearer {OPERATOR_TOKEN}", "If-Match": '"1"', **JSON},
     b'{"level": 3}', True),
    ("viewer", "answers/sid-16", {**token("viewer", REGION), "If-Match": '"1"', **JSON}, b'{"level": 3}', False),
    ("other agency", "answers/sid-16", {**if_match(1, token("operator", REGION, "bappeda")), **JSON},
     b'{"level": 3}', True),
    ("other region", "answers/sid-16", {**if_match(1, token("operator", "62.01", "dinkes")), **JSON},
     b'{"level": 3}', True),
    ("deeply nested", "answers/sid-16", {**if_match(1), **JSON}, DEEP, False),
    ("upper-case media type", "answers/sid-16", {**if_match(1), "Content-Type": "APPLICATION/JSON"},
     b'{"level": 3}', True),
    ("merge patch", "answers/sid-16", {**if_match(1), "Content-Type": "application/merge-patch+json"},
     b'{"level": 3}', False),
    ("two tokens", "answers/sid-16",
     [*OPERATOR.items(), ("Authorization", OTHER_TOKEN), ("If-Match", '"1"'), *JSON.items()], b'{"level": 3}', True),
    ("two versions", "answers/sid-16",
     [*OPERATOR.items(), ("If-Match", '"1"'), ("If-Match", '"5"'), *JSON.items()], b'{"level": 3}', True),
]


@pytest.fixture
async def route_only(settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Intake as it was: the FastAPI route alone, on the same database."""
    app = create_service_app(ServiceRuntime(SPEC, settings), [http.router], title="inovasi intake")
    async with running(app) as client:
        yield client


def fast_path_of(app: Any) -> AnswerFastPath:
    layer = app.middleware_stack
    while not isinstance(layer, AnswerFastPath):
        layer = layer.app
    return layer


def comparable(response: httpx.Response, innovation_id: str) -> dict[str, Any]:
    """The answer as a client sees it: every header but the date and the correlation id's
    value, and the body — byte for byte when it is a refusal; when it is the innovation,
    parsed, with what differs between any two innovations (ids, times, grants) set aside."""
    headers = {
        name: ("present" if name == "x-correlation-id" else value.replace(innovation_id, "<id>"))
        for name, value in response.headers.multi_items() if name != "date"
    }
    if response.status_code != 200:
        return {"status": response.status_code, "headers": headers,
                "body": response.content.replace(innovation_id.encode(), b"<id>")}
    body = response.json()
    for volatile in ("id", "event_id", "upload_grant", "created_at", "updated_at", "submitted_at"):
        body[volatile] = "<varies>"
    for varying in ("etag", "x-event-id", "content-length"):  # the event id's and grant's lengths vary
        headers[varying] = "present" if varying in headers and varying != "etag" else headers.get(varying)
    return {"status": 200, "headers": headers, "body": body}


async def test_the_fast_path_answers_as_the_route_does(app: Any, client: Any, route_only: Any) -> None:
    await register_agency(client, "dinkes")
    await register_agency(client, "bappeda")
    fast_path = fast_path_of(app)  # built by the requests above
    for name, suffix, headers, body, served in CASES:
        fast_innovation = (await create_innovation(client))["id"]
        route_innovation = (await create_innovation(client))["id"]
        before = fast_path.served

        fast = await client.put(
            f"/v1/cycles/2026/innovations/{fast_innovation}/{suffix}", content=body, headers=headers
        )
        route = await route_only.put(
            f"/v1/cycles/2026/innovations/{route_innovation}/{suffix}", content=body, headers=headers
        )

        assert comparable(fast, fast_innovation) == comparable(route, route_innovation), name
        assert fast_path.served - before == (1 if served else 0), name


async def test_path_parameters_the_route_refuses_are_refused_alike(app: Any, client: Any, route_only: Any) -> None:
    await register_agency(client, "dinkes")
    headers = {**if_match(1), **JSON}
    for path in (
        "/v1/cycles/1999/innovations/{id}/answers/sid-16",  # year out of range: 422
        "/v1/cycles/2025/innovations/{id}/answers/sid-16",  # no such cycle: 404
        "/v1/cycles/2026/innovations/not%20an%20id/answers/sid-16",
        "/v1/cycles/2026/innovations/0123456789abcdef/answers/sid-16",  # no such innovation
        "/v1/cycles/02026/innovations/{id}/answers/sid-16",
        "/v1/cycles/2026/innovations/{id}/answers/sid-16/",
        "/v1/cycles/%D9%A2%D9%A0%D9%A2%D9%A6/innovations/{id}/answers/sid-16",  # 2026 in Arabic-Indic digits
    ):
        fast_innovation = (await create_innovation(client))["id"]
        route_innovation = (await create_innovation(client))["id"]
        fast = await client.put(path.format(id=fast_innovation), content=b'{"level": 3}', headers=headers)
        route = await route_only.put(path.format(id=route_innovation), content=b'{"level": 3}', headers=headers)
        assert comparable(fast, fast_innovation) == comparable(route, route_innovation), path


async def test_mounted_under_intake_the_fast_path_serves_and_metrics_name_the_route(settings: Any) -> None:
    platform = create_platform_app(["intake"], settings)
    labels = {"service": "intake", "route": "/v1/cycles/{year}/innovations/{innovation_id}/answers/{indicator}",
              "method": "PUT", "status": "200"}
    timed_before = REGISTRY.get_sample_value("inovasi_http_request_seconds_count", labels) or 0
    async with running(platform) as client:
        registered = await client.post(
            f"/intake/v1/regions/{REGION}/agencies", json={"id": "dinkes", "name": "Dinkes"}, headers=ADMIN
        )
        assert registered.status_code == 201, registered.text
        created = await client.post(
            "/intake/v1/cycles/2026/innovations", json={"name": "Posyandu Digital", "urusan_utama": "kesehatan"},
            headers=OPERATOR,
        )
        assert created.status_code == 201, created.text
        answered = await client.put(
            f"/intake/v1/cycles/2026/innovations/{created.json()['id']}/answers/sid-16",
            json={"level": 3}, headers=if_match(1),
        )
        assert answered.status_code == 200 and answered.json()["answers"] == {"sid-16": 3}, answered.text
        assert answered.headers["etag"] == '"2"' and "x-correlation-id" in answered.headers
    intake_app = next(route.app for route in platform.routes if getattr(route, "path", "") == "/intake")
    assert fast_path_of(intake_app).served == 1
    assert REGISTRY.get_sample_value("inovasi_http_request_seconds_count", labels) == timed_before + 1


async def test_a_body_over_the_limit_without_a_length_is_refused_alike(
    app: Any, client: Any, route_only: Any, settings: Any
) -> None:
    """Sent in chunks, so only reading it finds it too large: the route's own 413."""
    await register_agency(client, "dinkes")
    innovation = (await create_innovation(client))["id"]
    limit = settings.max_request_body_bytes

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"level": 3, "padding": "'
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    url = f"/v1/cycles/2026/innovations/{innovation}/answers/sid-16"
    fast = await client.put(url, content=chunks(), headers={**if_match(1), **JSON})
    route = await route_only.put(url, content=chunks(), headers={**if_match(1), **JSON})
    assert fast.status_code == 413
    assert comparable(fast, innovation) == comparable(route, innovation)
