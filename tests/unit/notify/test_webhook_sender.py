"""The sender: which targets it refuses before connecting, where it connects, and what it
keeps of an answer. (tests/integration/notify/test_webhook_connections.py sends for real.)"""

from __future__ import annotations

import socket

import httpx
import pytest

from services.notify.adapters.webhook_sender import EXCERPT_BYTES, WebhookSender, resolve
from services.notify.domain.retry import outcome_of

URL = "https://hooks.example.org/iid"
PUBLIC, PUBLIC_V6 = "93.184.216.34", "2606:2800:220:1::1"


class Receiver:
    """An httpx transport standing in for the receiver; counts the requests it got. A
    connection to an address in `unreachable` fails (the request is not counted)."""

    def __init__(self, status: int = 200, content: bytes = b"ok", unreachable: tuple[str, ...] = ()) -> None:
        self.status, self.content, self.requests = status, content, []
        self.unreachable = unreachable

    def client(self) -> httpx.AsyncClient:
        def handle(request: httpx.Request) -> httpx.Response:
            if request.url.host in self.unreachable:
                raise httpx.ConnectError("[Errno 101] Network is unreachable", request=request)
            self.requests.append(request)
            return httpx.Response(self.status, content=self.content)

        return httpx.AsyncClient(transport=httpx.MockTransport(handle), follow_redirects=False)


def resolver_of(*addresses: str, calls: list | None = None):
    async def fake(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append((host, port))
        return list(addresses)

    return fake


async def send(sender: WebhookSender, url: str = URL):
    try:
        return await sender.send(url, b"{}", {"Content-Type": "application/json", "X-Inovasi-Signature": "sha256=test"})
    finally:
        await sender.aclose()


@pytest.mark.parametrize(
    "addresses, shown",
    [
        (["93.184.216.34", "10.0.0.7"], "10.0.0.7, which is not a public address (private)"),
        (["169.254.169.254"], "(link-local)"),
        (["2606:2800:220:1::1", "::1"], "::1, which is not a public address (loopback)"),
        (["fe80::1%eth0"], "(link-local)"),
        (["::ffff:127.0.0.1"], "(loopback)"),
        (["2002:a00:1::1"], "(private, embedding 10.0.0.1 as 6to4)"),
        (["2606:2800:220:1::1", "2002:7f00:1::"], "(loopback, embedding 127.0.0.1 as 6to4)"),
        (["64:ff9b::a9fe:a9fe"], "(link-local, embedding 169.254.169.254 as NAT64)"),
        (["2001:0:a00:1::f7f7:f7f7"], "(private, embedding 10.0.0.1 as Teredo server)"),
        (["2001:0:808:808::f5ff:fffe"], "(private, embedding 10.0.0.1 as Teredo client)"),
        (["::127.0.0.1"], "(loopback, embedding 127.0.0.1 as IPv4-compatible address)"),
    ],
)
async def test_a_host_resolving_to_any_non_public_address_is_refused_unsent(addresses, shown):
    receiver = Receiver()
    calls: list = []
    sender = WebhookSender(timeout_s=2, client=receiver.client(), resolver=resolver_of(*addresses, calls=calls))
    result = await send(sender)
    assert calls == [("hooks.example.org", 443)]
    assert receiver.requests == []
    assert result.http_status is None and result.permanent
    assert result.error.startswith("refused: hooks.example.org resolves to ") and shown in result.error
    assert outcome_of(result, 1, 8) == "failed"  # no retries


async def test_a_host_resolving_to_public_addresses_only_is_sent_to():
    receiver = Receiver()
    calls: list = []
    sender = WebhookSender(timeout_s=2, client=receiver.client(), resolver=resolver_of("93.184.216.34", calls=calls))
    result = await send(sender, "http://hooks.example.org:8080/iid")
    assert calls == [("hooks.example.org", 8080)]
    assert len(receiver.requests) == 1 and result.http_status == 200 and not result.permanent


@pytest.mark.parametrize(
    "url, address, sent_to, host",
    [
        ("https://hooks.example.org/iid?x=1", PUBLIC, f"https://{PUBLIC}/iid?x=1", "hooks.example.org"),
        ("http://hooks.example.org:8080/iid", PUBLIC, f"http://{PUBLIC}:8080/iid", "hooks.example.org:8080"),
        ("https://hooks.example.org/iid", PUBLIC_V6, f"https://[{PUBLIC_V6}]/iid", "hooks.example.org"),
        ("https://Bücher.example/iid", PUBLIC, f"https://{PUBLIC}/iid", "xn--bcher-kva.example"),
    ],
)
async def test_the_request_goes_to_the_checked_address_in_the_host_s_name(url, address, sent_to, host):
    receiver = Receiver()
    calls: list = []
    sender = WebhookSender(timeout_s=2, client=receiver.client(), resolver=resolver_of(address, calls=calls))
    result = await send(sender, url)
    assert result.http_status == 200 and [host_name for host_name, _ in calls] == [host.split(":")[0]]
    [request] = receiver.requests
    assert str(request.url) == sent_to  # httpx has nothing left to resolve
    assert request.headers["Host"] == host
    assert request.extensions["sni_hostname"] == host.split(":")[0]  # TLS checks the name
    assert request.headers["X-Inovasi-Signature"] == "sha256=test"


async def test_every_attempt_resolves_once_and_connects_where_that_answer_said():
    answers = iter([["93.184.216.34"], ["93.184.216.35"], ["10.0.0.7"]])
    calls: list = []

    async def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers)

    receiver = Receiver()
    sender = WebhookSender(timeout_s=2, client=receiver.client(), resolver=rebinding)
    try:
        results = [await sender.send(URL, b"{}", {}) for _ in range(3)]
    finally:
        await sender.aclose()
    assert calls == ["hooks.example.org"] * 3
    assert [request.url.host for request in receiver.requests] == ["93.184.216.34", "93.184.216.35"]
    assert [result.http_status for result in results] == [200, 200, None] and results[2].permanent


async def test_an_unreachable_address_falls_back_to_the_next_checked_one():
    receiver = Receiver(unreachable=("2606:2800:220:1::1",))
    resolver = resolver_of("2606:2800:220:1::1", "93.184.216.34", "2606:2800:220:1::1")
    result = await send(WebhookSender(timeout_s=2, client=receiver.client(), resolver=resolver))
    assert result.http_status == 200 and [request.url.host for request in receiver.requests] == ["93.184.216.34"]
    nowhere = Receiver(unreachable=("93.184.216.34",))
    failed = await send(WebhookSender(timeout_s=2, client=nowhere.client(), resolver=resolver_of("93.184.216.34")))
    assert failed.http_status is None and not failed.permanent
    assert failed.error == "ConnectError: [Errno 101] Network is unreachable"


async def test_a_failure_after_connecting_is_not_sent_again_to_another_address():
    sent_to: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent_to.append(request.url.host)
        raise httpx.ReadError("connection reset", request=request)  # the body may have arrived

    client = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    sender = WebhookSender(timeout_s=2, client=client, resolver=resolver_of("93.184.216.34", "93.184.216.35"))
    result = await send(sender)
    assert sent_to == ["93.184.216.34"] and result.error == "ReadError: connection reset"


async def test_the_real_resolver_refuses_localhost():
    receiver = Receiver()
    sender = WebhookSender(timeout_s=2, client=receiver.client())
    result = await send(sender, "http://localhost:8080/hook")
    assert result.permanent and "localhost resolves to" in result.error and "(loopback)" in result.error
    literal = await send(WebhookSender(timeout_s=2, client=receiver.client()), "http://[::1]:8080/hook")
    assert literal.permanent and literal.error.startswith("refused: ::1 is not a public address (loopback)")
    assert receiver.requests == []
    assert "127.0.0.1" in await resolve("127.0.0.1", 80)


async def test_allowed_private_targets_are_resolved_and_sent_to_unchecked():
    receiver = Receiver()
    calls: list = []
    sender = WebhookSender(
        timeout_s=2, allow_private_targets=True, client=receiver.client(), resolver=resolver_of("10.0.0.7", calls=calls)
    )
    result = await send(sender, "http://hooks.internal.example/hook")
    assert calls == [("hooks.internal.example", 80)] and result.http_status == 200
    [request] = receiver.requests
    assert request.url.host == "10.0.0.7" and request.headers["Host"] == "hooks.internal.example"


async def test_a_host_that_does_not_resolve_is_retried():
    async def failing(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    receiver = Receiver()
    result = await send(WebhookSender(timeout_s=2, client=receiver.client(), resolver=failing))
    assert result.http_status is None and not result.permanent
    assert result.error.startswith("cannot resolve the host") and outcome_of(result, 1, 8) == "retry"
    assert receiver.requests == []


async def test_the_excerpt_is_storable_text_and_capped():
    def sender_to(receiver: Receiver) -> WebhookSender:
        return WebhookSender(timeout_s=2, client=receiver.client(), resolver=resolver_of("93.184.216.34"))

    receiver = Receiver(200, b"ok\x00binary")
    assert (await send(sender_to(receiver))).response_excerpt == "okbinary"
    big = Receiver(500, b"\x00" + b"x" * 5000)
    result = await send(sender_to(big))
    assert result.response_excerpt == "x" * (EXCERPT_BYTES - 1)
    only_nul = Receiver(500, b"\x00\x00")
    result = await send(sender_to(only_nul))
    assert result.response_excerpt is None
    binary = Receiver(200, bytes(range(256)))
    result = await send(sender_to(binary))
    excerpt = result.response_excerpt
    assert "\x00" not in excerpt
    excerpt.encode("utf-8")
