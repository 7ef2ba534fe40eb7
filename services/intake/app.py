"""Builds the intake service from settings. Intake only publishes (through its outbox); it
consumes no stream."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.service import ServiceRuntime, create_service_app
from services.common.settings import Settings
from services.intake.entrypoints import http

SERVICE = "intake"


def create_runtime(settings: Settings) -> ServiceRuntime:
    return ServiceRuntime(settings=settings, name=SERVICE, migrations="services.intake.migrations")


def create_app(settings: Settings | None = None) -> FastAPI:
    runtime = create_runtime(settings or Settings())
    return create_service_app(runtime, [http.router], title="inovasi intake")
