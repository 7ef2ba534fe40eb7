"""Dead-letter streams: `<stream>.dlq` holds entries a consumer group gave up on.

A dead letter is the original entry's fields plus `dlq_*` metadata. Replay re-adds the
original fields to the original stream (every group sees it again; groups that had handled
it skip it through their inbox, keyed on the envelope's event_id) and deletes the dead
letter. Both moves are one MULTI, so an entry is never in neither place. Under Redis Cluster
that needs the stream and its DLQ in one slot: hash-tag the stream prefix ("{t1}.").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

from services.common.events import StreamEntry, dlq_of

if TYPE_CHECKING:
    from redis.asyncio import Redis

META_PREFIX = "dlq_"
ALL = "all"
_PAGE = 500


@dataclass(frozen=True)
class DeadLetter:
    entry_id: str  # id in the DLQ stream; what `dlq_replay` takes
    original_id: str
    group: str
    deliveries: int
    reason: str
    dead_at: str
    event_type: str | None
    event_id: str | None
    fields: dict[str, str] = field(repr=False)  # the original entry's fields, for display


def _s(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _original_fields(fields: Mapping[bytes, bytes]) -> dict[bytes, bytes]:
    return {k: v for k, v in fields.items() if not _s(k).startswith(META_PREFIX)}


async def dead_letter(
    redis: Redis,
    stream: str,
    entry_id: str,
    fields: Mapping[bytes, bytes] | Mapping[str, str],
    *,
    group: str,
    deliveries: int,
    reason: str,
    consumer: str = "",
    maxlen: int | None = 100_000,
) -> str:
    """Move a pending entry of `group` to `<stream>.dlq`: XADD there and XACK here, atomically.

    `stream` is the full Redis key (prefix included). Returns the dead letter's id.
    """
    meta = {
        f"{META_PREFIX}reason": reason[:2000],
        f"{META_PREFIX}original_id": entry_id,
        f"{META_PREFIX}group": group,
        f"{META_PREFIX}deliveries": str(deliveries),
        f"{META_PREFIX}consumer": consumer,
        f"{META_PREFIX}at": datetime.now(UTC).isoformat(),
    }
    async with redis.pipeline(transaction=True) as pipe:
        pipe.xadd(dlq_of(stream), {**fields, **meta}, maxlen=maxlen, approximate=True)  # type: ignore[dict-item]
        pipe.xack(stream, group, entry_id)
        dead_id, _ = await pipe.execute()
    return _s(dead_id)


async def dlq_list(redis: Redis, stream: str, *, count: int | None = None) -> list[DeadLetter]:
    """Dead letters of `stream` (full Redis key), oldest first."""
    entries = cast(list[StreamEntry], await redis.xrange(dlq_of(stream), count=count))
    return [_dead_letter(entry_id, fields) for entry_id, fields in entries]


def _dead_letter(entry_id: bytes | str, fields: Mapping[bytes, bytes]) -> DeadLetter:
    text = {_s(k): _s(v) for k, v in fields.items()}
    return DeadLetter(
        entry_id=_s(entry_id),
        original_id=text.get(f"{META_PREFIX}original_id", ""),
        group=text.get(f"{META_PREFIX}group", ""),
        deliveries=int(text.get(f"{META_PREFIX}deliveries", "0") or 0),
        reason=text.get(f"{META_PREFIX}reason", ""),
        dead_at=text.get(f"{META_PREFIX}at", ""),
        event_type=text.get("type"),
        event_id=text.get("event_id"),
        fields={k: v for k, v in text.items() if not k.startswith(META_PREFIX)},
    )


async def dlq_replay(redis: Redis, stream: str, entry_id: str) -> list[str]:
    """Re-add dead letter `entry_id` (or every one, with "all") to `stream` and delete it
    from the DLQ. Returns the new entry ids in `stream`. LookupError if the id is unknown."""
    dlq = dlq_of(stream)
    replayed: list[str] = []
    start = "-"
    while True:
        if entry_id == ALL:
            entries = cast(list[StreamEntry], await redis.xrange(dlq, min=start, count=_PAGE))
        else:
            entries = cast(list[StreamEntry], await redis.xrange(dlq, min=entry_id, max=entry_id))
            if not entries:
                raise LookupError(f"no dead letter {entry_id} in {dlq}")
        for dead_id, fields in entries:
            original = _original_fields(fields)
            async with redis.pipeline(transaction=True) as pipe:
                pipe.xadd(stream, original)  # type: ignore[arg-type]
                pipe.xdel(dlq, dead_id)
                new_id, _ = await pipe.execute()
            replayed.append(_s(new_id))
        if entry_id != ALL or len(entries) < _PAGE:
            return replayed
        start = "(" + _s(entries[-1][0])  # exclusive start of the next page
