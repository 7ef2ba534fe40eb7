"""Consumer-side deduplication: at-least-once delivery, exactly-once effect.

Call `first_delivery` inside the transaction that applies the event's effects; the id and
the effects commit or roll back together. Uses the unqualified `inbox` table, i.e. the
connection's search_path (see `db.create_pool(schema=...)`).
"""

from __future__ import annotations

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
