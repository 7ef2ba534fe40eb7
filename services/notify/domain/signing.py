"""Webhook signatures: HMAC-SHA256 over the timestamp and the exact body.

Recipe (what a receiver checks):

    signed   = X-Inovasi-Timestamp + "." + raw request body        (bytes)
    expected = "sha256=" + hex(HMAC-SHA256(key = subscription secret as UTF-8, signed))
    valid    = constant-time compare(expected, X-Inovasi-Signature)
               and |now - timestamp| <= tolerance (default 5 minutes)

The timestamp is signed so that a captured request cannot be replayed later; each
attempt of a delivery is signed afresh with its own timestamp. Pure functions: a
receiver written in Python can import `verify_signature` as it is.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Inovasi-Signature"
TIMESTAMP_HEADER = "X-Inovasi-Timestamp"
EVENT_ID_HEADER = "X-Inovasi-Event-Id"
KIND_HEADER = "X-Inovasi-Kind"
DELIVERY_HEADER = "X-Inovasi-Delivery"
SCHEME = "sha256"
DEFAULT_TOLERANCE_S = 300


def signed_message(timestamp: int | str, body: bytes) -> bytes:
    return str(timestamp).encode("ascii") + b"." + body


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Inovasi-Signature value for `body` sent at `timestamp` (Unix seconds)."""
    digest = hmac.new(secret.encode("utf-8"), signed_message(timestamp, body), hashlib.sha256)
    return f"{SCHEME}={digest.hexdigest()}"


def verify_signature(
    secret: str,
    body: bytes,
    *,
    timestamp: str | int | None,
    signature: str | None,
    now: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> bool:
    """True when `signature` (the X-Inovasi-Signature header) is the signature of `body`
    with `timestamp` (the X-Inovasi-Timestamp header) and `secret`, and the timestamp is
    within `tolerance_s` of `now` (Unix seconds). Never raises on malformed headers."""
    if timestamp is None or signature is None:
        return False
    text = str(timestamp).strip()
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        return False
    if abs(now - int(text)) > tolerance_s:
        return False
    expected = sign(secret, int(text), body)
    return hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("utf-8", "replace"))
