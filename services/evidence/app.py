"""Builds the evidence service from settings: its schema, the projection consumer, the
object store (bucket ensured at start, checked by /readyz) and the HTTP API."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.health import Check
from services.common.logging import get_logger
from services.common.service import ServiceRuntime, create_service_app
from services.common.settings import Settings
from services.evidence.adapters.object_store import ObjectStore, ObjectStoreSettings
from services.evidence.entrypoints import consumer, http
from services.evidence.handlers import OBJECT_STORE, object_store_of, settings_of
from services.evidence.settings import EvidenceSettings, evidence_settings

SERVICE = "evidence"
log = get_logger(__name__)


def object_store_settings(settings: EvidenceSettings) -> ObjectStoreSettings:
    return ObjectStoreSettings(
        endpoint_url=settings.s3_endpoint_url(),
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key.get_secret_value(),
        bucket=settings.s3_bucket,
        region=settings.s3_region,
        chunk_timeout=settings.evidence_upload_stall_timeout_s,
        max_concurrent_uploads=settings.evidence_max_concurrent_uploads,
        public_endpoint_url=settings.evidence_public_s3_url or None,
    )


async def open_object_store(runtime: ServiceRuntime) -> None:
    store = ObjectStore(object_store_settings(settings_of(runtime)))
    runtime.state[OBJECT_STORE] = store
    try:
        await store.ensure_bucket()
    except Exception as exc:
        # Start anyway: /readyz reports S3 until it answers, and uploads get a 503 meanwhile.
        log.warning("object storage unavailable at start; bucket not ensured", error=repr(exc))


async def close_object_store(runtime: ServiceRuntime) -> None:
    store = runtime.state.pop(OBJECT_STORE, None)
    if store is not None:
        await store.aclose()


def s3_check(runtime: ServiceRuntime) -> Check:
    async def check() -> None:
        store = object_store_of(runtime)
        if not await store.ping():
            await store.ensure_bucket()  # storage came up after us: create the bucket now
            if not await store.ping():
                raise RuntimeError(f"bucket {store.bucket!r} is not reachable")

    return check


def create_runtime(settings: Settings | None = None, *, consume: bool = True) -> ServiceRuntime:
    return ServiceRuntime(
        settings=evidence_settings(settings),
        name=SERVICE,
        migrations="services.evidence.migrations",
        subscribe=consumer.subscribe if consume else None,
        on_start=(open_object_store,),
        on_stop=(close_object_store,),
    )


def create_app(settings: Settings | None = None, *, consume: bool = True) -> FastAPI:
    runtime = create_runtime(settings, consume=consume)
    return create_service_app(runtime, [http.router], title="inovasi evidence", extra_checks={"s3": s3_check})
