"""Object storage (S3 / MinIO) for evidence files, for asyncio code.

The official `minio` client is synchronous (urllib3) and its maintainers have no asyncio
plans, so this adapter shares one thread-safe `Minio` client and runs its calls in worker
threads. Two things matter beyond that:

* **Uploads are streamed.** A file whose length is known (the request's Content-Length, as
  browsers and curl send it) and larger than one part goes to storage as one PUT whose body
  is the request's chunks as they arrive (`_StreamedPut`): storage receives while the client
  sends, and about 1 MiB is held. One of unknown length is gathered on the event loop into
  parts (5 MiB) sent from worker threads while the next one is received, with at most two
  parts in flight (`_StreamedUpload`). Either way memory is bounded however large the file
  (see tests/integration/evidence/test_object_store_memory.py), and each chunk is copied at
  most once. SHA-256 and the size are computed on the same pass, off the event loop, and the
  bytes can be copied on the way to a file the caller gives (`copy_to`: the upload handler
  checks the file's structure from that copy, so nothing reads the object back); a stream
  over the cap is refused before its excess is sent or copied, and whatever was written is
  aborted and removed. The digest is the object's metadata (`x-amz-meta-sha256`, for a file
  of one part, sent once complete) or its tag `sha256` (when the headers went out before the
  digest was known; tagging rewrites nothing, where a copy onto itself would rewrite the
  whole object).
* **Nothing waits forever.** The urllib3 pool has short timeouts (minio's default is five
  minutes); a client that stops sending mid-upload is cut off after `chunk_timeout`; uploads
  run on their own bounded thread pool (and at most `max_concurrent_uploads` at once), so
  slow uploads cannot starve readiness probes or metadata calls (nor anything else in the
  process that uses the default executor).

Presigned URLs are computed locally (the region is configured, so no lookup request) and
live at most 15 minutes.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import contextvars
import functools
import hashlib
import os
import threading
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import IO, Any, TypeVar, cast
from urllib.parse import SplitResult, quote, urlsplit

import certifi
import urllib3
from minio import Minio
from minio.commonconfig import Tags
from minio.datatypes import Part
from minio.error import MinioException, S3Error, ServerError

MiB = 1024 * 1024
# S3's minimum part size, and the most memory one part buffer takes. Larger parts mean
# fewer requests but proportionally more memory per concurrent upload.
DEFAULT_PART_SIZE = 5 * MiB
# Parts of one upload sent at once: one being sent while the next is received is what
# overlaps receiving with sending; a second one covers a storage server that is briefly slower.
DEFAULT_PARALLEL_PARTS = 2
# The largest object S3 stores with one PUT; a larger file of known length is a multipart upload.
MAX_SINGLE_PUT = 5 * 1024 * MiB
# Bytes of a streamed PUT received but not yet taken by the thread that sends them.
STREAMED_PUT_BUFFER = 1 * MiB
MAX_PRESIGNED_EXPIRY = timedelta(minutes=15)
DEFAULT_PRESIGNED_EXPIRY = timedelta(minutes=5)
# The hex digest of the content: the user metadata header `x-amz-meta-sha256` of an object
# stored with one PUT, the tag `sha256` of one stored as a multipart upload.
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


class LengthMismatch(ObjectStoreError):
    """The source yielded another number of bytes than the length it announced; nothing of
    it is left in storage."""

    def __init__(self, declared: int, received: int) -> None:
        qualifier = "at least " if received > declared else ""
        super().__init__(f"the upload announced {declared} bytes but sent {qualifier}{received}")
        self.declared = declared
        self.received = received


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
    # Parts of one upload in flight at once (being hashed and sent) while the next one is
    # received: memory per upload is about this many parts plus one.
    parallel_parts: int = DEFAULT_PARALLEL_PARTS
    # How long an upload may wait for the next chunk of the request body.
    chunk_timeout: float = 60.0
    # The same while a streamed PUT (see _StreamedPut) holds a request open on storage,
    # which would otherwise cut it off as idle (S3: RequestTimeout after about 20 s).
    streamed_put_stall_timeout: float = 15.0
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
        if settings.parallel_parts < 1:
            raise ValueError("parallel_parts must be at least 1")
        self.bucket = settings.bucket
        self._settings = settings
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=settings.connect_timeout, read=settings.read_timeout),
            # One connection per thread that can use it, so no thread waits for a socket.
            maxsize=self._upload_thread_count(settings) + settings.max_concurrent_calls,
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
        # Uploads get their own threads (their parts, hashing and multipart calls), so short
        # calls (stat, delete, ping) never queue behind a part being sent; and at most
        # max_concurrent_uploads stream at once (the others wait before reading their body).
        self._upload_threads = concurrent.futures.ThreadPoolExecutor(
            self._upload_thread_count(settings), thread_name_prefix="object-store-upload"
        )
        self._upload_slots = asyncio.Semaphore(settings.max_concurrent_uploads)
        self._call_threads = concurrent.futures.ThreadPoolExecutor(
            settings.max_concurrent_calls, thread_name_prefix="object-store-call"
        )
        self._cleanups: set[asyncio.Task[None]] = set()

    @staticmethod
    def _upload_thread_count(settings: ObjectStoreSettings) -> int:
        # Per upload: its parts in flight, and the hashing of one of them.
        return settings.max_concurrent_uploads * (settings.parallel_parts + 1)

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
        length: int | None = None,
    ) -> StoredObject:
        """Stream `chunks` into a new object at `key`, never holding the whole file.

        `length`, when known (a request's Content-Length), is the number of bytes `chunks`
        yields: a file longer than one part is then sent as one streamed PUT (see
        `_StreamedPut`) rather than a multipart upload; a source that yields another number
        of bytes raises LengthMismatch, and one announcing more than `max_bytes` is refused
        before anything is read.

        `key` must be fresh (see services.evidence.domain.object_keys): on any failure the
        key is removed. Raises UploadTooLarge past `max_bytes`, UploadStalled when the source
        sends nothing for `chunk_timeout`, CopyFailed when `copy_to` cannot be written, or
        whatever the source or storage raised; in every case nothing is left stored. If the
        awaiting task is cancelled (the client went away), the upload is aborted and cleaned
        up before the cancellation propagates.

        With `copy_to`, every byte stored is also written to it (from a worker thread, part
        by part, in order; the caller flushes and closes it). What it holds after a failure
        is partial and meaningless.
        """
        if max_bytes < 0:
            raise ValueError("max_bytes must not be negative")
        if length is not None and length > max_bytes:
            raise UploadTooLarge(max_bytes)
        async with self._upload_slots:
            upload: _StreamedUpload | _StreamedPut
            if length is not None and self._settings.part_size < length <= MAX_SINGLE_PUT:
                upload = _StreamedPut(self, key, content_type, copy_to, length)
            else:
                upload = _StreamedUpload(self, key, content_type, copy_to)
            try:
                await upload.run(chunks, max_bytes)
            except BaseException:
                await self._discard(upload, chunks)
                raise
        return StoredObject(key=key, size=upload.size, sha256=upload.sha256, content_type=content_type)

    async def stat(self, key: str) -> StoredObject:
        try:
            info = await self._call(self._client.stat_object, self.bucket, key)
        except S3Error as error:
            if error.code in _NOT_FOUND_CODES:
                raise ObjectNotFound(key) from error
            raise
        sha256 = (info.metadata or {}).get(_SHA256_HEADER)
        if sha256 is None:  # a multipart upload's digest is its tag (see _StreamedUpload)
            tags = await self._call(self._client.get_object_tags, self.bucket, key)
            sha256 = tags.get(SHA256_METADATA) if tags is not None else None
        return StoredObject(
            key=key,
            size=int(info.size or 0),
            sha256=sha256,
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

    async def _discard(self, upload: _StreamedUpload | _StreamedPut, chunks: AsyncIterable[bytes]) -> None:
        """Leave nothing behind for a failed or cancelled upload.

        Runs as its own task and is awaited through a shield: when the caller was cancelled,
        the clean-up must still finish (and a second cancellation must not stop it).
        """

        async def discard() -> None:
            await upload.discard()
            close = getattr(chunks, "aclose", None)  # the source, if it is an async generator
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()

        task = asyncio.ensure_future(discard())
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(task)


class _Upload:
    """What every upload of `put_stream` has: its storage calls on the adapter's upload
    threads (remembered, so that `discard` waits for them), the digest and the caller's copy
    computed on the way, and the digest as a tag once the object is complete."""

    def __init__(self, store: ObjectStore, key: str, content_type: str, copy_to: IO[bytes] | None) -> None:
        self._store = store
        self._client = store._client
        self._bucket = store.bucket
        self._key = key
        self._content_type = content_type
        self._copy_to = copy_to
        self._loop = asyncio.get_running_loop()
        self._hash = hashlib.sha256()
        self._calls: list[asyncio.Future[Any]] = []  # every call to storage, for discard()
        self.size = 0
        self.sha256 = ""

    def _hash_and_copy(self, data: bytes | bytearray) -> None:
        self._hash.update(data)
        if self._copy_to is not None:
            try:
                self._copy_to.write(data)
            except (OSError, ValueError) as error:  # ValueError: the copy was closed
                raise CopyFailed(f"the copy of the upload could not be written: {error}") from error

    async def _tag_digest(self) -> None:
        """The digest, known once the headers went out, as the complete object's tag."""
        self.sha256 = self._hash.hexdigest()
        tags = Tags.new_object_tags()
        tags[SHA256_METADATA] = self.sha256
        await asyncio.shield(self._call(self._client.set_object_tags, self._bucket, self._key, tags))

    def _call(self, function: Callable[..., T], /, *args: Any) -> asyncio.Future[T]:
        """`function(*args)` on the adapter's upload threads, remembered for discard(), which
        waits for every call before it cleans up. Awaited through `asyncio.shield`: a thread
        cannot be stopped, so a cancelled caller must not lose the call's result (an upload
        id, an object stored after all). Like asyncio.to_thread, the caller's context
        variables (log ids) follow the call."""
        context = contextvars.copy_context()
        future = self._loop.run_in_executor(
            self._store._upload_threads, functools.partial(context.run, function, *args)
        )
        self._calls.append(future)
        return future


class _StreamedUpload(_Upload):
    """One upload: the request's chunks, gathered on the event loop into parts, sent to
    storage from worker threads while the next part is being received.

    * **Pipelined.** A full part goes out as soon as the first byte after it arrives (only
      then is it known not to be the last), while the loop goes on receiving; at most
      `parallel_parts` parts are in flight, so memory is bounded by about
      `parallel_parts + 1` parts whatever the file's size, and a client faster than storage
      is slowed down by TCP, not buffered.
    * **One copy of each chunk.** The chunks are appended once to the part's buffer, which
      is handed to minio's part upload as it is (no join, no slicing of the part, no
      `+=` of part buffers as minio's `put_object` does for a stream of unknown length).
    * **Hashing and the caller's copy off the event loop,** part by part, in order, on a
      worker thread (`hashlib` releases the GIL), alongside that part's upload.
    * **The SHA-256 without rewriting the object.** A file of at most one part is sent
      with one PUT once it is complete, with the digest in its metadata
      (`x-amz-meta-sha256`). A larger one is a multipart upload whose headers are sent
      before its digest is known: the digest becomes its tag `sha256` after completion (a
      tagging request changes no data, where a copy of the object onto itself with new
      metadata makes S3 and moto rewrite every byte). `stat()` reads either.

    minio's `put_object` offers none of the above for a stream, so the S3 calls are
    minio's own multipart primitives (`_create_multipart_upload`, `_upload_part`,
    `_complete_multipart_upload`, `_abort_multipart_upload`, `_put_object`): the same
    signing, retries and error types; minio is pinned below 8 in pyproject.toml.
    """

    def __init__(self, store: ObjectStore, key: str, content_type: str, copy_to: IO[bytes] | None) -> None:
        super().__init__(store, key, content_type, copy_to)
        self._part_size = store._settings.part_size
        self._parallel = store._settings.parallel_parts
        self._digested: asyncio.Future[None] | None = None  # the latest part's hashing (a chain)
        self._in_flight: list[asyncio.Future[Any]] = []  # parts not yet hashed, copied and sent
        self._etags: dict[int, asyncio.Future[str]] = {}
        self._upload_id: asyncio.Future[str] | None = None

    async def run(self, chunks: AsyncIterable[bytes], max_bytes: int) -> None:
        held: bytearray | None = None  # a full part, sent once a byte after it arrives
        buffer = bytearray()
        async for chunk in _received(chunks, self._store._settings.chunk_timeout):
            self.size += len(chunk)
            if self.size > max_bytes:
                raise UploadTooLarge(max_bytes)
            view = memoryview(chunk)
            while view:
                if held is not None:  # more follows: the held part is not the last
                    await self._send_part(held)
                    held = None
                room = self._part_size - len(buffer)
                buffer += view[:room]
                view = view[room:]
                if len(buffer) == self._part_size:
                    held, buffer = buffer, bytearray()
        if not self._etags:  # at most one part: one PUT, the digest in its metadata
            await self._put_whole(held if held is not None else buffer)
            return
        for last in (held, buffer):
            if last:
                await self._send_part(last)
        await self._complete()

    # --- parts ---------------------------------------------------------------------------

    async def _send_part(self, part: bytearray) -> None:
        """Hash, copy and upload `part` in worker threads; return once fewer than
        `parallel_parts` parts are in flight (a failure of an earlier one is raised here)."""
        if self._upload_id is None:
            headers = {"Content-Type": self._content_type}
            self._upload_id = self._call(self._client._create_multipart_upload, self._bucket, self._key, headers)
        upload_id = await asyncio.shield(self._upload_id)
        number = len(self._etags) + 1
        self._etags[number] = self._call(
            self._client._upload_part, self._bucket, self._key, part, None, upload_id, number
        )
        self._in_flight.append(asyncio.gather(self._digest(part), self._etags[number]))
        while len(self._in_flight) >= self._parallel:
            done, _ = await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)
            for future in done:
                future.result()  # raises the part's failure (storage, CopyFailed)
            self._in_flight = [future for future in self._in_flight if not future.done()]

    def _digest(self, part: bytearray) -> asyncio.Future[None]:
        """Hash and copy `part` after the parts before it (a chain of worker-thread jobs)."""
        previous = self._digested

        async def digest() -> None:
            if previous is not None:
                await previous
            await asyncio.shield(self._call(self._hash_and_copy, part))

        self._digested = asyncio.ensure_future(digest())
        return self._digested

    async def _complete(self) -> None:
        await asyncio.shield(asyncio.gather(*self._in_flight))
        parts = [Part(number, etag.result()) for number, etag in sorted(self._etags.items())]
        upload_id = cast("asyncio.Future[str]", self._upload_id).result()
        await asyncio.shield(
            self._call(self._client._complete_multipart_upload, self._bucket, self._key, upload_id, parts)
        )
        await self._tag_digest()

    async def _put_whole(self, data: bytearray) -> None:
        def put() -> None:
            self._hash_and_copy(data)
            self.sha256 = self._hash.hexdigest()
            headers: dict[str, str | list[str] | tuple[str]] = {
                "Content-Type": self._content_type, _SHA256_HEADER: self.sha256,
            }
            # A bytearray is sent as it is (urllib3 takes any buffer; minio only measures
            # and hashes it), though minio's signature says bytes.
            self._client._put_object(self._bucket, self._key, cast(bytes, data), headers)

        await asyncio.shield(self._call(put))

    # --- failure -------------------------------------------------------------------------

    async def discard(self) -> None:
        """After a failure: let the calls under way end (a thread cannot be interrupted; the
        storage timeouts bound them), then abort the multipart upload and remove the key."""
        await asyncio.gather(*self._calls, *self._in_flight, return_exceptions=True)
        upload_id = self._upload_id
        if upload_id is not None and not upload_id.cancelled() and upload_id.exception() is None:
            with contextlib.suppress(Exception):
                await self._store._call(
                    self._client._abort_multipart_upload, self._bucket, self._key, upload_id.result()
                )
        with contextlib.suppress(Exception):
            await self._store._call(self._client.remove_object, self._bucket, self._key)


class _StreamedPut(_Upload):
    """One upload of a known length longer than one part: a single PUT whose body is the
    request's chunks as they arrive.

    Storage receives the bytes while the client is still sending them, in one request, then
    the digest goes on as the object's tag `sha256` (as for a multipart upload, whose
    headers also go out before the digest is known). Against a multipart upload of the same
    file that saves the waiting for each part to be complete before it is sent, the
    create/complete calls, and the storage server's joining of the parts.

    The request is signed as a presigned URL (the payload unsigned, computed locally), so
    its body can be a stream: minio signs its own requests over plain HTTP with the
    payload's SHA-256, which needs the whole body before the headers. A worker thread sends
    the body, hashing and copying each chunk on the way; the event loop hands it the chunks
    through a `_ChunkPipe` holding at most STREAMED_PUT_BUFFER bytes, so memory stays flat
    and a client faster than storage is slowed down by TCP. A PUT is atomic: a body cut
    short (the client went away, the cap, a mismatch) stores nothing.
    """

    def __init__(
        self, store: ObjectStore, key: str, content_type: str, copy_to: IO[bytes] | None, length: int
    ) -> None:
        super().__init__(store, key, content_type, copy_to)
        self._length = length

    async def run(self, chunks: AsyncIterable[bytes], max_bytes: int) -> None:
        pipe = _ChunkPipe(STREAMED_PUT_BUFFER)
        url = self._client.presigned_put_object(self._bucket, self._key, MAX_PRESIGNED_EXPIRY)
        sent = self._call(self._send, url, pipe)
        # Also when the send never ran (its pool shut down): the writer must not wait for room.
        sent.add_done_callback(lambda _: pipe.stop_reading())
        settings = self._store._settings
        # Storage holds the request open while the client pauses, and servers cut an idle
        # request off (S3 after about 20 s): a pause that long is the client's stall.
        stall_timeout = min(settings.chunk_timeout, settings.streamed_put_stall_timeout)
        try:
            async for chunk in _received(chunks, stall_timeout):
                self.size += len(chunk)
                if self.size > max_bytes:
                    raise UploadTooLarge(max_bytes)
                if self.size > self._length:
                    raise LengthMismatch(self._length, self.size)
                if not await pipe.put(chunk):
                    break  # the sender stopped: its failure is raised below
            else:
                if self.size != self._length:
                    raise LengthMismatch(self._length, self.size)
                pipe.close()
            await asyncio.shield(sent)
        except BaseException:
            pipe.fail()  # a body not yet wholly sent is cut short: storage keeps nothing of it
            raise
        await self._tag_digest()

    def _send(self, url: str, pipe: _ChunkPipe) -> None:
        def body() -> Iterator[bytes]:
            while (chunk := pipe.get()) is not None:
                self._hash_and_copy(chunk)
                yield chunk

        headers = {"Content-Length": str(self._length), "Content-Type": self._content_type}
        try:
            # No retry: the body is a stream, read once.
            response = self._store._http.urlopen("PUT", url, body=body(), headers=headers, retries=False)
        finally:
            pipe.stop_reading()
        if response.status != 200:
            raise _s3_error(response, self._bucket, self._key)
        if pipe.unsent:  # storage answered before the whole body went out
            raise MinioException(f"storage answered {response.status} before the upload was sent")

    async def discard(self) -> None:
        """After a failure: let the sending end (its pipe has failed, so it stops at its next
        chunk), then remove the key (a PUT cut short stored nothing; one that completed did)."""
        await asyncio.gather(*self._calls, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._store._call(self._client.remove_object, self._bucket, self._key)


class _ChunkPipe:
    """Chunks handed by the event loop to one worker thread, in order, with at most `limit`
    bytes waiting: `put` (on the loop) waits while the pipe is full, `get` (in the thread)
    blocks while it is empty. The loop is woken only when it waits for room."""

    def __init__(self, limit: int) -> None:
        self._loop = asyncio.get_running_loop()
        self._limit = limit
        self._chunks: collections.deque[bytes] = collections.deque()
        self._waiting_bytes = 0
        self._condition = threading.Condition()
        self._room = asyncio.Event()
        self._writer_waits = False
        self._closed = False  # the writer put its last chunk
        self._failed = False  # the writer gave up: the reader stops
        self._reader_gone = False

    @property
    def unsent(self) -> bool:
        return bool(self._chunks) or not self._closed

    async def put(self, chunk: bytes) -> bool:
        """Hand over `chunk`; False when the reader is gone (it failed or was answered)."""
        while True:
            with self._condition:
                if self._reader_gone:
                    return False
                if self._waiting_bytes < self._limit:
                    self._chunks.append(chunk)
                    self._waiting_bytes += len(chunk)
                    self._condition.notify()
                    return True
                self._room.clear()
                self._writer_waits = True
            await self._room.wait()

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify()

    def fail(self) -> None:
        with self._condition:
            self._failed = True
            self._condition.notify()

    def get(self) -> bytes | None:
        """The next chunk; None after the last one; _UploadAborted once the writer failed."""
        with self._condition:
            while not self._chunks and not (self._closed or self._failed):
                self._condition.wait()
            if self._failed:
                raise _UploadAborted()
            if not self._chunks:
                return None
            chunk = self._chunks.popleft()
            self._waiting_bytes -= len(chunk)
            wake, self._writer_waits = self._writer_waits, False
        if wake:
            self._wake_writer()
        return chunk

    def stop_reading(self) -> None:
        with self._condition:
            self._reader_gone = True
        self._wake_writer()

    def _wake_writer(self) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            self._loop.call_soon_threadsafe(self._room.set)


def _s3_error(response: urllib3.BaseHTTPResponse, bucket: str, key: str) -> MinioException:
    """The error storage answered a request with, as minio raises it (S3Error with its code)."""
    if response.data and "xml" in response.headers.get("content-type", ""):
        with contextlib.suppress(Exception):
            return S3Error.fromxml(response)
    return ServerError(f"storage answered {response.status} to the PUT of {bucket}/{key}", response.status)


async def _received(chunks: AsyncIterable[bytes], timeout: float) -> AsyncIterator[bytes]:
    """The non-empty chunks of the source; UploadStalled when it sends nothing for
    `timeout` seconds (time spent waiting for storage does not count)."""
    iterator = aiter(chunks)
    while True:
        try:
            async with asyncio.timeout(timeout):
                chunk = await anext(iterator)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise UploadStalled(timeout) from None
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise TypeError(f"upload chunks must be bytes, got {type(chunk).__name__}")
        if chunk:  # empty chunks (ASGI servers end bodies with one) carry nothing
            yield chunk


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
