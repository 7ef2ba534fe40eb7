"""Builds the notify service from settings: the subscriptions API, the consumers of
score updates and evidence rejections, and the webhook delivery worker."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.service import ServiceRuntime, create_service_app
from services.common.settings import Settings
from services.notify.entrypoints import consumer, delivery_worker, http
from services.notify.settings import notify_settings

SERVICE = "notify"


def create_runtime(settings: Settings | None = None, *, consume: bool = True, deliver: bool | None = None) -> ServiceRuntime:
    """`deliver` overrides settings.notify_deliver (whether this process sends webhooks)."""
    resolved = notify_settings(settings)
    if deliver is not None:
        resolved = resolved.model_copy(update={"notify_deliver": deliver})
    return ServiceRuntime(
        settings=resolved,
        name=SERVICE,
        migrations="services.notify.migrations",
        subscribe=consumer.subscribe if consume else None,
        publishes=False,  # notify publishes no events (yet): no outbox relay to run
        on_start=[delivery_worker.start_worker],
        on_stop=[delivery_worker.stop_worker],
    )


def create_app(settings: Settings | None = None, *, consume: bool = True, deliver: bool | None = None) -> FastAPI:
    runtime = create_runtime(settings, consume=consume, deliver=deliver)
    return create_service_app(runtime, [http.router], title="inovasi notify")
