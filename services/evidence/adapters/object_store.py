"""Object storage (S3 / MinIO) for evidence files, for asyncio code.

The official `minio` client is synchronous (urllib3) and its maintainers have no asyncio
plans, so this adapter shares one thread-safe `Minio` client and runs its calls in worker
threads. Two things matter beyond that:

* **Uploads are streamed.** `put_stream` hands minio a blocking file-like object whose
  `read()` pulls the request's chunks one at a time from the event loop. minio asks for one
  part (5 MiB) at a time and sends it before asking for the next (`num_parallel_uploads=1`),
  so what is held in memory is a few part buffers, however large the file: measured peak is
  about 3 parts (see tests/integration/evidence/test_object_store_memory.py). SHA-256 and the
  size are computed on the same pass, and the bytes can be copied on the way to a file the
  caller gives (`copy_to`: the upload handler checks the file's structure from that copy, so
  nothing reads the object back); a stream over the cap is refused before its excess is sent
  or copied, and whatever was written is aborted and removed.
* **Nothing waits forever.** The urllib3 pool has short timeouts (minio's default is five
  minutes); a client that stops sending mid-upload is cut off after `chunk_timeout`; uploads
  run on their own bounded thread pool, so slow uploads cannot starve readiness probes or
  metadata calls (nor anything else in the process that uses the default executor).

Presigned URLs are computed locally (the region is configured, so no lookup request) and
live at most 15 minutes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
import hashlib
import os
import threading
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import IO, Any, BinaryIO, TypeVar, cast
from urllib.parse import SplitResult, quote, urlsplit

import certifi
import urllib3
from minio import Minio
from minio.commonconfig import REPLACE, CopySource
from minio.error import MinioException, S3Error

MiB = 1024 * 1024
# S3's minimum part size, and the most memory one part buffer takes. Larger parts mean
# fewer requests but proportionally more memory per concurrent upload.
DEFAULT_PART_SIZE = 5 * MiB
MAX_PRESIGNED_EXPIRY = timedelta(minutes=15)
DEFAULT_PRESIGNED_EXPIRY = timedelta(minutes=5)
# Stored as the user metadata header `x-amz-meta-sha256` (hex digest of the content).
SHA256_METADATA = "sha256"
_SHA256_HEADER = f"x-amz-meta-{SHA256_METADATA}"
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchObject", "ResourceNotFound", "NotFound"})

T = TypeVar("T")
# What a call to storage raises when storage itself fails (unreachable, timing out, erring).
STORAGE_ERRORS: tuple[type[Exception], ...] = (MinioException, urllib3.exceptions.HTTPError, OSError)


class ObjectStoreError(Exception):
    """Base class of the errors this adapter raises on purpose."""


class UploadTooLarge(ObjectStoreError):
    """The upload exceeded the size cap; nothing of it is left in storage."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"file is larger than the limit of {max_bytes} bytes")
        self.max_bytes = max_bytes


class CopyFailed(ObjectStoreError):
    """Writing the caller's copy of the stream failed (a full disk); nothing is left in storage."""


class UploadStalled(ObjectStoreError):
    """The uploader sent nothing for too long; nothing of it is left in storage."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"upload stalled: no data received for {seconds:g} s")
        self.seconds = seconds


def is_missing_bucket(error: BaseException) -> bool:
    """The storage server has lost the bucket (recreate it with `ensure_bucket`)."""
    return isinstance(error, S3Error) and error.code == "NoSuchBucket"


class ObjectNotFound(ObjectStoreError):
    def __init__(self, key: str) -> None:
        super().__init__(f"no object with key {key!r}")
        self.key = key


class _UploadAborted(Exception):
    """Raised inside minio's read loop when the awaiting task was cancelled."""


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    size: int
    # Hex SHA-256 of the content. None only for an object not written by put_stream.
    sha256: str | None
    content_type: str


@dataclass(frozen=True, slots=True)
class ObjectStoreSettings:
    endpoint_url: str  # "http://127.0.0.1:9000" or "https://s3.example.go.id"
    access_key: str
    secret_key: str
    bucket: str
    region: str = "us-east-1"
    connect_timeout: float = 3.0
    # Per socket operation, not per request: a 5 MiB part may take longer in total.
    read_timeout: float = 30.0
    max_concurrent_uploads: int = 8
    max_concurrent_calls: int = 8
    part_size: int = DEFAULT_PART_SIZE
    # How long an upload may wait for the next chunk of the request body.
    chunk_timeout: float = 60.0
    # Where browsers reach the same storage when that differs from endpoint_url (a gateway,
    # a public host name): download URLs are signed for this host. None: endpoint_url.
    public_endpoint_url: str | None = None


def _endpoint(value: str, name: str) -> SplitResult:
    url = urlsplit(value)
    if url.scheme not in ("http", "https") or not url.netloc or url.path not in ("", "/"):
        raise ValueError(f"{name} must look like http(s)://host[:port], got {value!r}")
    return url


class ObjectStore:
    """One bucket of object storage. Create one per process and share it."""

    def __init__(self, settings: ObjectStoreSettings) -> None:
        url = _endpoint(settings.endpoint_url, "endpoint_url")
        if settings.part_size < DEFAULT_PART_SIZE:
            raise ValueError(f"part_size must be at least {DEFAULT_PART_SIZE} bytes (S3 minimum)")
        self.bucket = settings.bucket
        self._settings = settings
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=settings.connect_timeout, read=settings.read_timeout),
            # One connection per thread that can use it, so no thread waits for a socket.
            maxsize=settings.max_concurrent_uploads + settings.max_concurrent_calls,
            # A server error or a refused connection is tried again once or twice; a read that
            # timed out is not (the storage server hangs: the caller should hear so in time).
            retries=urllib3.Retry(
                total=2, connect=1, read=0, backoff_factor=0.2, status_forcelist=(500, 502, 503, 504)
            ),
            cert_reqs="CERT_REQUIRED",
            ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
        )
        self._client = self._minio(url)
        # Signing is local computation (the region is known), so a client for the public
        # host never opens a connection: it only puts that host into the signature.
        public = settings.public_endpoint_url
        self._signer = self._minio(_endpoint(public, "public_endpoint_url")) if public else self._client
        # An upload holds its thread for as long as the client takes to send the file, so
        # uploads get their own pool; short calls (stat, delete, ping) never queue behind them.
        self._upload_threads = concurrent.futures.ThreadPoolExecutor(
            settings.max_concurrent_uploads, thread_name_prefix="object-store-upload"
        )
        self._call_threads = concurrent.futures.ThreadPoolExecutor(
            settings.max_concurrent_calls, thread_name_prefix="object-store-call"
        )
        self._cleanups: set[asyncio.Task[None]] = set()

    def _minio(self, url: SplitResult) -> Minio:
        return Minio(
            url.netloc,
            access_key=self._settings.access_key,
            secret_key=self._settings.secret_key,
            secure=url.scheme == "https",
            # Known region: no GetBucketLocation round trip, and presigning needs no network.
            region=self._settings.region,
            http_client=self._http,
        )

    async def aclose(self) -> None:
        """Finish pending clean-ups of failed uploads, then release threads and sockets."""
        if self._cleanups:
            await asyncio.gather(*self._cleanups, return_exceptions=True)
        self._upload_threads.shutdown(wait=False, cancel_futures=True)
        self._call_threads.shutdown(wait=False, cancel_futures=True)
        self._http.clear()

    # ------------------------------------------------------------------ bucket and health

    async def ensure_bucket(self) -> None:
        """Create the bucket unless it exists (safe when several processes start at once)."""
        if await self._call(self._client.bucket_exists, self.bucket):
            return
        try:
            await self._call(self._client.make_bucket, self.bucket)
        except S3Error:
            # Lost a creation race with another process: fine if the bucket is there now.
            if not await self._call(self._client.bucket_exists, self.bucket):
                raise

    async def ping(self, timeout: float = 3.0) -> bool:
        """True when storage answers and the bucket exists: the readiness check."""
        try:
            return await asyncio.wait_for(
                self._call(self._client.bucket_exists, self.bucket), timeout
            )
        except Exception:  # any failure means "not ready"; the probe must not raise
            return False

    # ------------------------------------------------------------------ objects

    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        *,
        max_bytes: int,
        content_type: str,
        copy_to: IO[bytes] | None = None,
    ) -> StoredObject:
        """Stream `chunks` into a new object at `key`, never holding the whole file.

        `key` must be fresh (see services.evidence.domain.object_keys): on any failure the
        key is removed. Raises UploadTooLarge past `max_bytes`, UploadStalled when the source
        sends nothing for `chunk_timeout`, CopyFailed when `copy_to` cannot be written, or
        whatever the source or storage raised; in every case nothing is left stored. If the
        awaiting task is cancelled (the client went away), the upload is aborted and cleaned
        up before the cancellation propagates.

        With `copy_to`, every byte stored is also written to it (from the upload's worker
        thread, as it passes; the caller flushes and closes it). What it holds after a
        failure is partial and meaningless.
        """
        if max_bytes < 0:
            raise ValueError("max_bytes must not be negative")
        source = _ChunkSource(
            chunks, asyncio.get_running_loop(), max_bytes, self._settings.chunk_timeout, copy_to
        )
        upload = self._upload_threads.submit(
            contextvars.copy_context().run,
            functools.partial(
                self._client.put_object,
                self.bucket,
                key,
                cast(BinaryIO, source),  # read(size) is all minio calls on it
                length=-1,  # unknown: minio reads part by part until EOF
                content_type=content_type,
                part_size=self._settings.part_size,
                # One part in flight: parallel parts would multiply the memory held.
                num_parallel_uploads=1,
            ),
        )
        try:
            await asyncio.wrap_future(upload)
            sha256 = source.sha256_hex()
            # The digest is known only at the end of the stream, after minio has sent the
            # headers, so it is attached by a server-side copy of the object onto itself
            # (two small requests, stat + copy; no content passes through this process).
            await self._call(
                self._client.copy_object,
                self.bucket,
                key,
                CopySource(self.bucket, key),
                metadata={"Content-Type": content_type, SHA256_METADATA: sha256},
                metadata_directive=REPLACE,
            )
        except BaseException:
            source.abort()
            await self._discard(key, upload, source)
            raise
        return StoredObject(key=key, size=source.size, sha256=sha256, content_type=content_type)

    async def stat(self, key: str) -> StoredObject:
        try:
            info = await self._call(self._client.stat_object, self.bucket, key)
        except S3Error as error:
            if error.code in _NOT_FOUND_CODES:
                raise ObjectNotFound(key) from error
            raise
        return StoredObject(
            key=key,
            size=int(info.size or 0),
            sha256=(info.metadata or {}).get(_SHA256_HEADER),
            content_type=info.content_type or "application/octet-stream",
        )

    async def delete(self, key: str) -> None:
        """Remove the object; removing a missing key is not an error (S3 semantics)."""
        await self._call(self._client.remove_object, self.bucket, key)

    def presigned_get(
        self,
        key: str,
        expires: timedelta = DEFAULT_PRESIGNED_EXPIRY,
        *,
        filename: str | None = None,
    ) -> str:
        """A download URL valid for `expires` (1 s to 15 min).

        Synchronous on purpose: signing is local computation (region configured). With
        `filename`, the download is served as an attachment under that name, since keys
        deliberately carry no file name.
        """
        if not timedelta(seconds=1) <= expires <= MAX_PRESIGNED_EXPIRY:
            raise ValueError(
                f"presigned URLs live between 1 s and {MAX_PRESIGNED_EXPIRY}, got {expires}"
            )
        response_headers: dict[str, str | list[str] | tuple[str]] | None = None
        if filename is not None:
            response_headers = {"response-content-disposition": attachment_header(filename)}
        return self._signer.presigned_get_object(
            self.bucket, key, expires=expires, response_headers=response_headers
        )

    # ------------------------------------------------------------------ internals

    async def _call(self, function: Callable[..., T], /, *args: object, **kwargs: object) -> T:
        # Like asyncio.to_thread (context variables such as structlog's bound ids follow the
        # call), but on this adapter's own bounded pool.
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(
            self._call_threads, functools.partial(context.run, function, *args, **kwargs)
        )

    async def _discard(
        self, key: str, upload: concurrent.futures.Future[Any], source: _ChunkSource
    ) -> None:
        """Leave nothing behind for a failed or cancelled upload.

        Runs as its own task and is awaited through a shield: when the caller was cancelled,
        the clean-up must still finish (and a second cancellation must not stop it).
        """

        async def discard() -> None:
            # The worker may still be sending a part; once its read() fails minio aborts the
            # multipart upload. Wait for that so the removal below is the last word.
            with contextlib.suppress(BaseException):
                await asyncio.wrap_future(upload)
            with contextlib.suppress(Exception):
                await self._call(self._client.remove_object, self.bucket, key)
            await source.aclose()

        task = asyncio.ensure_future(discard())
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(task)


class _ChunkSource:
    """A blocking file-like view of an async iterator of chunks, read by minio in a thread.

    Each chunk is fetched from the event loop only when minio's read() needs it, so nothing
    runs ahead of the upload: besides minio's part buffer, this holds at most the part being
    assembled. Counting, hashing and copying happen here, on the bytes as they pass.
    """

    def __init__(
        self,
        chunks: AsyncIterable[bytes],
        loop: asyncio.AbstractEventLoop,
        max_bytes: int,
        chunk_timeout: float,
        copy_to: IO[bytes] | None = None,
    ) -> None:
        self._chunks = aiter(chunks)
        self._copy_to = copy_to
        self._loop = loop
        self._max_bytes = max_bytes
        self._chunk_timeout = chunk_timeout
        self._rest = memoryview(b"")  # unread tail of the current chunk
        self._exhausted = False
        self._hash = hashlib.sha256()
        self._aborted = threading.Event()
        self._waiting: concurrent.futures.Future[bytes | None] | None = None
        self._lock = threading.Lock()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes; fewer only at the end of the stream (like a buffered file)."""
        if size is None or size < 0:
            raise ValueError("read() needs a size: reading all would hold the whole file")
        pieces: list[memoryview] = []
        wanted = size
        while wanted > 0:
            if not self._rest:
                chunk = self._next_chunk()
                if chunk is None:
                    break
                self._rest = memoryview(chunk)
            piece = self._rest[:wanted]
            self._rest = self._rest[wanted:]
            pieces.append(piece)
            wanted -= len(piece)
        # One join for the whole part: returning small pieces would make minio grow its
        # part with `+=`, copying a 5 MiB buffer once per 64 KiB chunk.
        return b"".join(pieces)

    def sha256_hex(self) -> str:
        return self._hash.hexdigest()

    def abort(self) -> None:
        """Make the worker's read() fail at once, so minio aborts the upload."""
        self._aborted.set()
        with self._lock:
            if self._waiting is not None:
                self._waiting.cancel()  # also cancels the pending __anext__ on the loop

    async def aclose(self) -> None:
        """Close the source if it is an async generator (after a failed upload)."""
        close = getattr(self._chunks, "aclose", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()

    def _next_chunk(self) -> bytes | None:
        while not self._exhausted:
            chunk = self._fetch()
            if chunk is None:
                self._exhausted = True
                break
            if not isinstance(chunk, bytes | bytearray | memoryview):
                raise TypeError(f"upload chunks must be bytes, got {type(chunk).__name__}")
            if not chunk:
                continue  # empty chunks (ASGI servers end bodies with one) carry nothing
            # Our own copy: slices of it are sent later, and a bytearray could change.
            chunk = bytes(chunk)
            self.size += len(chunk)
            if self.size > self._max_bytes:
                raise UploadTooLarge(self._max_bytes)
            self._hash.update(chunk)
            if self._copy_to is not None:
                try:
                    self._copy_to.write(chunk)
                except (OSError, ValueError) as error:  # ValueError: the copy was closed
                    raise CopyFailed(f"the copy of the upload could not be written: {error}") from error
            return chunk
        return None

    def _fetch(self) -> bytes | None:
        if self._aborted.is_set():
            raise _UploadAborted
        future = asyncio.run_coroutine_threadsafe(self._anext(), self._loop)
        with self._lock:
            self._waiting = future
        if self._aborted.is_set():  # abort() ran between the check above and the assignment
            future.cancel()
        try:
            return future.result(timeout=self._chunk_timeout)
        except concurrent.futures.CancelledError:
            raise _UploadAborted from None
        except TimeoutError:
            future.cancel()
            raise UploadStalled(self._chunk_timeout) from None
        finally:
            with self._lock:
                self._waiting = None

    async def _anext(self) -> bytes | None:
        try:
            return await anext(self._chunks)
        except StopAsyncIteration:
            return None


async def peek(chunks: AsyncIterable[bytes], size: int) -> tuple[bytes, AsyncIterator[bytes]]:
    """The first `size` bytes of a stream (fewer if it is shorter), and the whole stream.

    For sniffing the file type before deciding to store: `head, body = await peek(request
    .stream(), SNIFF_BYTES)`, check `head`, then `put_stream(key, body, ...)`. Only the
    chunks needed to reach `size` are read ahead.
    """
    iterator = aiter(chunks)
    buffered: list[bytes] = []
    have = 0
    while have < size:
        try:
            chunk = await anext(iterator)
        except StopAsyncIteration:
            break
        buffered.append(chunk)
        have += len(chunk)

    async def whole() -> AsyncIterator[bytes]:
        for chunk in buffered:
            yield chunk
        buffered.clear()
        async for chunk in iterator:
            yield chunk

    return b"".join(buffered)[:size], whole()


def attachment_header(filename: str) -> str:
    """`Content-Disposition` for a download named `filename` (RFC 6266 / RFC 5987)."""
    fallback = "".join(
        char if 0x20 <= ord(char) < 0x7F and char not in '"\\' else "_" for char in filename
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
