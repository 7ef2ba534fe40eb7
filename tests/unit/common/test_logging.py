from __future__ import annotations

import io
import json
import logging

import httpx
import pytest
from fastapi import FastAPI

from services.common.ids import current_correlation_id
from services.common.logging import (
    CorrelationIdMiddleware,
    bind_event,
    configure_logging,
    get_logger,
)
from tests.support import events as samples


@pytest.fixture
def json_logs():
    out = io.StringIO()
    configure_logging("DEBUG", json=True, service="testsvc", stream=out)

    def lines() -> list[dict]:
        return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]

    yield lines
    logging.getLogger().handlers.clear()


def test_logs_are_json_with_event_ids_bound_inside_bind_event(json_logs) -> None:
    event = samples.innovation(correlation_id="req-7")
    log = get_logger("t")
    with bind_event(event, stream="intake.events"):
        log.info("handling", extra_field=1)
    log.info("after")
    inside, after = json_logs()
    assert inside["event"] == "handling"
    assert inside["event_id"] == str(event.event_id)
    assert inside["correlation_id"] == "req-7"
    assert inside["event_type"] == "innovation.submitted"
    assert inside["stream"] == "intake.events"
    assert inside["service"] == "testsvc"
    assert inside["level"] == "info"
    assert "event_id" not in after and "correlation_id" not in after


def test_own_loggers_name_themselves_keep_the_level_and_render_exceptions() -> None:
    out = io.StringIO()
    configure_logging("INFO", json=True, service="testsvc", stream=out)
    try:
        log = get_logger("services.x")
        log.debug("below the level")
        log.info("shown", n=1)
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
        logging.getLogger("uvicorn.error").info("from stdlib, same stream")
    finally:
        logging.getLogger().handlers.clear()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["shown", "failed", "from stdlib, same stream"]
    assert (lines[0]["logger"], lines[0]["level"], lines[0]["service"], lines[0]["n"]) == ("services.x", "info",
                                                                                          "testsvc", 1)
    assert lines[1]["level"] == "error" and "ValueError: boom" in lines[1]["exception"]
    assert lines[2]["logger"] == "uvicorn.error" and "timestamp" in lines[0] and "timestamp" in lines[2]


def test_stdlib_loggers_are_rendered_as_json_too(json_logs) -> None:
    logging.getLogger("faststream").warning("from a library", extra={"channel": "s1"})
    (line,) = json_logs()
    assert line["event"] == "from a library"
    assert line["channel"] == "s1"
    assert line["logger"] == "faststream"


async def test_correlation_middleware_binds_and_echoes_the_header() -> None:
    app = FastAPI()
    app.add_middleware(CorrelationIdMiddleware)

    @app.get("/cid")
    async def cid() -> dict:
        return {"cid": current_correlation_id()}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        given = await client.get("/cid", headers={"X-Correlation-ID": "abc-1"})
        made = await client.get("/cid")
    assert given.json() == {"cid": "abc-1"}
    assert given.headers["x-correlation-id"] == "abc-1"
    assert made.json()["cid"] and made.json()["cid"] == made.headers["x-correlation-id"]
    assert current_correlation_id() is None  # nothing leaks out of the request
