"""Concurrent answer and status changes are written in groups (GroupedWrites): one statement
for many innovations, each change still applied only over the version it was computed from,
under the cycle as it was read, with its event exactly when it applied."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY

from services.common import events as ev
from services.common.db import OUTAGE_ERRORS, create_pool
from services.intake.adapters import store
from services.intake.adapters.grouped_writes import GroupedWrites, NoWriteInTime
from services.intake.domain.innovation import Innovation
from tests.support.infra import free_port

from .helpers import OPERATOR, create_innovation, if_match, register_agency, set_window

pytestmark = pytest.mark.integration


@asynccontextmanager
async def client_pool(settings: Any, size: int = 1) -> AsyncIterator[asyncpg.Pool]:
    """A pool of its own on the running app's (migrated) schema."""
    pool = await create_pool(settings.database_url, settings.schema_of("intake"), min_size=1, max_size=size)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def pool(client: Any, settings: Any) -> AsyncIterator[asyncpg.Pool]:
    async with client_pool(settings, size=2) as pool:
        yield pool


async def innovations(client: Any, count: int) -> list[str]:
    await register_agency(client, "dinkes")
    return [(await create_innovation(client))["id"] for _ in range(count)]


async def change(pool: asyncpg.Pool, innovation_id: str, level: int) -> tuple[Innovation, ev.InnovationUpdated, str]:
    """A new answer to sid-16 of the innovation as stored now, its event and the cycle's revision."""
    async with pool.acquire() as conn:
        found = await store.get_cycle_and_innovation(conn, 2026, innovation_id)
    assert found is not None and found.innovation is not None
    changed = found.innovation.with_answer("sid-16", level)
    assert changed is not None
    event = ev.InnovationUpdated(
        cycle=2026, region=changed.region, subject=changed.id, version=changed.version,
        data=ev.InnovationState(id=changed.id, agency_id=changed.agency_id, name=changed.profile.name,
                                status=changed.status, urusan_utama=changed.profile.urusan_utama,
                                answers=dict(changed.answers)),
    )
    return changed, event, found.cycle_revision


async def stored(pool: asyncpg.Pool) -> dict[str, tuple[int, dict[str, int]]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT id, version, answers FROM innovations")
    return {row["id"]: (row["version"], row["answers"]) for row in rows}


async def queued(pool: asyncpg.Pool, events: list[ev.InnovationUpdated]) -> list[Any]:
    async with pool.acquire() as conn:
        return await conn.fetchval(
            "SELECT array_agg(event_id) FROM outbox WHERE event_id = ANY($1::uuid[])", [e.event_id for e in events]
        ) or []


async def save_all(writes: GroupedWrites, changes: list[tuple[Innovation, Any, str]]) -> list[Any]:
    return await asyncio.gather(
        *(writes.save(innovation, event, cycle_revision=revision) for innovation, event, revision in changes),
        return_exceptions=True,
    )


async def test_concurrent_changes_go_as_one_statement_each_with_its_event(client: Any, pool: asyncpg.Pool) -> None:
    ids = await innovations(client, 12)
    changes = [await change(pool, i, 3) for i in ids]
    writes = GroupedWrites(pool, in_flight=1)
    before = [REGISTRY.get_sample_value(f"inovasi_intake_changes_per_write_{s}") or 0 for s in ("count", "sum")]

    results = await save_all(writes, changes)

    assert writes.groups_written == 1
    after = [REGISTRY.get_sample_value(f"inovasi_intake_changes_per_write_{s}") or 0 for s in ("count", "sum")]
    assert (after[0] - before[0], after[1] - before[1]) == (1, 12)  # what /metrics tells ops
    assert [(r.id, r.version, r.answers["sid-16"]) for r in results] == [(i, 2, 3) for i in ids]
    assert all(r.updated_at is not None for r in results)
    assert {i: v for i, (v, _) in (await stored(pool)).items()} == dict.fromkeys(ids, 2)
    events = [e for _, e, _ in changes]
    assert sorted(map(str, await queued(pool, events))) == sorted(str(e.event_id) for e in events)


async def test_a_stale_change_is_refused_alone_and_queues_no_event(client: Any, pool: asyncpg.Pool) -> None:
    ids = await innovations(client, 3)
    changes = [await change(pool, i, 3) for i in ids]
    # Another writer changes the second innovation after these changes were computed.
    replaced = await client.put(
        f"/v1/cycles/2026/innovations/{ids[1]}/answers/sid-17", json={"level": 1}, headers=if_match(1)
    )
    assert replaced.status_code == 200, replaced.text

    results = await save_all(GroupedWrites(pool), changes)

    assert results[1] is None
    assert results[0].version == results[2].version == 2
    now = await stored(pool)
    assert now[ids[1]] == (2, {"sid-17": 1})  # the other writer's answer, not overwritten
    assert len(await queued(pool, [changes[1][1]])) == 0
    assert len(await queued(pool, [changes[0][1], changes[2][1]])) == 2


@pytest.mark.parametrize("in_flight", [1, 2])
async def test_two_changes_of_one_innovation_go_one_after_the_other_and_only_the_first_applies(
    client: Any, pool: asyncpg.Pool, in_flight: int
) -> None:
    """Never in one group, nor in two groups at once (which would wait on each other's row
    locks): the second meets the first's result."""
    [only] = await innovations(client, 1)
    first, second = await change(pool, only, 3), await change(pool, only, 1)  # both computed from version 1
    writes = GroupedWrites(pool, in_flight=in_flight)

    results = await save_all(writes, [first, second])

    assert writes.groups_written == 2
    assert results[0].answers == {"sid-16": 3} and results[1] is None
    assert (await stored(pool))[only] == (2, {"sid-16": 3})
    assert len(await queued(pool, [first[1], second[1]])) == 1


async def test_a_change_decided_before_the_cycle_was_edited_is_refused(
    app: Any, client: Any, pool: asyncpg.Pool
) -> None:
    ids = await innovations(client, 2)
    changes = [await change(pool, i, 3) for i in ids]
    await set_window(app, open_=True)  # the cycle's row changes: the changes were decided under the old one

    assert await save_all(GroupedWrites(pool), changes) == [None, None]
    assert {v for v, _ in (await stored(pool)).values()} == {1}
    assert len(await queued(pool, [e for _, e, _ in changes])) == 0


async def test_a_change_postgresql_refuses_fails_alone(client: Any, pool: asyncpg.Pool) -> None:
    ids = await innovations(client, 3)
    changes = [await change(pool, i, 3) for i in ids]
    bad, event, revision = changes[1]
    changes[1] = (replace(bad, status="lost"), event, revision)  # the table's CHECK refuses it

    results = await save_all(GroupedWrites(pool), changes)

    assert isinstance(results[1], asyncpg.CheckViolationError)
    assert results[0].version == results[2].version == 2
    assert (await stored(pool))[ids[1]][0] == 1
    assert len(await queued(pool, [e for _, e, _ in changes])) == 2


async def test_after_a_failed_group_the_next_change_is_written(client: Any, pool: asyncpg.Pool) -> None:
    ids = await innovations(client, 2)
    bad, event, revision = await change(pool, ids[0], 3)
    writes = GroupedWrites(pool)
    with pytest.raises(asyncpg.CheckViolationError):
        await writes.save(replace(bad, status="lost"), event, cycle_revision=revision)

    good, event, revision = await change(pool, ids[1], 3)
    written = await writes.save(good, event, cycle_revision=revision)

    assert written is not None and written.version == 2
    assert writes.groups_written == 1


async def test_submitting_in_a_group_sets_submitted_at_once(client: Any, pool: asyncpg.Pool) -> None:
    """`submitted_at` is set by the transition into submitted, and kept by later changes."""
    [only] = await innovations(client, 1)
    answered, event, revision = await change(pool, only, 3)
    submitted = replace(answered, status="submitted")
    writes = GroupedWrites(pool)
    first = await writes.save(submitted, event, cycle_revision=revision)
    assert first is not None and first.submitted_at is not None

    again, event, revision = await change(pool, only, 1)  # a submitted innovation's answer changes
    second = await writes.save(again, event, cycle_revision=revision)

    assert second is not None and second.status == "submitted" and second.submitted_at == first.submitted_at


async def test_a_change_waiting_longer_than_its_limit_fails_and_writes_nothing(client: Any, settings: Any) -> None:
    ids = await innovations(client, 2)
    async with client_pool(settings) as pool:
        first, late = await change(pool, ids[0], 3), await change(pool, ids[1], 3)
        writes = GroupedWrites(pool, in_flight=1, wait_timeout=0.2)
        held = await pool.acquire()  # the first group waits for the pool's only connection
        try:
            writing = asyncio.create_task(writes.save(first[0], first[1], cycle_revision=first[2]))
            await asyncio.sleep(0.05)
            with pytest.raises(NoWriteInTime):
                await writes.save(late[0], late[1], cycle_revision=late[2])
        finally:
            await pool.release(held)
        assert (await writing).version == 2  # taken into a group before the limit: written
        assert (await stored(pool))[ids[1]][0] == 1
        assert len(await queued(pool, [late[1]])) == 0


async def test_with_postgresql_unreachable_every_change_of_the_group_fails_and_nothing_is_written(
    client: Any, pool: asyncpg.Pool, settings: Any
) -> None:
    ids = await innovations(client, 3)
    changes = [await change(pool, i, 3) for i in ids]
    # A pool whose PostgreSQL refuses connections (nothing listens there), as when it is down.
    unreachable = await create_pool(
        f"postgresql://root@127.0.0.1:{free_port()}/postgres", settings.schema_of("intake"), min_size=0, max_size=1
    )
    try:
        results = await save_all(GroupedWrites(unreachable, in_flight=1), changes)
    finally:
        await unreachable.close()

    assert all(isinstance(r, OUTAGE_ERRORS) for r in results), results
    assert {v for v, _ in (await stored(pool)).values()} == {1}
    assert len(await queued(pool, [e for _, e, _ in changes])) == 0


async def test_a_request_gone_before_its_group_went_writes_nothing_one_gone_after_is_written(
    client: Any, settings: Any
) -> None:
    ids = await innovations(client, 2)
    async with client_pool(settings) as pool:
        first, gone = await change(pool, ids[0], 3), await change(pool, ids[1], 3)
        writes = GroupedWrites(pool, in_flight=1)
        held = await pool.acquire()  # the pool's only connection: the first group waits for it
        try:
            writing = asyncio.create_task(writes.save(first[0], first[1], cycle_revision=first[2]))
            await asyncio.sleep(0.05)
            waiting = asyncio.create_task(writes.save(gone[0], gone[1], cycle_revision=gone[2]))
            await asyncio.sleep(0.05)
            writing.cancel()  # its group already went: it is written all the same
            waiting.cancel()
        finally:
            await pool.release(held)
        for task in (writing, waiting):
            with pytest.raises(asyncio.CancelledError):
                await task
        await writes.close()
        assert writes.groups_written == 1
        now = await stored(pool)
        assert (now[ids[0]][0], now[ids[1]][0]) == (2, 1)
        assert len(await queued(pool, [first[1]])) == 1
        assert len(await queued(pool, [gone[1]])) == 0


async def test_two_requests_with_the_same_if_match_one_wins_the_other_is_told_stale(client: Any) -> None:
    [only] = await innovations(client, 1)
    url = f"/v1/cycles/2026/innovations/{only}/answers/sid-16"
    answers = await asyncio.gather(
        client.put(url, json={"level": 3}, headers=if_match(1)),
        client.put(url, json={"level": 1}, headers=if_match(1)),
    )
    assert sorted(a.status_code for a in answers) == [200, 412], [a.text for a in answers]
    winner = next(a for a in answers if a.status_code == 200).json()
    current = (await client.get(f"/v1/cycles/2026/innovations/{only}", headers=OPERATOR)).json()
    assert (current["version"], current["answers"]) == (2, winner["answers"])


async def test_a_change_of_an_innovation_being_written_waits_for_that_write(client: Any, settings: Any) -> None:
    """Not taken into a second group written at the same time (the two would wait on each
    other's row locks): it stays waiting until the first group is done."""
    [only] = await innovations(client, 1)
    async with client_pool(settings) as pool:
        first, second = await change(pool, only, 3), await change(pool, only, 1)
        writes = GroupedWrites(pool, in_flight=2, wait_timeout=0.2)
        held = await pool.acquire()  # the first group waits for the pool's only connection
        try:
            writing = asyncio.create_task(writes.save(first[0], first[1], cycle_revision=first[2]))
            await asyncio.sleep(0.05)
            waiting = asyncio.create_task(writes.save(second[0], second[1], cycle_revision=second[2]))
            await asyncio.sleep(0.4)  # past the wait limit
        finally:
            await pool.release(held)
        assert (await writing).answers == {"sid-16": 3}
        with pytest.raises(NoWriteInTime):  # a free writer was there, but did not take it
            await waiting
