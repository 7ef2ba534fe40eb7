"""Builds the scoring service from settings: its schema, the consumer that keeps every
region's score, and the score API with the live feed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

from fastapi import FastAPI

from services.common.events import SCORING_STREAM
from services.common.http import create_service_app
from services.common.service import Infrastructure, ServiceRuntime, ServiceSpec
from services.common.settings import Settings
from services.scoring.dependencies import ScoringDeps
from services.scoring.entrypoints import consumer, http

SERVICE = "scoring"


@asynccontextmanager
async def dependencies(infrastructure: Infrastructure[Settings]) -> AsyncIterator[ScoringDeps]:
    yield ScoringDeps(
        pool=infrastructure.pool,
        score_events=infrastructure.fanout.hub(SCORING_STREAM),
        group=SERVICE,
        after_event_max_wait_s=infrastructure.settings.after_event_max_wait_s,
        stopping=infrastructure.stopping,
    )


SPEC = ServiceSpec(
    name=SERVICE,
    migrations="services.scoring.migrations",
    dependencies=dependencies,
    subscribe=consumer.subscribe,
)


def create_app(settings: Settings | None = None, *, consume: bool = True) -> FastAPI:
    """`consume=False`: the API only, without the consumer (tests feed the state)."""
    spec = SPEC if consume else replace(SPEC, subscribe=None)
    return create_service_app(ServiceRuntime(spec, settings or Settings()), [http.router], title="inovasi scoring")
