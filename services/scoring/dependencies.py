"""What scoring's handlers need, typed: built once by `app.py` when the service starts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
from redis.asyncio import Redis


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ScoringDeps:
    pool: asyncpg.Pool
    redis: Redis  # the live feed reads `scoring.events` from it
    scoring_stream: str  # the Redis key of `scoring.events` in this deployment
    clock: Callable[[], datetime] = utcnow
