"""Builds the notify service from settings: the subscriptions API, the consumers of score
updates and evidence rejections, and the webhook delivery worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

from fastapi import FastAPI

from services.common.http import create_service_app
from services.common.service import Infrastructure, ServiceRuntime, ServiceSpec
from services.common.settings import Settings
from services.notify.dependencies import NotifyDeps
from services.notify.entrypoints import consumer, http
from services.notify.entrypoints.delivery_worker import DeliveryWorker
from services.notify.settings import NotifySettings, notify_settings

SERVICE = "notify"


@asynccontextmanager
async def dependencies(infrastructure: Infrastructure[NotifySettings]) -> AsyncIterator[NotifyDeps]:
    """Notify's dependencies; the delivery worker runs alongside when the settings say so."""
    settings = infrastructure.settings
    worker = None
    if settings.notify_deliver:
        worker = DeliveryWorker(infrastructure.pool, settings, schema=infrastructure.schema)
        await worker.start()
    try:
        yield NotifyDeps(settings=settings, pool=infrastructure.pool)
    finally:
        if worker is not None:
            await worker.stop()


SPEC: ServiceSpec[NotifySettings, NotifyDeps] = ServiceSpec(
    name=SERVICE,
    migrations="services.notify.migrations",
    dependencies=dependencies,
    subscribe=consumer.subscribe,
    publishes=False,  # notify publishes no events (yet): no outbox relay to run
)


def create_app(settings: Settings | None = None, *, consume: bool = True, deliver: bool | None = None) -> FastAPI:
    """`deliver` overrides settings.notify_deliver (whether this process sends webhooks)."""
    resolved = notify_settings(settings)
    if deliver is not None:
        resolved = resolved.model_copy(update={"notify_deliver": deliver})
    spec = SPEC if consume else replace(SPEC, subscribe=None)
    return create_service_app(ServiceRuntime(spec, resolved), [http.router], title="inovasi notify")
