"""Builds the scoring service from settings."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.service import ServiceRuntime, create_service_app
from services.common.settings import Settings
from services.scoring.entrypoints import consumer, http

SERVICE = "scoring"


def create_runtime(settings: Settings, *, consume: bool = True) -> ServiceRuntime:
    return ServiceRuntime(
        settings=settings,
        name=SERVICE,
        migrations="services.scoring.migrations",
        subscribe=consumer.subscribe if consume else None,
    )


def create_app(settings: Settings | None = None, *, consume: bool = True) -> FastAPI:
    runtime = create_runtime(settings or Settings(), consume=consume)
    return create_service_app(runtime, [http.router], title="inovasi scoring")
