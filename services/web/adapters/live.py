"""The score events of `scoring.events`, read as the live dashboard needs them.

Why the web service reads the stream itself rather than proxying scoring's SSE feed
(`GET /scoring/v1/cycles/{year}/stream`): under `inovasi up` the pages call the APIs in the
same process through `httpx.ASGITransport`, which collects a whole response before it
returns it — an endless event stream never comes back. Proxying over real HTTP would work
only when the web app runs alone, and would hold one upstream connection per open dashboard
with a person token that expires after five minutes. The stream's events are the platform's
public contract (`services/common/events.py`, AsyncAPI), read group-less exactly as
scoring's own feed reads them (`services/common/bus.py` `read_events`), so the dashboard gets
the same `score.updated` / `ranking.changed` events with the same entry ids (Last-Event-ID
resumes) in both deployments. Who may follow a region is checked by the web handler with
the same rule as the pages (`Principal.can_read_region`); the first score a feed sends is
read through the score API as the person.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.common.bus import read_events, stream_position
from services.common.errors import Unavailable
from services.common.events import BaseEnvelope

BLOCK_MS = 5_000  # below the Redis client's socket timeout (10 s): a quiet stream answers in time

Batch = tuple[str, list[tuple[str, BaseEnvelope]]]


class ScoreEvents:
    """`scoring.events` of this deployment (its key carries INOVASI_STREAM_PREFIX); reads end
    once the service begins to stop, so an open dashboard never holds up a shutdown."""

    def __init__(self, redis: Redis, stream: str, stopping: asyncio.Event) -> None:
        self._redis = redis
        self._stream = stream
        self._stopping = stopping

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def position(self) -> str:
        """The newest entry's id: a feed that starts here misses nothing published later."""
        try:
            return await stream_position(self._redis, self._stream)
        except (RedisError, OSError, TimeoutError):
            raise Unavailable(reason="the score event stream is unreachable; retry shortly") from None

    async def read(self, after: str, block_ms: int = BLOCK_MS) -> Batch | None:
        """The events after `after` (waiting up to `block_ms` for some), and the position to
        read from next; None once the service begins to stop; Unavailable while Redis does not
        answer."""
        read = asyncio.ensure_future(read_events(self._redis, self._stream, after, block_ms=block_ms))
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({read, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:  # also when the browser left (this task cancelled)
            stopping.cancel()
            abandoned = not read.done()
            if abandoned:
                # Not awaited: a blocking XREAD may finish the read it is in (up to block_ms).
                read.cancel()
                read.add_done_callback(_discard_outcome)
        if abandoned:
            return None
        try:
            return read.result()
        except (RedisError, OSError, TimeoutError):
            raise Unavailable(reason="the score event stream is unreachable; retry shortly") from None


def _discard_outcome(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()
