"""What intake's handlers need, typed: built once by `app.py` when the service starts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class IntakeDeps:
    pool: asyncpg.Pool
    wake_relay: Callable[[], None]  # after a commit that enqueued events: publish them soon
    clock: Callable[[], datetime] = utcnow
