"""The webhook sender against real receivers on the loopback interface: the connection goes
to the address the sender's resolver answered and checked — nothing resolves the host name
again — while the Host header and TLS (SNI, certificate) keep the host name."""

from __future__ import annotations

import datetime
import socket
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from services.notify.adapters import webhook_sender
from services.notify.adapters.webhook_sender import WebhookSender
from services.notify.domain.retry import AttemptResult
from tests.integration.notify.receiver import WebhookReceiver

pytestmark = pytest.mark.integration
HOST = "hooks.inovasi.test"  # .test never resolves (RFC 6761): only the sender's resolver knows it
OTHER_HOST = "other.inovasi.test"
INTERNAL = "127.0.0.2"  # stands for an internal service; also loopback, so nothing else listens there


def resolver_of(*answers: list[str], calls: list[str] | None = None) -> webhook_sender.Resolver:
    """Gives the answers in turn (the last one repeating), noting each host asked for."""
    remaining = list(answers)

    async def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        return remaining.pop(0) if len(remaining) > 1 else remaining[0]

    return resolve


async def post(sender: WebhookSender, url: str) -> AttemptResult:
    return await sender.send(url, b'{"kind": "test"}', {"Content-Type": "application/json"})


def headers_of(receiver: WebhookReceiver) -> list[dict[str, str]]:
    return [{name.lower(): value for name, value in request.headers.items()} for request in receiver.received()]


async def test_the_request_reaches_the_resolved_address_under_the_host_name():
    calls: list[str] = []
    with WebhookReceiver([200]) as receiver:
        url = f"http://{HOST}:{receiver.port}/hooks/iid?token=abc"
        resolver = resolver_of(["127.0.0.1"], calls=calls)
        sender = WebhookSender(timeout_s=2, allow_private_targets=True, resolver=resolver)
        try:
            result = await post(sender, url)
        finally:
            await sender.aclose()
        assert result.http_status == 200, result.error
        assert calls == [HOST]
        [request] = receiver.received()
        assert request.path == "/hooks/iid?token=abc" and request.body == b'{"kind": "test"}'
        assert headers_of(receiver)[0]["host"] == f"{HOST}:{receiver.port}"


async def test_a_dns_answer_that_changes_after_the_check_cannot_redirect_the_request(monkeypatch):
    # 127.0.0.1 plays a public receiver; INTERNAL stays what it is (loopback, refused).
    checked = webhook_sender.non_public_kind
    monkeypatch.setattr(
        webhook_sender, "non_public_kind", lambda address: None if str(address) == "127.0.0.1" else checked(address)
    )
    # Whatever else resolves the name (httpx, anyio, the system) gets the rebound answer.
    system_getaddrinfo = socket.getaddrinfo

    def rebound_getaddrinfo(host, *args, **kwargs):
        return system_getaddrinfo(INTERNAL if host in (HOST, HOST.encode()) else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebound_getaddrinfo)
    calls: list[str] = []
    with WebhookReceiver([200]) as public, WebhookReceiver([200], host=INTERNAL, port=public.port) as internal:
        url = f"http://{HOST}:{public.port}/hooks/iid"
        sender = WebhookSender(timeout_s=2, resolver=resolver_of(["127.0.0.1"], [INTERNAL], calls=calls))
        try:
            first = await post(sender, url)
            assert first.http_status == 200, first.error
            assert calls == [HOST]  # resolved once for the attempt, and connected there
            assert len(public.received()) == 1 and internal.received() == []
            second = await post(sender, url)  # the rebound answer is checked before anything is sent
        finally:
            await sender.aclose()
        assert calls == [HOST, HOST]
        assert second.permanent and second.error.startswith(f"refused: {HOST} resolves to {INTERNAL}")
        assert len(public.received()) == 1 and internal.received() == []


async def test_an_address_that_refuses_the_connection_falls_back_to_the_next_one():
    with WebhookReceiver([200]) as receiver:
        url = f"http://{HOST}:{receiver.port}/hooks/iid"
        sender = WebhookSender(timeout_s=2, allow_private_targets=True, resolver=resolver_of([INTERNAL, "127.0.0.1"]))
        try:
            result = await post(sender, url)
        finally:
            await sender.aclose()
        assert result.http_status == 200, result.error
        assert len(receiver.received()) == 1


async def test_cookies_from_one_receiver_are_not_sent_to_another_at_the_same_address():
    cookie = {"Set-Cookie": "session=first-receiver; Path=/"}
    with WebhookReceiver([200], answer_headers=cookie, keep_alive=True) as receiver:
        sender = WebhookSender(timeout_s=2, allow_private_targets=True, resolver=resolver_of(["127.0.0.1"]))
        try:
            for host in (HOST, OTHER_HOST, HOST):
                result = await post(sender, f"http://{host}:{receiver.port}/hooks/iid")
                assert result.http_status == 200, result.error
        finally:
            await sender.aclose()
        assert [headers.get("cookie") for headers in headers_of(receiver)] == [None, None, None]


# --- TLS ----------------------------------------------------------------------------------


def issue_certificate(tmp_path: Path, host: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A test certificate authority and a certificate for `host` alone: (the receiver's
    server context, a client context trusting that authority)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "inovasi test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "receiver.crt", tmp_path / "receiver.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cadata=ca_cert.public_bytes(serialization.Encoding.PEM).decode("ascii"))
    return server, client


async def test_tls_is_checked_against_the_host_name_not_the_address(tmp_path):
    server_tls, client_tls = issue_certificate(tmp_path, HOST)
    server_names: list[str | None] = []
    server_tls.sni_callback = lambda connection, name, context: server_names.append(name)
    with WebhookReceiver([200], tls=server_tls, keep_alive=True) as receiver:
        sender = WebhookSender(
            timeout_s=2, allow_private_targets=True, verify=client_tls, resolver=resolver_of(["127.0.0.1"])
        )
        try:
            delivered = await post(sender, f"https://{HOST}:{receiver.port}/hooks/iid")
            # Same address, but the certificate is not for this name: refused before sending,
            # although the receiver would keep the connection just verified for HOST open.
            mismatch = await post(sender, f"https://{OTHER_HOST}:{receiver.port}/hooks/iid")
        finally:
            await sender.aclose()
        assert delivered.http_status == 200, delivered.error
        assert server_names[0] == HOST
        assert headers_of(receiver)[0]["host"] == f"{HOST}:{receiver.port}"
        assert mismatch.http_status is None and not mismatch.permanent
        assert "CERTIFICATE_VERIFY_FAILED" in mismatch.error and OTHER_HOST in mismatch.error
        assert len(receiver.received()) == 1
