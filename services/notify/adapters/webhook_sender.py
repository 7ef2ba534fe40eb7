"""POSTs one signed webhook and reports what happened, never raising for the receiver's
failures (they are the delivery log's business, not an exception).

Each attempt resolves the URL's host once and connects only to an address of that answer:
the URL handed to httpx names the IP address, while the Host header and TLS (SNI and the
certificate check) keep the host name. httpx never resolves the name itself, so a DNS
answer that changes after the check (DNS rebinding) cannot redirect the request."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from http.cookiejar import CookieJar, DefaultCookiePolicy

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
    """Every address getaddrinfo gives for `host`: the addresses the connection may go to."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class TargetRefused(Exception):
    """The webhook's host is, or resolves to, an address webhooks may not go to."""


class WebhookSender:
    """Every attempt resolves the URL's host and connects to one of the addresses it got.
    `allow_private_targets` False (production): the attempt fails permanently, unsent, if
    any of them is not public (see domain/subscriptions.py)."""

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
        self._client = client or webhook_client(timeout_s=timeout_s)

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
                target = httpx.URL(url)
                addresses = await self._addresses_to_connect_to(target)
                status, excerpt = await self._post(target, addresses, body, headers)
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

    async def _addresses_to_connect_to(self, target: httpx.URL) -> list[str]:
        """The addresses the URL's host resolves to, in the resolver's order, without
        repeats; TargetRefused (unless private targets are allowed) when any is not public."""
        host = target.raw_host.decode("ascii")  # IDNA-encoded, as httpx would send it
        addresses = list(dict.fromkeys(await self._resolve(host, _port(target))))
        if not addresses:
            raise socket.gaierror(f"no address for {host}")
        if self.allow_private_targets:
            return addresses
        for text in addresses:
            address = ipaddress.ip_address(text.split("%", 1)[0])
            kind = non_public_kind(address)
            if kind is not None:
                shown = host if host == text else f"{host} resolves to {text}, which"
                raise TargetRefused(
                    f"{shown} is not a public address ({kind}); webhooks go to public addresses only"
                )
        return addresses

    async def _post(
        self, target: httpx.URL, addresses: list[str], body: bytes, headers: dict[str, str]
    ) -> tuple[int, str | None]:
        """POSTs to the first of `addresses` that accepts a connection: the status and an
        excerpt of the answer."""
        *others, last = addresses
        for address in others:
            try:
                return await self._post_to(target, address, body, headers)
            except httpx.ConnectError:  # nothing was sent (e.g. no IPv6 route): next address
                continue
        return await self._post_to(target, last, body, headers)

    async def _post_to(
        self, target: httpx.URL, address: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, str | None]:
        """POSTs to `target` over a connection to `address`, presenting the URL's host
        name in the Host header and to TLS (SNI, certificate check)."""
        host = target.raw_host.decode("ascii")
        async with self._client.stream(
            "POST",
            target.copy_with(host=address),
            content=body,
            headers={**headers, "Host": target.netloc.decode("ascii")},
            extensions={"sni_hostname": host},
        ) as response:
            return response.status_code, await _read_excerpt(response)


def webhook_client(*, timeout_s: float, verify: ssl.SSLContext | bool = True) -> httpx.AsyncClient:
    """The HTTP client webhooks are sent with (`verify`: other certificate authorities to
    trust, for tests)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s),
        verify=verify,
        # Redirects are not followed: a signed body must not be forwarded elsewhere (nor
        # sent to an address that was not checked).
        follow_redirects=False,
        trust_env=False,
        # Requests name IP addresses, so pooled connections and cookies would be keyed by
        # address: a TLS connection opened (and its certificate checked) for one host name
        # would carry another host's webhook, and one receiver's cookies would go to
        # every receiver sharing its address.
        limits=httpx.Limits(max_keepalive_connections=0),
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
    )


def _port(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


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
