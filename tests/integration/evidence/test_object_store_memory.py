"""put_stream holds a bounded amount of memory, whatever the size of the file.

What is measured: tracemalloc's peak of Python heap allocations in this process (all
threads, so minio's worker thread and urllib3 are included) while one upload runs, above
what was allocated before it. That is where file content would pile up if anything
buffered it: bytes objects for chunks, part buffers and request bodies. Not measured:
kernel socket buffers and the S3 server's own memory - the server runs in a child process
here precisely so that its copy of the uploaded object is not counted.

Expected: the upload gathers one part (5 MiB) at a time while at most two earlier ones are
still being hashed and sent (DEFAULT_PARALLEL_PARTS), and never more: at most about three
parts, whatever the file's size. How many are alive at the peak depends on how fast storage
answers, so "flat" allows one part of difference between a 12 MiB and a 48 MiB file. The
same holds while the upload is also copied to a temporary file (for the structural check of
PDFs and images): the copy goes to disk part by part.
"""

from __future__ import annotations

import tempfile
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from typing import IO

import pytest

from services.evidence.adapters.object_store import DEFAULT_PART_SIZE, STREAMED_PUT_BUFFER, ObjectStore
from tests.integration.evidence.conftest import store_settings
from tests.integration.evidence.streams import GeneratedStream, MiB
from tests.support.s3 import S3Endpoint, moto_s3_server_process

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def s3_in_child_process() -> Iterator[S3Endpoint]:
    with moto_s3_server_process() as endpoint:
        yield endpoint


@pytest.fixture
async def store(s3_in_child_process: S3Endpoint) -> AsyncIterator[ObjectStore]:
    store = ObjectStore(store_settings(s3_in_child_process, bucket="evidence-memory"))
    await store.ensure_bucket()
    # Warm up (imports, connection pool, first multipart) outside the measurement.
    await store.put_stream(
        "warm-up",
        GeneratedStream(DEFAULT_PART_SIZE + 1),
        max_bytes=64 * MiB,
        content_type="video/mp4",
    )
    yield store
    await store.aclose()


async def peak_while_uploading(
    store: ObjectStore, total: int, copy_to: IO[bytes] | None = None, *, length: int | None = None
) -> int:
    source = GeneratedStream(total, (64 * 1024,), seed=total)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        stored = await store.put_stream(
            f"memory/{total}", source, max_bytes=total, content_type="video/mp4", copy_to=copy_to, length=length
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (stored.size, stored.sha256) == (total, source.sha256)
    return peak - before


async def test_peak_memory_is_bounded_by_parts_not_file_size(
    store: ObjectStore, record_property: pytest.RecordProperty
) -> None:
    small = await peak_while_uploading(store, 12 * MiB)
    large = await peak_while_uploading(store, 48 * MiB)
    record_property("peak_MiB_12MiB_upload", round(small / MiB, 2))
    record_property("peak_MiB_48MiB_upload", round(large / MiB, 2))
    print(
        f"\npeak above baseline: 12 MiB upload {small / MiB:.2f} MiB, "
        f"48 MiB upload {large / MiB:.2f} MiB"
    )

    # The measurement does see the worker thread: a whole part passes through memory.
    assert large >= DEFAULT_PART_SIZE
    # Bounded: a handful of part buffers, far below the 48 MiB file...
    assert large <= 4 * DEFAULT_PART_SIZE
    # ...and flat: four times the file, at most one part more at the peak.
    assert abs(large - small) <= DEFAULT_PART_SIZE


async def test_copying_the_upload_to_a_file_keeps_the_peak_flat(
    store: ObjectStore, record_property: pytest.RecordProperty
) -> None:
    with tempfile.TemporaryFile() as small_copy, tempfile.TemporaryFile() as large_copy:
        small = await peak_while_uploading(store, 12 * MiB, copy_to=small_copy)
        large = await peak_while_uploading(store, 48 * MiB, copy_to=large_copy)
        assert (small_copy.tell(), large_copy.tell()) == (12 * MiB, 48 * MiB)
    record_property("peak_MiB_48MiB_upload_with_copy", round(large / MiB, 2))
    print(f"\npeak above baseline, copying to a file: 12 MiB upload {small / MiB:.2f} MiB, 48 MiB {large / MiB:.2f}")

    assert DEFAULT_PART_SIZE <= large <= 4 * DEFAULT_PART_SIZE
    assert abs(large - small) <= DEFAULT_PART_SIZE


async def test_a_streamed_put_holds_its_small_buffer_not_parts(
    store: ObjectStore, record_property: pytest.RecordProperty
) -> None:
    """With the length known, the file is one PUT fed from a buffer of STREAMED_PUT_BUFFER
    bytes: the peak is about that buffer, whatever the file's size."""
    with tempfile.TemporaryFile() as small_copy, tempfile.TemporaryFile() as large_copy:
        small = await peak_while_uploading(store, 12 * MiB, small_copy, length=12 * MiB)
        large = await peak_while_uploading(store, 48 * MiB, large_copy, length=48 * MiB)
        assert (small_copy.tell(), large_copy.tell()) == (12 * MiB, 48 * MiB)
    record_property("peak_MiB_48MiB_streamed_put", round(large / MiB, 2))
    print(f"\npeak above baseline, streamed PUT: 12 MiB upload {small / MiB:.2f} MiB, 48 MiB {large / MiB:.2f}")

    assert large <= 2 * STREAMED_PUT_BUFFER + MiB
    assert abs(large - small) <= STREAMED_PUT_BUFFER
