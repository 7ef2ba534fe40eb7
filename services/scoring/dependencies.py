"""What scoring's handlers need, typed: built once by `app.py` when the service starts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import asyncpg

from services.common.fanout import StreamHub


@dataclass(frozen=True)
class ScoringDeps:
    pool: asyncpg.Pool
    # `scoring.events` of this deployment, read once per process for every live feed client
    score_events: StreamHub
    group: str = "scoring"  # the consumer group whose inbox says which events were applied
    after_event_max_wait_s: float = 5.0
    # Set when the service begins to shut down: long-lived responses (the live feed) end.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
