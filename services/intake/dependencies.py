"""What intake's handlers need, typed: built once by `app.py` when the service starts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from services.common.tokens import UploadGrants


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class IntakeDeps:
    pool: asyncpg.Pool
    wake_relay: Callable[[], None]  # after a commit that enqueued events: publish them soon
    grants: UploadGrants  # the upload grant that goes with each innovation
    clock: Callable[[], datetime] = utcnow
