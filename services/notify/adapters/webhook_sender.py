"""POSTs one signed webhook and reports what happened, never raising for the receiver's
failures (they are the delivery log's business, not an exception)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable

import httpx

from services.notify.domain import signing
from services.notify.domain.retry import AttemptResult
from services.notify.domain.subscriptions import non_public_kind
from services.notify.domain.text import pg_text

USER_AGENT = "inovasi-notify/1"
EXCERPT_BYTES = 500  # of the receiver's answer, kept in the log for the region's admin
ERROR_CHARS = 500  # of an error's text, kept in the log

# host, port -> the IP addresses a connection to it could go to
Resolver = Callable[[str, int], Awaitable[list[str]]]


async def resolve(host: str, port: int) -> list[str]:
    """Every address getaddrinfo gives for `host` (what the connection will try)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class TargetRefused(Exception):
    """The webhook's host is, or resolves to, an address webhooks may not go to."""


class WebhookSender:
    """`allow_private_targets` False (production): before each attempt the URL's host is
    resolved, and the attempt fails permanently, unsent, if any address it resolves to is
    not public (see domain/subscriptions.py)."""

    def __init__(
        self,
        *,
        timeout_s: float,
        allow_private_targets: bool = False,
        client: httpx.AsyncClient | None = None,
        resolver: Resolver = resolve,
    ) -> None:
        self.timeout_s = timeout_s
        self.allow_private_targets = allow_private_targets
        self._resolve = resolver
        # Redirects are not followed: a signed body must not be forwarded elsewhere (nor
        # sent to an address that was not checked).
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s), follow_redirects=False, trust_env=False
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    def headers(
        self, *, delivery_id: int, event_id: str, kind: str, secret: str, body: bytes, now: float
    ) -> dict[str, str]:
        timestamp = int(now)
        return {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            signing.EVENT_ID_HEADER: event_id,
            signing.KIND_HEADER: kind,
            signing.DELIVERY_HEADER: str(delivery_id),
            signing.TIMESTAMP_HEADER: str(timestamp),
            signing.SIGNATURE_HEADER: signing.sign(secret, timestamp, body),
        }

    async def send(self, url: str, body: bytes, headers: dict[str, str]) -> AttemptResult:
        started = time.perf_counter()
        try:
            # One deadline for the whole exchange: httpx's timeout is per read, which a
            # receiver trickling bytes could stretch indefinitely.
            async with asyncio.timeout(self.timeout_s):
                if not self.allow_private_targets:
                    await self._check_target(url)
                async with self._client.stream("POST", url, content=body, headers=headers) as response:
                    excerpt = await _read_excerpt(response)
                    status = response.status_code
        except TargetRefused as exc:  # retrying cannot help: fail now, send nothing
            return AttemptResult(None, _error_text(f"refused: {exc}"), _ms(started), permanent=True)
        except TimeoutError:
            return AttemptResult(None, f"timed out after {self.timeout_s:g}s", _ms(started))
        except httpx.TimeoutException as exc:
            return AttemptResult(None, f"timed out ({type(exc).__name__})", _ms(started))
        except socket.gaierror as exc:  # may be temporary (DNS down): retried
            return AttemptResult(None, _error_text(f"cannot resolve the host: {exc}"), _ms(started))
        except httpx.HTTPError as exc:
            return AttemptResult(None, _error_text(f"{type(exc).__name__}: {exc}"), _ms(started))
        except Exception as exc:  # e.g. httpx.InvalidURL: still an attempt, recorded as failed
            return AttemptResult(None, _error_text(f"{type(exc).__name__}: {exc}"), _ms(started))
        return AttemptResult(status, None, _ms(started), excerpt)

    async def _check_target(self, url: str) -> None:
        """TargetRefused when any address the URL's host resolves to is not public."""
        parsed = httpx.URL(url)  # what the client will connect to (IDNA-encoded host)
        host = parsed.raw_host.decode("ascii")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        addresses = await self._resolve(host, port)
        if not addresses:
            raise socket.gaierror(f"no address for {host}")
        for text in addresses:
            address = ipaddress.ip_address(text.split("%", 1)[0])
            kind = non_public_kind(address)
            if kind is not None:
                shown = host if host == text else f"{host} resolves to {text}, which"
                raise TargetRefused(
                    f"{shown} is not a public address ({kind}); webhooks go to public addresses only"
                )


async def _read_excerpt(response: httpx.Response) -> str | None:
    """The start of the answer, as text PostgreSQL can store (NUL bytes dropped)."""
    data = b""
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) >= EXCERPT_BYTES:
            break
    if not data:
        return None
    return pg_text(data[:EXCERPT_BYTES].decode("utf-8", "replace"), limit=EXCERPT_BYTES) or None


def _error_text(text: str) -> str:
    return pg_text(text, limit=ERROR_CHARS) or ""


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
