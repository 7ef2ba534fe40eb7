"""Builds the intake service from settings. Intake only publishes (through its outbox); it
consumes no stream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.common.http import create_service_app
from services.common.service import Infrastructure, ServiceRuntime, ServiceSpec
from services.common.settings import Settings
from services.common.tokens import UploadGrants
from services.intake.adapters.grouped_writes import GroupedWrites
from services.intake.dependencies import IntakeDeps
from services.intake.entrypoints import http
from services.intake.entrypoints.fast_answers import AnswerFastPath

SERVICE = "intake"


@asynccontextmanager
async def dependencies(infrastructure: Infrastructure[Settings]) -> AsyncIterator[IntakeDeps]:
    settings = infrastructure.settings
    writes = GroupedWrites(infrastructure.pool, wait_timeout=settings.pg_acquire_timeout_s)
    try:
        yield IntakeDeps(
            pool=infrastructure.pool,
            writes=writes,
            wake_relay=infrastructure.wake_relay,
            grants=UploadGrants(settings.require_auth_secret(), settings.upload_grant_ttl_s),
        )
    finally:
        await writes.close()


SPEC = ServiceSpec(name=SERVICE, migrations="services.intake.migrations", dependencies=dependencies)


def create_app(settings: Settings | None = None) -> FastAPI:
    runtime = ServiceRuntime(SPEC, settings or Settings())
    return create_service_app(runtime, [http.router], title="inovasi intake", fast_paths=[AnswerFastPath])
