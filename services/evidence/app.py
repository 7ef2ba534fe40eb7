"""Builds the evidence service from settings: its schema, the projection consumer, the
object store (bucket ensured at start, checked by /readyz) and the HTTP API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace

from fastapi import FastAPI

from services.common.health import Check
from services.common.http import create_service_app
from services.common.logging import get_logger
from services.common.service import Infrastructure, ServiceRuntime, ServiceSpec
from services.common.settings import Settings
from services.common.tokens import UploadGrants
from services.evidence.adapters.object_store import ObjectStore, ObjectStoreSettings
from services.evidence.dependencies import EvidenceDeps
from services.evidence.entrypoints import consumer, http
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
        connect_timeout=settings.s3_connect_timeout_s,
        read_timeout=settings.s3_read_timeout_s,
        chunk_timeout=settings.evidence_upload_stall_timeout_s,
        max_concurrent_uploads=settings.evidence_max_concurrent_uploads,
        public_endpoint_url=settings.evidence_public_s3_url or None,
    )


@asynccontextmanager
async def dependencies(infrastructure: Infrastructure[EvidenceSettings]) -> AsyncIterator[EvidenceDeps]:
    objects = ObjectStore(object_store_settings(infrastructure.settings))
    try:
        await objects.ensure_bucket()
    except Exception as exc:
        # Start anyway: /readyz reports S3 until it answers, and uploads get a 503 meanwhile.
        log.warning("object storage unavailable at start; bucket not ensured", error=repr(exc))
    try:
        yield EvidenceDeps(
            settings=infrastructure.settings,
            pool=infrastructure.pool,
            objects=objects,
            wake_relay=infrastructure.wake_relay,
            grants=UploadGrants(infrastructure.settings.require_auth_secret()),
        )
    finally:
        await objects.aclose()


def checks(deps: EvidenceDeps) -> Mapping[str, Check]:
    async def s3() -> None:
        if not await deps.objects.ping():
            await deps.objects.ensure_bucket()  # storage came up after us: create the bucket now
            if not await deps.objects.ping():
                raise RuntimeError(f"bucket {deps.objects.bucket!r} is not reachable")

    return {"s3": s3}


SPEC: ServiceSpec[EvidenceSettings, EvidenceDeps] = ServiceSpec(
    name=SERVICE,
    migrations="services.evidence.migrations",
    dependencies=dependencies,
    subscribe=consumer.subscribe,
    checks=checks,
)


def create_app(settings: Settings | None = None, *, consume: bool = True) -> FastAPI:
    """`consume=False`: the API only, without the projection consumer (tests feed it)."""
    spec = SPEC if consume else replace(SPEC, subscribe=None)
    resolved = evidence_settings(settings)
    runtime = ServiceRuntime(spec, resolved)
    uploads = {("POST", "/v1/evidence"): resolved.evidence_max_upload_bytes}
    return create_service_app(runtime, [http.router], title="inovasi evidence", body_limits=uploads)
