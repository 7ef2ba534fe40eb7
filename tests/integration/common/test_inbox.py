"""Inbox deduplication against the real PostgreSQL."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from services.common.ids import uuid7
from services.common.inbox import first_delivery

pytestmark = pytest.mark.integration


async def test_second_delivery_is_recognised_per_consumer(pool: asyncpg.Pool) -> None:
    event_id = uuid7()
    async with pool.acquire() as conn:
        async with conn.transaction():
            assert await first_delivery(conn, "scoring", event_id) is True
        async with conn.transaction():
            assert await first_delivery(conn, "scoring", event_id) is False
            assert await first_delivery(conn, "notify", str(event_id)) is True  # other consumer


async def test_a_rolled_back_handling_does_not_count(pool: asyncpg.Pool) -> None:
    event_id = uuid7()
    async with pool.acquire() as conn:
        with pytest.raises(ZeroDivisionError):
            async with conn.transaction():
                assert await first_delivery(conn, "scoring", event_id) is True
                raise ZeroDivisionError  # the handler fails after the inbox insert
        async with conn.transaction():
            assert await first_delivery(conn, "scoring", event_id) is True
        assert await conn.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", event_id) == 1


async def test_concurrent_deliveries_of_one_event_apply_once(pool: asyncpg.Pool) -> None:
    event_id = uuid7()
    async with pool.acquire() as first, pool.acquire() as second:
        tx = first.transaction()
        await tx.start()
        assert await first_delivery(first, "scoring", event_id) is True

        async def other() -> bool:
            async with second.transaction():
                return await first_delivery(second, "scoring", event_id)

        waiting = asyncio.create_task(other())
        await asyncio.sleep(0.2)
        assert not waiting.done()  # blocked on the uncommitted row, not guessing
        await tx.commit()
        assert await asyncio.wait_for(waiting, 5) is False


async def test_first_delivery_requires_a_transaction(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="transaction"):
            await first_delivery(conn, "scoring", uuid7())
