"""Ids: time-ordered event ids (UUIDv7), and the correlation id of the request or event being
handled, carried in a context variable so that logs and the events it causes share it without
passing it around. Pure: no I/O, no imports from the rest of the project."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from uuid import UUID

_uuid7_lock = threading.Lock()
_uuid7_last_ms = 0
_uuid7_counter = 0


def uuid7() -> UUID:
    """A UUIDv7 (RFC 9562): 48-bit Unix ms timestamp, 12-bit counter, 62 random bits.

    The counter (RFC 9562 method 1) keeps ids generated in one process strictly increasing
    even within one millisecond or if the clock steps back, so they sort in creation order.
    """
    global _uuid7_last_ms, _uuid7_counter
    with _uuid7_lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms > _uuid7_last_ms:
            _uuid7_last_ms = now_ms
            # Random start in the lower half leaves room to count up within the ms.
            _uuid7_counter = secrets.randbits(11)
        else:
            _uuid7_counter += 1
            if _uuid7_counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                _uuid7_last_ms += 1
                _uuid7_counter = 0
        ms, counter = _uuid7_last_ms, _uuid7_counter
    value = (ms << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | secrets.randbits(62)
    return UUID(int=value)


# Read by `events.Envelope` as the default correlation id of events created while handling
# a request or an event.
_correlation_id: ContextVar[str | None] = ContextVar("inovasi_correlation_id", default=None)


def current_correlation_id() -> str | None:
    return _correlation_id.get()


@contextmanager
def correlation_scope(correlation_id: str) -> Iterator[None]:
    """Make `correlation_id` the current one until the block ends."""
    token = _correlation_id.set(correlation_id)
    try:
        yield
    finally:
        _correlation_id.reset(token)
