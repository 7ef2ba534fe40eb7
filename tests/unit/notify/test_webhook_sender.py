"""The sender: which targets it refuses before connecting, and what it keeps of an answer."""

from __future__ import annotations

import socket

import httpx
import pytest

from services.notify.adapters.webhook_sender import EXCERPT_BYTES, WebhookSender, resolve
from services.notify.domain.retry import outcome_of

URL = "https://hooks.example.org/iid"


class Receiver:
    """An httpx transport standing in for the receiver; counts the requests it got."""

    def __init__(self, status: int = 200, content: bytes = b"ok") -> None:
        self.status, self.content, self.requests = status, content, []

    def client(self) -> httpx.AsyncClient:
        def handle(request: httpx.Request) -> httpx.Response:
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
        return await sender.send(url, b"{}", {"Content-Type": "application/json"})
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


async def test_the_real_resolver_refuses_localhost():
    receiver = Receiver()
    sender = WebhookSender(timeout_s=2, client=receiver.client())
    result = await send(sender, "http://localhost:8080/hook")
    assert result.permanent and "localhost resolves to" in result.error and "(loopback)" in result.error
    literal = await send(WebhookSender(timeout_s=2, client=receiver.client()), "http://[::1]:8080/hook")
    assert literal.permanent and literal.error.startswith("refused: ::1 is not a public address (loopback)")
    assert receiver.requests == []
    assert "127.0.0.1" in await resolve("127.0.0.1", 80)


async def test_allowed_private_targets_are_not_resolved_first():
    receiver = Receiver()
    calls: list = []
    sender = WebhookSender(
        timeout_s=2, allow_private_targets=True, client=receiver.client(), resolver=resolver_of("10.0.0.7", calls=calls)
    )
    result = await send(sender, "http://10.0.0.7/hook")
    assert calls == [] and len(receiver.requests) == 1 and result.http_status == 200


async def test_a_host_that_does_not_resolve_is_retried():
    async def failing(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    receiver = Receiver()
    result = await send(WebhookSender(timeout_s=2, client=receiver.client(), resolver=failing))
    assert result.http_status is None and not result.permanent
    assert result.error.startswith("cannot resolve the host") and outcome_of(result, 1, 8) == "retry"
    assert receiver.requests == []


async def test_the_excerpt_is_storable_text_and_capped():
    receiver = Receiver(200, b"ok\x00binary")
    sender = WebhookSender(timeout_s=2, allow_private_targets=True, client=receiver.client())
    assert (await send(sender)).response_excerpt == "okbinary"
    big = Receiver(500, b"\x00" + b"x" * 5000)
    result = await send(WebhookSender(timeout_s=2, allow_private_targets=True, client=big.client()))
    assert result.response_excerpt == "x" * (EXCERPT_BYTES - 1)
    only_nul = Receiver(500, b"\x00\x00")
    result = await send(WebhookSender(timeout_s=2, allow_private_targets=True, client=only_nul.client()))
    assert result.response_excerpt is None
    binary = Receiver(200, bytes(range(256)))
    result = await send(WebhookSender(timeout_s=2, allow_private_targets=True, client=binary.client()))
    excerpt = result.response_excerpt
    assert "\x00" not in excerpt
    excerpt.encode("utf-8")
