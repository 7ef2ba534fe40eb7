"""Consumer-side deduplication: at-least-once delivery, exactly-once effect.

Call `first_delivery` inside the transaction that applies the event's effects; the id and
the effects commit or roll back together. Uses the unqualified `inbox` table, i.e. the
connection's search_path (see `db.create_pool(schema=...)`).
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from services.common.db import Connection


async def first_delivery(conn: Connection, consumer: str, event_id: UUID | str) -> bool:
    """Record that `consumer` handles `event_id`; False if it already did (skip the effects).

    A concurrent transaction recording the same id makes this wait for its outcome, so two
    deliveries of one event never both see True.
    """
    if not conn.is_in_transaction():
        raise RuntimeError("first_delivery must run in the transaction of the event's effects")
    status = await conn.execute(
        "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        consumer,
        event_id if isinstance(event_id, UUID) else UUID(event_id),
    )
    return status == "INSERT 0 1"


async def first_deliveries(conn: Connection, consumer: str, event_ids: Iterable[UUID | str]) -> set[UUID]:
    """Record that `consumer` handles each of `event_ids`, in one statement; return those it
    had not handled before (an id given twice counts once). Same guarantees as
    `first_delivery`; the ids are inserted in sorted order, so two transactions recording
    overlapping sets wait for each other instead of deadlocking."""
    if not conn.is_in_transaction():
        raise RuntimeError("first_deliveries must run in the transaction of the events' effects")
    ids = sorted({event_id if isinstance(event_id, UUID) else UUID(event_id) for event_id in event_ids})
    if not ids:
        return set()
    rows = await conn.fetch(
        """INSERT INTO inbox (consumer, event_id)
           SELECT $1, event_id FROM unnest($2::uuid[]) AS event_id ORDER BY event_id
           ON CONFLICT DO NOTHING RETURNING event_id""",
        consumer,
        ids,
    )
    return {row["event_id"] for row in rows}
