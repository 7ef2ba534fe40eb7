"""POSTs one signed webhook and reports what happened, never raising for the receiver's
failures (they are the delivery log's business, not an exception).

Each attempt resolves the URL's host once and connects only to an address of that answer:
the URL handed to httpx names the IP address, while the Host header and TLS (SNI and the
certificate check) keep the host name. httpx never resolves the name itself, so a DNS
answer that changes after the check (DNS rebinding) cannot redirect the request.

Connections are kept alive, per receiver host name: each (scheme, host name, port) has its
own HTTP client, whose pool holds connections to the addresses that name resolved to and
was checked for. So a kept connection
  * is used only for a request to the address this attempt resolved and checked (httpx's
    pool is keyed by the URL's origin, which names the IP address): after a DNS change the
    request opens a connection to the new, checked, address, never the old one;
  * carries only that host name's webhooks: a TLS connection whose certificate was checked
    for one name never carries another name's request, though both resolve to one address
    (one client per name, not one for all, whose pool would be keyed by address alone);
  * shares no cookies: every client's jar refuses all cookies, and clients are per name.
Clients unused for `IDLE_CLIENT_S` are closed, and at most `MAX_CLIENTS` are kept."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from collections import OrderedDict
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
    """Every address getaddrinfo gives for `host`: the addresses the connection may go to.
    An IP address is its own answer (without a trip to getaddrinfo's thread)."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
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
        verify: ssl.SSLContext | bool = True,
        keep_alive: int = 4,
    ) -> None:
        """`client`: one client for every host (tests with a stand-in transport); by default
        each host name gets its own (see the module's docstring), keeping up to `keep_alive`
        idle connections, checking certificates against `verify`."""
        self.timeout_s = timeout_s
        self.allow_private_targets = allow_private_targets
        self._resolve = resolver
        self._shared = client
        self._verify = verify
        self._keep_alive = keep_alive
        self._clients: OrderedDict[tuple[str, str, int], _Client] = OrderedDict()
        self._closing: set[asyncio.Future[None]] = set()
        self._swept_at = time.monotonic()

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), OrderedDict()
        if self._shared is not None:
            await self._shared.aclose()
        for client in clients:
            await client.http.aclose()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    def _client_for(self, target: httpx.URL) -> httpx.AsyncClient:
        if self._shared is not None:
            return self._shared
        now = time.monotonic()
        if now - self._swept_at >= SWEEP_S:
            self._swept_at = now
            self._close_idle(now)
        key = (target.scheme, target.raw_host.decode("ascii"), _port(target))
        client = self._clients.get(key)
        if client is None:
            client = _Client(webhook_client(timeout_s=self.timeout_s, verify=self._verify, keep_alive=self._keep_alive))
            self._clients[key] = client
            while len(self._clients) > MAX_CLIENTS:
                _, oldest = self._clients.popitem(last=False)
                self._close_later(oldest)
        else:
            self._clients.move_to_end(key)
        client.used_at = now
        return client.http

    def _close_idle(self, now: float) -> None:
        for key, client in list(self._clients.items()):
            if now - client.used_at >= IDLE_CLIENT_S:
                del self._clients[key]
                self._close_later(client)

    def _close_later(self, client: _Client) -> None:
        # Closing waits for nothing in flight: a request still using it has its own
        # connection, which httpx closes when the request ends.
        task = asyncio.ensure_future(client.http.aclose())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

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
        async with self._client_for(target).stream(
            "POST",
            target.copy_with(host=address),
            content=body,
            headers={**headers, "Host": target.netloc.decode("ascii")},
            extensions={"sni_hostname": host},
        ) as response:
            return response.status_code, await _read_excerpt(response)


# A receiver host's client (and its kept connections) is closed after this long unused;
# idle clients are looked for at most every SWEEP_S; at most MAX_CLIENTS are kept.
IDLE_CLIENT_S = 30.0
SWEEP_S = 5.0
MAX_CLIENTS = 256


class _Client:
    __slots__ = ("http", "used_at")

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.used_at = time.monotonic()


def webhook_client(
    *, timeout_s: float, verify: ssl.SSLContext | bool = True, keep_alive: int = 0
) -> httpx.AsyncClient:
    """An HTTP client webhooks are sent with: for ONE receiver host name when `keep_alive`
    (idle connections kept) is more than 0 (`verify`: other certificate authorities to
    trust, for tests)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s),
        verify=verify,
        # Redirects are not followed: a signed body must not be forwarded elsewhere (nor
        # sent to an address that was not checked).
        follow_redirects=False,
        trust_env=False,
        # Requests name IP addresses, so pooled connections are keyed by address: shared by
        # several host names, a TLS connection opened (and its certificate checked) for one
        # of them would carry another's webhook. Hence connections are kept only by a client
        # of one host name (WebhookSender), and no client keeps any cookie.
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=keep_alive, keepalive_expiry=IDLE_CLIENT_S),
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
