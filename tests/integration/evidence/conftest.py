"""Fixtures for the evidence service's storage tests: one moto S3 server per test session
on 127.0.0.1, and an ObjectStore on a bucket of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import boto3
import pytest

from services.evidence.adapters.object_store import ObjectStore, ObjectStoreSettings
from tests.support.s3 import S3Endpoint, moto_s3_server

pytestmark = pytest.mark.integration

BUCKET = "evidence-test"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[S3Endpoint]:
    with moto_s3_server() as endpoint:
        yield endpoint


def store_settings(endpoint: S3Endpoint, **overrides: object) -> ObjectStoreSettings:
    values: dict[str, object] = {
        "endpoint_url": endpoint.url,
        "access_key": endpoint.access_key,
        "secret_key": endpoint.secret_key,
        "bucket": BUCKET,
        "region": endpoint.region,
        # Fail fast in tests rather than hang a run.
        "connect_timeout": 2.0,
        "read_timeout": 10.0,
        "chunk_timeout": 10.0,
    }
    values.update(overrides)
    return ObjectStoreSettings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
async def object_store(s3_endpoint: S3Endpoint) -> AsyncIterator[ObjectStore]:
    store = ObjectStore(store_settings(s3_endpoint))
    await store.ensure_bucket()
    yield store
    await store.aclose()


@pytest.fixture(scope="session")
def s3_inspector(s3_endpoint: S3Endpoint) -> Any:
    """An independent S3 client (boto3) for looking at what the adapter left in storage,
    including in-progress multipart uploads, which minio's public API cannot list."""
    return boto3.client(
        "s3",
        endpoint_url=s3_endpoint.url,
        aws_access_key_id=s3_endpoint.access_key,
        aws_secret_access_key=s3_endpoint.secret_key,
        region_name=s3_endpoint.region,
    )
