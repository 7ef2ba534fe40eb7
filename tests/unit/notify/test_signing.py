"""Webhook signatures: what the sender signs, a receiver verifies, and nothing else."""

from __future__ import annotations

import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from services.notify.domain.signing import sign, verify_signature

SECRET = "whsec_test-secret"
NOW = 1_790_000_000


def test_signature_is_hmac_sha256_of_timestamp_dot_body():
    body = b'{"kind":"score.updated"}'
    expected = hmac.new(SECRET.encode(), b"1790000000." + body, hashlib.sha256).hexdigest()
    assert sign(SECRET, NOW, body) == f"sha256={expected}"


@given(body=st.binary(max_size=2000), secret=st.text(min_size=1, max_size=64))
def test_a_signed_body_verifies(body, secret):
    assert verify_signature(secret, body, timestamp=str(NOW), signature=sign(secret, NOW, body), now=NOW)


@given(body=st.binary(min_size=1, max_size=500), position=st.integers(min_value=0), flip=st.integers(1, 255))
def test_any_changed_byte_fails(body, position, flip):
    signature = sign(SECRET, NOW, body)
    index = position % len(body)
    tampered = body[:index] + bytes([body[index] ^ flip]) + body[index + 1 :]
    assert not verify_signature(SECRET, tampered, timestamp=NOW, signature=signature, now=NOW)


def test_wrong_secret_timestamp_or_malformed_headers_fail():
    body = b"{}"
    signature = sign(SECRET, NOW, body)
    assert not verify_signature("other", body, timestamp=NOW, signature=signature, now=NOW)
    # the timestamp is signed: moving it breaks the signature
    assert not verify_signature(SECRET, body, timestamp=NOW + 1, signature=signature, now=NOW)
    for timestamp, sig in [
        (None, signature), (NOW, None), ("", signature), ("soon", signature), ("-5", signature),
        ("١٧٩٠٠٠٠٠٠٠", signature),  # non-ASCII digits
        (NOW, signature.removeprefix("sha256=")), (NOW, "sha256=" + "0" * 64), (NOW, "sha256=é"),
    ]:
        assert not verify_signature(SECRET, body, timestamp=timestamp, signature=sig, now=NOW)


def test_old_or_future_timestamps_are_refused():
    body = b"{}"
    old = NOW - 301
    assert not verify_signature(SECRET, body, timestamp=old, signature=sign(SECRET, old, body), now=NOW)
    future = NOW + 301
    assert not verify_signature(SECRET, body, timestamp=future, signature=sign(SECRET, future, body), now=NOW)
    recent = NOW - 299
    assert verify_signature(SECRET, body, timestamp=recent, signature=sign(SECRET, recent, body), now=NOW)
    assert verify_signature(SECRET, body, timestamp=old, signature=sign(SECRET, old, body), now=NOW, tolerance_s=3600)
