"""Evidence files, fetched from object storage for the pages that show them.

The evidence service hands out a presigned GET URL for an item's file (valid a few minutes,
`Content-Disposition: attachment`, on the storage's own origin). A page cannot frame that
(another origin, an attachment), so the web app fetches the bytes itself and passes them on,
chunk by chunk — never whole in memory — from its own origin with its own headers.

The URL is signed for the host browsers reach (`INOVASI_EVIDENCE_PUBLIC_S3_URL`, e.g.
`http://localhost:9000` in compose), which the web app's container may not reach. The
signature covers the `Host` header, not the address connected to: a URL on the public origin
is fetched from `s3_endpoint` (the address the services reach storage at) with the public
host kept in `Host`. Only those two origins are fetched from: the URL comes from the
evidence service, but the web app is no general-purpose fetcher.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from services.common.errors import NotFound, Unavailable
from services.common.logging import get_logger

log = get_logger(__name__)

CHUNK_BYTES = 64 * 1024


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


@dataclass
class OpenedFile:
    """A file being fetched: its length (when storage said it) and its bytes, in chunks.
    `aclose` releases the connection (also when the reader stops early)."""

    length: int | None
    _response: httpx.Response

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.aiter_bytes(CHUNK_BYTES):
                yield chunk
        except httpx.TransportError as exc:  # storage went away midway: the answer is cut short
            log.warning("evidence file transfer broke off", error=repr(exc))
        finally:
            await self._response.aclose()

    async def aclose(self) -> None:
        await self._response.aclose()


class FileStore:
    """Fetches an evidence file by its presigned URL. One per process (an HTTP client)."""

    def __init__(self, internal_url: str, public_url: str | None = None, *, timeout_s: float = 10.0,
                 client: httpx.AsyncClient | None = None) -> None:
        self._internal = _origin(internal_url)
        self._public = _origin(public_url) if public_url else None
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(timeout_s), follow_redirects=False)

    def _target(self, url: str) -> tuple[str, dict[str, str]]:
        """The URL to connect to and the headers to send: a public-origin URL goes to the
        internal endpoint with the public host in `Host` (the signature covers it)."""
        origin = _origin(url)
        if origin == self._internal:
            return url, {}
        if origin == self._public and self._public != self._internal:
            parts = urlsplit(url)
            scheme, netloc = self._internal
            return urlunsplit((scheme, netloc, parts.path, parts.query, "")), {"Host": parts.netloc}
        log.warning("evidence file URL on an unexpected origin; not fetched", origin=f"{origin[0]}://{origin[1]}")
        raise Unavailable(reason="the evidence file is stored where this server does not fetch from")

    async def open(self, url: str) -> OpenedFile:
        target, headers = self._target(url)
        request = self._client.build_request("GET", target, headers=headers)
        try:
            response = await self._client.send(request, stream=True)
        except httpx.TransportError as exc:
            log.warning("object storage unreachable for an evidence file", error=repr(exc))
            raise Unavailable(reason="the file storage did not answer") from None
        if response.status_code == 404:
            await response.aclose()
            raise NotFound.named("evidence file")
        if response.status_code != 200:
            await response.aclose()
            log.warning("object storage refused an evidence file", status=response.status_code)
            raise Unavailable(reason=f"the file storage answered {response.status_code}")
        length = response.headers.get("content-length", "")
        return OpenedFile(int(length) if length.isdigit() else None, response)

    async def aclose(self) -> None:
        await self._client.aclose()


__all__ = ["FileStore", "OpenedFile"]
