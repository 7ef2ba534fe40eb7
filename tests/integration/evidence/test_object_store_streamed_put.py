"""A file of known length (a request's Content-Length) larger than one part goes to storage
as one streamed PUT, against a real S3 server (moto's, on 127.0.0.1): the same guarantees as
a multipart upload — digest, copy, cap, nothing left after any failure."""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
from collections.abc import AsyncIterator
from typing import Any

import pytest
from minio.error import S3Error

from services.evidence.adapters.object_store import (
    DEFAULT_PART_SIZE,
    LengthMismatch,
    ObjectStore,
    UploadStalled,
    UploadTooLarge,
    is_missing_bucket,
)
from tests.integration.evidence.conftest import BUCKET, store_settings
from tests.integration.evidence.streams import GeneratedStream, MiB
from tests.integration.evidence.test_object_store import PDF_HEAD, assert_nothing_left, download_sha256, fresh_key
from tests.support.s3 import S3Endpoint

pytestmark = pytest.mark.integration

def stored_with_one_put(s3_inspector: Any, key: str) -> bool:
    # S3 gives an object stored by a multipart upload an ETag ending in "-<parts>".
    return "-" not in s3_inspector.head_object(Bucket=BUCKET, Key=key)["ETag"]


@pytest.mark.parametrize(
    ("total", "chunk_sizes"),
    [
        (12 * MiB + 12345, (64 * 1024,)),
        (DEFAULT_PART_SIZE + 1, (7, 0, 300_000, 1)),
        (3 * MiB + 5, (2 * MiB,)),  # chunks larger than the pipe's buffer
    ],
    ids=["12MiB-64KiB-chunks", "part-plus-one-odd-chunks", "large-chunks"],
)
async def test_a_file_of_known_length_is_stored_with_one_put_and_its_digest(
    object_store: ObjectStore, s3_inspector: Any, total: int, chunk_sizes: tuple[int, ...]
) -> None:
    key = fresh_key()
    source = GeneratedStream(total, chunk_sizes, seed=total, head=PDF_HEAD)

    stored = await object_store.put_stream(
        key, source, max_bytes=64 * MiB, content_type="application/pdf", length=total
    )

    assert (stored.size, stored.sha256) == (total, source.sha256)
    assert await object_store.stat(key) == stored
    assert await download_sha256(object_store.presigned_get(key)) == (total, source.sha256)
    # Streamed, the digest is known only after the headers went out: it is the tag. A file of
    # at most one part is gathered first and has it in its metadata instead.
    tagged = total > DEFAULT_PART_SIZE
    assert stored_with_one_put(s3_inspector, key)
    assert s3_inspector.head_object(Bucket=BUCKET, Key=key)["ContentType"] == "application/pdf"
    tags = s3_inspector.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]
    assert ({"Key": "sha256", "Value": source.sha256} in tags) == tagged


async def test_the_copy_of_a_streamed_put_holds_exactly_the_stored_bytes(object_store: ObjectStore) -> None:
    total = DEFAULT_PART_SIZE + 54321
    source = GeneratedStream(total, (300_007, 1), seed=5, head=PDF_HEAD)

    with tempfile.TemporaryFile() as copy:
        stored = await object_store.put_stream(
            fresh_key(), source, max_bytes=64 * MiB, content_type="application/pdf", copy_to=copy, length=total
        )
        copy.seek(0)
        content = copy.read()

    assert (len(content), hashlib.sha256(content).hexdigest()) == (stored.size, stored.sha256) == (total, source.sha256)


async def test_concurrent_streamed_puts_do_not_mix(object_store: ObjectStore) -> None:
    sources = [GeneratedStream(6 * MiB + n, (40_000 + n,), seed=n) for n in range(4)]
    stored = await asyncio.gather(
        *(
            object_store.put_stream(
                fresh_key(), source, max_bytes=8 * MiB, content_type="video/mp4", length=source.total
            )
            for source in sources
        )
    )
    for result, source in zip(stored, sources, strict=True):
        assert (result.size, result.sha256) == (source.total, source.sha256)
        assert await download_sha256(object_store.presigned_get(result.key)) == (source.total, source.sha256)


@pytest.mark.parametrize(("declared", "sent"), [(8 * MiB, 7 * MiB), (7 * MiB, 8 * MiB)], ids=["fewer", "more"])
async def test_a_source_that_does_not_send_its_announced_length_stores_nothing(
    object_store: ObjectStore, s3_inspector: Any, declared: int, sent: int
) -> None:
    key = fresh_key()
    source = GeneratedStream(sent, (64 * 1024,))

    with pytest.raises(LengthMismatch) as mismatch:
        await object_store.put_stream(key, source, max_bytes=64 * MiB, content_type="application/pdf", length=declared)

    assert mismatch.value.declared == declared
    assert_nothing_left(s3_inspector, key)
    assert source.produced <= declared + 64 * 1024  # a longer source is not read to its end


async def test_an_announced_length_over_the_cap_is_refused_before_reading(
    object_store: ObjectStore, s3_inspector: Any
) -> None:
    key = fresh_key()
    source = GeneratedStream(12 * MiB)

    with pytest.raises(UploadTooLarge):
        await object_store.put_stream(key, source, max_bytes=10 * MiB, content_type="application/pdf", length=12 * MiB)

    assert source.produced == 0
    assert_nothing_left(s3_inspector, key)


async def test_a_cancelled_put_stores_nothing_and_frees_its_thread(
    s3_endpoint: S3Endpoint, s3_inspector: Any
) -> None:
    # One upload at a time, one part in flight: a sender thread left blocked would stop the next upload.
    store = ObjectStore(store_settings(s3_endpoint, max_concurrent_uploads=1, parallel_parts=1))
    key = fresh_key()
    sent_some = asyncio.Event()
    closed = asyncio.Event()

    async def hangs_midway() -> AsyncIterator[bytes]:
        try:
            async for chunk in GeneratedStream(3 * MiB):
                yield chunk
            sent_some.set()
            await asyncio.Event().wait()
            yield b"never"
        finally:
            closed.set()

    try:
        upload = asyncio.create_task(
            store.put_stream(key, hangs_midway(), max_bytes=64 * MiB, content_type="application/pdf", length=12 * MiB)
        )
        await asyncio.wait_for(sent_some.wait(), 10)
        upload.cancel()
        with pytest.raises(asyncio.CancelledError):
            await upload
        assert closed.is_set()
        assert_nothing_left(s3_inspector, key)

        after = GeneratedStream(6 * MiB, seed=3)
        stored = await asyncio.wait_for(
            store.put_stream(fresh_key(), after, max_bytes=64 * MiB, content_type="video/mp4", length=after.total), 10
        )
        assert stored.sha256 == after.sha256
    finally:
        await store.aclose()


async def test_a_missing_bucket_is_reported_as_such(s3_endpoint: S3Endpoint) -> None:
    store = ObjectStore(store_settings(s3_endpoint, bucket="no-such-bucket-streamed"))
    try:
        with pytest.raises(S3Error) as failed:
            await store.put_stream(
                fresh_key(), GeneratedStream(6 * MiB), max_bytes=64 * MiB, content_type="video/mp4", length=6 * MiB
            )
    finally:
        await store.aclose()
    assert is_missing_bucket(failed.value), failed.value


async def test_a_client_pausing_while_storage_holds_its_put_open_is_cut_off_as_stalled(
    s3_endpoint: S3Endpoint, s3_inspector: Any
) -> None:
    """The streamed PUT's own stall limit, shorter than the chunk timeout: the client hears
    that it stalled, before storage would drop the idle request as its own failure."""
    store = ObjectStore(store_settings(s3_endpoint, chunk_timeout=30, streamed_put_stall_timeout=0.3))
    key = fresh_key()

    async def pauses() -> AsyncIterator[bytes]:
        async for chunk in GeneratedStream(2 * MiB):
            yield chunk
        await asyncio.sleep(30)
        yield b"too late"

    try:
        with pytest.raises(UploadStalled):
            await asyncio.wait_for(
                store.put_stream(key, pauses(), max_bytes=64 * MiB, content_type="video/mp4", length=8 * MiB), 10
            )
    finally:
        await store.aclose()
    assert_nothing_left(s3_inspector, key)
