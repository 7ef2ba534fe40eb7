"""The object-store adapter against a real S3 server (moto's, on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import socket
import tempfile
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import httpx
import pytest

from services.evidence.adapters.object_store import (
    DEFAULT_PART_SIZE,
    CopyFailed,
    ObjectNotFound,
    ObjectStore,
    StoredObject,
    UploadStalled,
    UploadTooLarge,
    peek,
)
from services.evidence.domain.filetypes import (
    SNIFF_BYTES,
    Accepted,
    Refused,
    check_file_type,
    sniff,
)
from services.evidence.domain.object_keys import new_object_key, parse_object_key
from tests.integration.evidence.conftest import BUCKET, store_settings
from tests.integration.evidence.streams import GeneratedStream, MiB, chunks_of
from tests.support.s3 import S3Endpoint

pytestmark = pytest.mark.integration

PDF_HEAD = b"%PDF-1.7\n"


def fresh_key() -> str:
    return new_object_key(2026, "62.10")


async def download(url: str) -> tuple[int, bytes, httpx.Headers]:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(url)
    return response.status_code, response.content, response.headers


async def download_sha256(url: str) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    async with httpx.AsyncClient(timeout=30) as client, client.stream("GET", url) as response:
        assert response.status_code == 200
        async for block in response.aiter_bytes():
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def assert_nothing_left(s3_inspector: Any, key: str) -> None:
    listed = s3_inspector.list_objects_v2(Bucket=BUCKET, Prefix=key)
    assert listed.get("KeyCount", 0) == 0, listed.get("Contents")
    uploads = s3_inspector.list_multipart_uploads(Bucket=BUCKET, Prefix=key)
    assert not uploads.get("Uploads"), uploads["Uploads"]


# ---------------------------------------------------------------------- storing


async def test_small_file_round_trip(object_store: ObjectStore) -> None:
    content = PDF_HEAD + b"isi dokumen " * 100
    key = fresh_key()

    stored = await object_store.put_stream(
        key, chunks_of(content), max_bytes=MiB, content_type="application/pdf"
    )

    expected = StoredObject(
        key=key,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content_type="application/pdf",
    )
    assert stored == expected
    assert await object_store.stat(key) == expected
    status, body, headers = await download(object_store.presigned_get(key))
    assert (status, body, headers["content-type"]) == (200, content, "application/pdf")


async def test_empty_stream_stores_an_empty_object(object_store: ObjectStore) -> None:
    key = fresh_key()
    stored = await object_store.put_stream(
        key, chunks_of(), max_bytes=10, content_type="application/pdf"
    )
    assert (stored.size, stored.sha256) == (0, hashlib.sha256(b"").hexdigest())


@pytest.mark.parametrize(
    ("total", "chunk_sizes"),
    [
        (12 * MiB + 12345, (64 * 1024,)),  # three parts, the last one short
        (2 * DEFAULT_PART_SIZE, (1_000_003,)),  # exactly two parts, chunks straddling them
        (DEFAULT_PART_SIZE + 1, (7, 0, 300_000, 1)),  # one byte over a part; empty chunks
    ],
    ids=["12MiB-64KiB-chunks", "two-exact-parts", "part-plus-one-odd-chunks"],
)
async def test_multipart_upload_round_trip(
    object_store: ObjectStore, total: int, chunk_sizes: tuple[int, ...]
) -> None:
    key = fresh_key()
    source = GeneratedStream(total, chunk_sizes, seed=total, head=PDF_HEAD)

    stored = await object_store.put_stream(
        key, source, max_bytes=64 * MiB, content_type="application/pdf"
    )

    assert stored.size == source.produced == total
    assert stored.sha256 == source.sha256
    assert await object_store.stat(key) == stored
    assert await download_sha256(object_store.presigned_get(key)) == (total, source.sha256)


async def test_concurrent_uploads_do_not_mix(object_store: ObjectStore) -> None:
    sources = [GeneratedStream(6 * MiB, (50_000 + n,), seed=n) for n in range(4)]
    keys = [fresh_key() for _ in sources]

    stored = await asyncio.gather(
        *(
            object_store.put_stream(key, source, max_bytes=8 * MiB, content_type="video/mp4")
            for key, source in zip(keys, sources, strict=True)
        )
    )

    for result, source in zip(stored, sources, strict=True):
        assert (result.size, result.sha256) == (6 * MiB, source.sha256)
        assert await download_sha256(object_store.presigned_get(result.key)) == (
            6 * MiB,
            source.sha256,
        )


async def test_the_copy_holds_exactly_the_stored_bytes(object_store: ObjectStore) -> None:
    key = fresh_key()
    source = GeneratedStream(DEFAULT_PART_SIZE + 12345, (300_007, 0, 1), seed=11, head=PDF_HEAD)

    with tempfile.TemporaryFile() as copy:
        stored = await object_store.put_stream(
            key, source, max_bytes=64 * MiB, content_type="application/pdf", copy_to=copy
        )
        copy.flush()
        size = copy.seek(0, 2)
        copy.seek(0)
        digest = hashlib.sha256()
        while block := copy.read(MiB):
            digest.update(block)

    assert (size, digest.hexdigest()) == (stored.size, stored.sha256) == (source.produced, source.sha256)


async def test_a_copy_that_cannot_be_written_fails_the_upload_and_leaves_nothing(
    object_store: ObjectStore, s3_inspector: Any
) -> None:
    key = fresh_key()
    with tempfile.TemporaryFile() as copy:
        pass  # closed: every write fails, as on a full disk

    with pytest.raises(CopyFailed):
        await object_store.put_stream(
            key, GeneratedStream(MiB), max_bytes=64 * MiB, content_type="application/pdf", copy_to=copy
        )
    assert_nothing_left(s3_inspector, key)


# ---------------------------------------------------------------------- refusals and failures


async def test_exactly_the_cap_is_accepted(object_store: ObjectStore) -> None:
    stored = await object_store.put_stream(
        fresh_key(), chunks_of(b"x" * 1000), max_bytes=1000, content_type="application/pdf"
    )
    assert stored.size == 1000


@pytest.mark.parametrize(
    ("total", "cap"),
    [
        (1001, 1000),  # refused before anything is sent
        (14 * MiB, 7 * MiB),  # refused after the first part went out as a multipart upload
    ],
    ids=["single-part", "mid-multipart"],
)
async def test_over_the_cap_is_refused_and_leaves_nothing(
    object_store: ObjectStore, s3_inspector: Any, total: int, cap: int
) -> None:
    key = fresh_key()
    source = GeneratedStream(total, (64 * 1024,))

    with pytest.raises(UploadTooLarge) as refused:
        await object_store.put_stream(key, source, max_bytes=cap, content_type="application/pdf")

    assert refused.value.max_bytes == cap
    assert str(refused.value) == f"file is larger than the limit of {cap} bytes"
    with pytest.raises(ObjectNotFound):
        await object_store.stat(key)
    assert_nothing_left(s3_inspector, key)
    # The rest of the stream was never pulled: a refused upload does not read the whole body.
    assert source.produced <= cap + 64 * 1024


# Without a declared length a multipart upload; with one, a single streamed PUT.
@pytest.mark.parametrize("length", [None, 12 * MiB], ids=["multipart", "streamed-put"])
async def test_failing_source_leaves_nothing(
    object_store: ObjectStore, s3_inspector: Any, length: int | None
) -> None:
    key = fresh_key()

    async def client_goes_away() -> AsyncIterator[bytes]:
        async for chunk in GeneratedStream(6 * MiB):
            yield chunk
        raise ConnectionResetError("client disconnected")

    with pytest.raises(ConnectionResetError):
        await object_store.put_stream(
            key, client_goes_away(), max_bytes=64 * MiB, content_type="application/pdf", length=length
        )
    assert_nothing_left(s3_inspector, key)


async def test_cancelled_upload_is_aborted_and_leaves_nothing(
    object_store: ObjectStore, s3_inspector: Any
) -> None:
    key = fresh_key()
    sent_a_part = asyncio.Event()
    closed = asyncio.Event()

    async def stalls_after_one_part() -> AsyncIterator[bytes]:
        try:
            async for chunk in GeneratedStream(DEFAULT_PART_SIZE + MiB):
                yield chunk
            sent_a_part.set()
            await asyncio.Event().wait()  # the client hangs; the request gets cancelled
            yield b"never"
        finally:
            closed.set()

    upload = asyncio.create_task(
        object_store.put_stream(
            key, stalls_after_one_part(), max_bytes=64 * MiB, content_type="application/pdf"
        )
    )
    await asyncio.wait_for(sent_a_part.wait(), 10)
    # By now minio has read more than a part, so a multipart upload is open on the server.
    await _until(
        lambda: bool(s3_inspector.list_multipart_uploads(Bucket=BUCKET, Prefix=key).get("Uploads"))
    )
    upload.cancel()

    with pytest.raises(asyncio.CancelledError):
        await upload
    assert_nothing_left(s3_inspector, key)
    assert closed.is_set()


async def test_stalled_upload_is_cut_off(
    s3_endpoint: S3Endpoint, s3_inspector: Any
) -> None:
    store = ObjectStore(store_settings(s3_endpoint, chunk_timeout=0.3))
    key = fresh_key()

    async def stalls() -> AsyncIterator[bytes]:
        yield PDF_HEAD
        await asyncio.sleep(30)
        yield b"too late"

    try:
        with pytest.raises(UploadStalled):
            await asyncio.wait_for(
                store.put_stream(key, stalls(), max_bytes=MiB, content_type="application/pdf"), 10
            )
    finally:
        await store.aclose()
    assert_nothing_left(s3_inspector, key)


async def test_wrong_type_is_refused_before_anything_is_stored(
    object_store: ObjectStore, s3_inspector: Any
) -> None:
    """The handler's flow: peek at the head, check it, and only then stream to storage."""
    docx = GeneratedStream(2 * MiB, (1000,), head=b"PK\x03\x04\x14\x00\x06\x00")
    head, body = await peek(aiter(docx), SNIFF_BYTES)
    verdict = check_file_type(sniff(head), "sid-16", ["pdf"], empty=not head)
    assert isinstance(verdict, Refused)
    assert "ZIP archive" in verdict.reason and "sid-16 accepts only: pdf" in verdict.reason
    assert docx.produced <= SNIFF_BYTES + 1000  # only the head was read

    pdf = GeneratedStream(3 * MiB, (1000,), head=PDF_HEAD, seed=7)
    head, body = await peek(aiter(pdf), SNIFF_BYTES)
    verdict = check_file_type(sniff(head), "sid-16", ["pdf"], empty=not head)
    assert isinstance(verdict, Accepted)
    key = fresh_key()
    stored = await object_store.put_stream(
        key, body, max_bytes=4 * MiB, content_type=verdict.content_type
    )
    assert (stored.size, stored.sha256, stored.content_type) == (
        3 * MiB,
        pdf.sha256,
        "application/pdf",
    )


# ---------------------------------------------------------------------- keys, stat, delete


async def test_objects_live_under_unguessable_keys(
    object_store: ObjectStore, s3_inspector: Any
) -> None:
    content = PDF_HEAD + b"same content"
    first, second = fresh_key(), fresh_key()
    for key in (first, second):
        await object_store.put_stream(
            key, chunks_of(content), max_bytes=MiB, content_type="application/pdf"
        )

    assert first != second  # same file, same region and cycle: still two unrelated keys
    listed = s3_inspector.list_objects_v2(Bucket=BUCKET, Prefix="evidence/2026/62.10/")
    names = {item["Key"] for item in listed["Contents"]}
    assert {first, second} <= names
    for name in names:
        parse_object_key(name)  # every stored key has the random-token format


async def test_delete_removes_and_is_idempotent(object_store: ObjectStore) -> None:
    key = fresh_key()
    await object_store.put_stream(key, chunks_of(b"x"), max_bytes=10, content_type="image/png")
    await object_store.delete(key)
    with pytest.raises(ObjectNotFound):
        await object_store.stat(key)
    await object_store.delete(key)  # deleting what is gone is not an error


# ---------------------------------------------------------------------- presigned URLs


async def test_presigned_url_serves_the_bytes_with_a_download_name(
    object_store: ObjectStore,
) -> None:
    key = fresh_key()
    content = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 10
    await object_store.put_stream(key, chunks_of(content), max_bytes=MiB, content_type="image/png")

    url = object_store.presigned_get(key, timedelta(minutes=2), filename="Foto kegiatan é.png")
    status, body, headers = await download(url)

    assert (status, body) == (200, content)
    assert headers["content-type"] == "image/png"
    assert headers["content-disposition"] == (
        "attachment; filename=\"Foto kegiatan _.png\"; "
        "filename*=UTF-8''Foto%20kegiatan%20%C3%A9.png"
    )
    assert "Foto" not in urlsplit(url).path  # the name is in the signed query, not the key


async def test_presigned_url_is_signed_to_expire(
    object_store: ObjectStore, s3_endpoint: S3Endpoint
) -> None:
    """moto enforces neither presigned expiry nor signatures (a URL fetched after expiry
    still returns 200 there), so this checks what a real S3/MinIO enforces: the expiry is
    part of a valid SigV4 signature over the URL, and starts now."""
    key = fresh_key()
    url = object_store.presigned_get(key, timedelta(seconds=90))
    query = dict(parse_qsl(urlsplit(url).query))

    assert query["X-Amz-Expires"] == "90"
    signed_at = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    signed_at = signed_at.replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - signed_at) < timedelta(seconds=60)
    assert query["X-Amz-Signature"] == _sigv4_presigned_signature(url, s3_endpoint)
    # Tampering with the expiry would invalidate the signature.
    tampered = url.replace("X-Amz-Expires=90", "X-Amz-Expires=604800")
    assert _sigv4_presigned_signature(tampered, s3_endpoint) != query["X-Amz-Signature"]


async def test_download_urls_can_be_signed_for_the_public_host(
    object_store: ObjectStore, s3_endpoint: S3Endpoint
) -> None:
    """Behind a gateway the services reach storage as e.g. minio:9000 while browsers reach
    it elsewhere: the URL is signed for the public host (here `localhost`, the same server)."""
    public = f"http://localhost:{s3_endpoint.port}"
    store = ObjectStore(store_settings(s3_endpoint, public_endpoint_url=public))
    try:
        key = fresh_key()
        await object_store.put_stream(key, chunks_of(b"%PDF-1.4 public"), max_bytes=MiB, content_type="application/pdf")
        url = store.presigned_get(key, timedelta(minutes=1))
        assert urlsplit(url).netloc == f"localhost:{s3_endpoint.port}"
        # The signature covers that host (SigV4 signs the Host header).
        assert dict(parse_qsl(urlsplit(url).query))["X-Amz-Signature"] == _sigv4_presigned_signature(url, s3_endpoint)
        status, body, _ = await download(url)
        assert (status, body) == (200, b"%PDF-1.4 public")
    finally:
        await store.aclose()
    with pytest.raises(ValueError, match="public_endpoint_url must look like"):
        ObjectStore(store_settings(s3_endpoint, public_endpoint_url="minio:9000"))


@pytest.mark.parametrize(
    "expires",
    [
        timedelta(0),
        timedelta(milliseconds=500),
        timedelta(minutes=15, seconds=1),
        timedelta(days=7),
    ],
)
def test_presigned_expiry_is_short(object_store: ObjectStore, expires: timedelta) -> None:
    with pytest.raises(ValueError, match="presigned URLs live between"):
        object_store.presigned_get(fresh_key(), expires)


def _sigv4_presigned_signature(url: str, endpoint: S3Endpoint) -> str:
    """AWS Signature Version 4 for a presigned GET, computed independently of minio."""
    parts = urlsplit(url)
    params = [
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if name != "X-Amz-Signature"
    ]
    canonical_query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(params)
    )
    canonical_request = "\n".join(
        [
            "GET",
            parts.path,
            canonical_query,
            f"host:{parts.netloc}",
            "",  # end of the canonical headers
            "host",
            "UNSIGNED-PAYLOAD",
        ]
    )
    query = dict(params)
    amz_date = query["X-Amz-Date"]
    scope = f"{amz_date[:8]}/{endpoint.region}/s3/aws4_request"
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            amz_date,
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    signing_key = f"AWS4{endpoint.secret_key}".encode()
    for part in (amz_date[:8], endpoint.region, "s3", "aws4_request"):
        signing_key = hmac.new(signing_key, part.encode(), hashlib.sha256).digest()
    return hmac.new(signing_key, string_to_sign.encode(), hashlib.sha256).hexdigest()


# ---------------------------------------------------------------------- bucket and health


async def test_ping_and_ensure_bucket(s3_endpoint: S3Endpoint, object_store: ObjectStore) -> None:
    assert await object_store.ping() is True

    other = ObjectStore(store_settings(s3_endpoint, bucket="evidence-new-bucket"))
    try:
        assert await other.ping() is False  # reachable, but the bucket does not exist yet
        await other.ensure_bucket()
        await other.ensure_bucket()  # idempotent
        assert await other.ping() is True
    finally:
        await other.aclose()


async def test_ping_is_false_quickly_when_storage_is_down(s3_endpoint: S3Endpoint) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = S3Endpoint(host="127.0.0.1", port=port)
    store = ObjectStore(store_settings(down))
    try:
        started = asyncio.get_running_loop().time()
        assert await store.ping(timeout=2.0) is False
        assert asyncio.get_running_loop().time() - started < 2.5
    finally:
        await store.aclose()


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await asyncio.to_thread(condition):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)
