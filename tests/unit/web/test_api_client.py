"""The API client's addresses and its reading of the APIs' error answers."""

from __future__ import annotations

import httpx
import pytest

from services.common.errors import Conflict, Forbidden, InvalidInput, NotFound, Unavailable
from services.web.adapters.api import PersonApi, api_error


@pytest.mark.parametrize(
    ("base", "path", "url"),
    [
        ("http://gateway:8000", "/scoring/v1/cycles/2026/regions/62.10/score",
         "http://gateway:8000/scoring/v1/cycles/2026/regions/62.10/score"),
        ("http://{service}:8000/", "/intake/v1/regions/62.10/agencies", "http://intake:8000/intake/v1/regions/62.10/agencies"),
        ("http://{service}.inovasi.svc:8000", "/notify/v1/subscriptions",
         "http://notify.inovasi.svc:8000/notify/v1/subscriptions"),
    ],
)
def test_each_call_goes_to_its_service(base: str, path: str, url: str) -> None:
    assert PersonApi(httpx.AsyncClient(), "t", base)._url(path) == url


def answer(status: int, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers, request=httpx.Request("GET", "http://x/intake/v1/x"))


def test_api_errors_become_domain_errors_with_their_fields() -> None:
    invalid = api_error(answer(422, {"error": "invalid_request", "problems": [
        {"field": "body.id", "reason": "String should match pattern"}, {"field": "path.code", "reason": "bad"}]}))
    assert isinstance(invalid, InvalidInput)
    fields = [(p.field, p.reason) for p in invalid.problems]
    assert fields == [("id", "String should match pattern"), ("path.code", "bad")]
    assert isinstance(api_error(answer(404, {"error": "not_found"})), NotFound)
    assert isinstance(api_error(answer(403, {"error": "forbidden", "reason": "no"})), Forbidden)
    assert isinstance(api_error(answer(401, {"error": "unauthorized"})), Forbidden)
    conflict = api_error(answer(409, {"error": "agency_exists", "reason": "exists"}))
    assert isinstance(conflict, Conflict) and conflict.code == "agency_exists"
    down = api_error(answer(503, {"error": "unavailable"}, {"Retry-After": "3"}))
    assert isinstance(down, Unavailable) and down.retry_after_s == 3
    assert isinstance(api_error(httpx.Response(502, text="Bad Gateway", request=httpx.Request("GET", "http://x/"))),
                      Unavailable)
