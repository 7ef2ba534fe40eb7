"""What intake's handlers need, typed: built once by `app.py` when the service starts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import asyncpg

from services.common.lru import LruCache
from services.common.tokens import UploadGrants
from services.intake.adapters.grouped_writes import GroupedWrites

if TYPE_CHECKING:
    from services.intake.handlers.shared import Loaded

# Innovations this process wrote last, kept to decide the next change without reading them
# again (see handlers.innovations._change). A few KiB each, more with long profile texts.
RECENT_INNOVATIONS = 2048


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class IntakeDeps:
    pool: asyncpg.Pool
    writes: GroupedWrites  # answer and status changes of concurrent requests, written together
    wake_relay: Callable[[], None]  # after a commit that enqueued events: publish them soon
    grants: UploadGrants  # the upload grant that goes with each innovation
    clock: Callable[[], datetime] = utcnow
    # (cycle, innovation id) -> the innovation as this process last wrote it, with its cycle.
    recent: LruCache[tuple[int, str], Loaded] = field(default_factory=lambda: LruCache(RECENT_INNOVATIONS))
